package core

import (
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hand-built BTF for the rules the clang objects cannot reach: several
// candidates, ambiguity, limits, enum widths.

var (
	u8  = &btf.Int{Name: "unsigned char", Size: 1}
	u32 = &btf.Int{Name: "unsigned int", Size: 4}
	s32 = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 = &btf.Int{Name: "unsigned long long", Size: 8}
)

func st(name string, size uint32, ms ...btf.Member) *btf.Struct {
	return &btf.Struct{Name: name, Size: size, Members: ms}
}

func mb(name string, typ btf.Type, bitOff uint32) btf.Member {
	return btf.Member{Name: name, Type: typ, Offset: btf.Bits(bitOff)}
}

// specOf marshals types (and their dependencies) into a spec, keeping
// duplicates: targets with several candidates are the point.
func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	require.NoError(t, err)
	spec, err := b.Spec()
	require.NoError(t, err)
	return spec
}

func targetOf(t *testing.T, types ...btf.Type) *Target {
	t.Helper()
	tg, err := NewTarget(specOf(t, types...))
	require.NoError(t, err)
	return tg
}

// idOf returns the ID of the one type called name.
func idOf(t *testing.T, spec *btf.Spec, name string) btf.TypeID {
	t.Helper()
	return btf.TypeID(typeID(t, spec, name))
}

// movs is a program of n "r0 = imm" instructions and an exit.
func movs(imms ...int64) asm.Instructions {
	var insns asm.Instructions
	for _, imm := range imms {
		insns = append(insns, asm.Mov.Imm(asm.R0, int32(imm)))
	}
	return append(insns, asm.Return())
}

type synthRelo struct {
	name     string // local type
	kind     Kind
	accessor string
}

func TestSynthetic(t *testing.T) {
	foo := st("foo", 8, mb("a", u32, 0), mb("b", u32, 32))
	fooAOnly := st("foo___a", 4, mb("a", u32, 0))
	fooMoved := st("foo___moved", 16, mb("x", u64, 0), mb("b", u32, 64))
	fooSame := st("foo___same", 12, mb("a", u32, 0), mb("b", u32, 32), mb("c", u32, 64))
	fooWide := st("foo___wide", 16, mb("a", u32, 0), mb("b", u64, 32))
	fooStructB := st("foo", 8, mb("a", u32, 0), mb("b", st("inner", 4, mb("v", u32, 0)), 32))

	bits := st("bits", 8, btf.Member{Name: "f", Type: u64, Offset: 0, BitfieldSize: 10})
	bitsFar := st("bits", 16, btf.Member{Name: "f", Type: u64, Offset: 60, BitfieldSize: 10})

	flex := st("flex", 4, mb("n", u32, 0), mb("data", &btf.Array{Index: u32, Type: u32, Nelems: 0}, 32))

	e32 := &btf.Enum{Name: "e", Size: 4, Values: []btf.EnumValue{{Name: "A", Value: 1}}}
	e64 := &btf.Enum{Name: "e", Size: 8, Values: []btf.EnumValue{{Name: "B", Value: 2}, {Name: "A", Value: 0x100000005}}}
	eNeg := &btf.Enum{Name: "e", Size: 4, Values: []btf.EnumValue{{Name: "A", Value: 0xffffffff}}}

	anon := st("", 4, mb("a", u32, 0))
	holder := st("holder", 4, mb("anon", anon, 0))

	cases := []struct {
		name   string
		local  []btf.Type
		target []btf.Type
		relos  []synthRelo
		insns  asm.Instructions
		opts   *Options
		want   []int64 // the constants after relocation
		errno  syscall.Errno
	}{
		{name: "single_candidate", local: []btf.Type{foo}, target: []btf.Type{fooMoved},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:1"}}, insns: movs(4), want: []int64{8}},
		{name: "flavors_agree", local: []btf.Type{foo}, target: []btf.Type{foo, fooSame},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:1"}}, insns: movs(4), want: []int64{4}},
		{name: "field_offset_ambiguity", local: []btf.Type{foo}, target: []btf.Type{foo, fooMoved},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:1"}}, insns: movs(4), errno: syscall.EINVAL},
		{name: "decision_ambiguity", local: []btf.Type{foo}, target: []btf.Type{foo, fooWide},
			relos: []synthRelo{{"foo", FieldByteSize, "0:1"}}, insns: movs(4), errno: syscall.EINVAL},
		{name: "libbpf_narrows_candidates", local: []btf.Type{foo}, target: []btf.Type{fooAOnly, fooMoved},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:0"}, {"foo", FieldByteOffset, "0:1"}},
			insns: movs(0, 4), want: []int64{0, PoisonImm}},
		{name: "kernel_keeps_candidates", local: []btf.Type{foo}, target: []btf.Type{fooAOnly, fooMoved},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:0"}, {"foo", FieldByteOffset, "0:1"}},
			insns: movs(0, 4), opts: &Options{Kernel: true}, want: []int64{0, 8}},
		{name: "kernel_searches_afresh", local: []btf.Type{foo}, target: []btf.Type{foo, fooMoved, fooAOnly},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:0"}, {"foo", FieldByteOffset, "0:1"}},
			insns: movs(0, 4), opts: &Options{Kernel: true}, errno: syscall.EINVAL},
		{name: "libbpf_narrowed_no_ambiguity", local: []btf.Type{foo}, target: []btf.Type{foo, fooMoved, fooAOnly},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:0"}, {"foo", FieldByteOffset, "0:1"}},
			insns: movs(0, 4), want: []int64{0, 4}},
		{name: "no_candidate_exists_zero", local: []btf.Type{foo}, target: []btf.Type{u32},
			relos: []synthRelo{{"foo", FieldExists, "0:1"}}, insns: movs(1), want: []int64{0}},
		{name: "no_candidate_offset_poisons", local: []btf.Type{foo}, target: []btf.Type{u32},
			relos: []synthRelo{{"foo", FieldByteOffset, "0:1"}}, insns: movs(4), want: []int64{PoisonImm}},
		{name: "incompatible_field_poisons", local: []btf.Type{foo}, target: []btf.Type{fooStructB},
			relos: []synthRelo{{"foo", FieldByteSize, "0:1"}, {"foo", FieldExists, "0:1"}}, insns: movs(4, 1), want: []int64{PoisonImm, 0}},
		{name: "array_of_structs", local: []btf.Type{foo}, target: []btf.Type{fooMoved},
			relos: []synthRelo{{"foo", FieldByteOffset, "2:1"}}, insns: movs(20), want: []int64{40}},
		{name: "flex_array_element", local: []btf.Type{flex}, target: []btf.Type{flex},
			relos: []synthRelo{{"flex", FieldByteOffset, "0:1:3"}}, insns: movs(16), want: []int64{16}},
		{name: "flex_array_element_size", local: []btf.Type{flex}, target: []btf.Type{flex},
			relos: []synthRelo{{"flex", FieldByteSize, "0:1:3"}}, insns: movs(4), want: []int64{4}},
		{name: "bitfield_shifts", local: []btf.Type{bits}, target: []btf.Type{bits},
			relos: []synthRelo{{"bits", FieldLShiftU64, "0:0"}, {"bits", FieldRShiftU64, "0:0"}, {"bits", FieldByteSize, "0:0"}},
			insns: movs(54, 54, 8), want: []int64{54, 54, 8}},
		{name: "bitfield_past_64_bits", local: []btf.Type{bits}, target: []btf.Type{bitsFar},
			relos: []synthRelo{{"bits", FieldLShiftU64, "0:0"}}, insns: movs(54), errno: syscall.E2BIG},
		{name: "enum32_to_enum64", local: []btf.Type{e32}, target: []btf.Type{e64},
			relos: []synthRelo{{"e", EnumvalValue, "0"}},
			insns: asm.Instructions{asm.LoadImm(asm.R0, 1, asm.DWord), asm.Return()}, want: []int64{0x100000005}},
		{name: "enum32_value_widens_signed", local: []btf.Type{e32}, target: []btf.Type{eNeg},
			relos: []synthRelo{{"e", EnumvalValue, "0"}},
			insns: asm.Instructions{asm.LoadImm(asm.R0, 1, asm.DWord), asm.Return()}, want: []int64{-1}},
		{name: "anonymous_type", local: []btf.Type{holder}, target: []btf.Type{holder},
			relos: []synthRelo{{"", FieldByteOffset, "0:0"}}, insns: movs(0), errno: syscall.EINVAL},
		{name: "target_type_id_and_size", local: []btf.Type{foo}, target: []btf.Type{u32, fooMoved},
			relos: []synthRelo{{"foo", TypeIDTarget, "0"}, {"foo", TypeSize, "0"}, {"foo", TypeExists, "0"}},
			insns: movs(99, 8, 1), want: []int64{2, 16, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := specOf(t, c.local...)
			tg := targetOf(t, c.target...)
			var relos []Relocation
			for i, r := range c.relos {
				id := btf.TypeID(0)
				if r.name != "" {
					id = idOf(t, local, r.name)
				} else {
					// The anonymous struct inside holder.
					var h *btf.Struct
					require.NoError(t, local.TypeByName("holder", &h))
					var err error
					id, err = local.TypeID(h.Members[0].Type)
					require.NoError(t, err)
				}
				relos = append(relos, Relocation{Insn: i, Kind: r.kind, TypeID: id, Accessor: r.accessor})
			}
			out, err := Relocate(c.insns, relos, local, tg, c.opts)
			if c.errno != 0 {
				require.Error(t, err)
				assert.ErrorIs(t, err, c.errno)
				assert.Nil(t, out)
				return
			}
			require.NoError(t, err)
			for i, want := range c.want {
				if want == PoisonImm {
					assert.True(t, isPoisonInsn(out[i]), "insn %d: %v", i, out[i])
					continue
				}
				assert.Equal(t, want, out[i].Constant, "insn %d: %v", i, out[i])
			}
		})
	}
}

func isPoisonInsn(ins asm.Instruction) bool {
	return ins.OpCode == asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call) && ins.Constant == PoisonImm
}

// TestLoadStorePatch checks the load and store forms: offsets, the
// 16-bit limit, and resizing.
func TestLoadStorePatch(t *testing.T) {
	foo := st("foo", 8, mb("a", u32, 0), mb("b", u32, 32))
	far := st("foo", 40008, mb("a", u32, 0), mb("b", u32, 40000*8))
	moved := st("foo", 16, mb("a", u32, 0), mb("b", u32, 96))
	wide := st("foo", 16, mb("a", u32, 0), mb("b", u64, 64))
	signed := st("foo", 16, mb("a", u32, 0), mb("b", &btf.Int{Name: "long long", Size: 8, Encoding: btf.Signed}, 64))
	local := specOf(t, foo)
	id := idOf(t, local, "foo")
	relo := []Relocation{{Insn: 0, Kind: FieldByteOffset, TypeID: id, Accessor: "0:1"}}

	cases := []struct {
		name   string
		target *btf.Struct
		ins    asm.Instruction
		want   asm.Instruction
		errno  syscall.Errno
	}{
		{"ldx_moves", moved, asm.LoadMem(asm.R0, asm.R1, 4, asm.Word), asm.LoadMem(asm.R0, asm.R1, 12, asm.Word), 0},
		{"stx_moves", moved, asm.StoreMem(asm.R1, 4, asm.R2, asm.Word), asm.StoreMem(asm.R1, 12, asm.R2, asm.Word), 0},
		{"st_moves", moved, asm.StoreImm(asm.R1, 4, 7, asm.Word), asm.StoreImm(asm.R1, 12, 7, asm.Word), 0},
		{"ldx_grows_unsigned", wide, asm.LoadMem(asm.R0, asm.R1, 4, asm.Word), asm.LoadMem(asm.R0, asm.R1, 8, asm.DWord), 0},
		{"ldx_signed_poisons", signed, asm.LoadMem(asm.R0, asm.R1, 4, asm.Word), poisonInsn(asm.Metadata{}), 0},
		{"offset_too_big", far, asm.LoadMem(asm.R0, asm.R1, 4, asm.Word), asm.Instruction{}, syscall.ERANGE},
		{"wrong_compiled_offset", moved, asm.LoadMem(asm.R0, asm.R1, 6, asm.Word), asm.Instruction{}, syscall.EINVAL},
		{"wrong_compiled_size", wide, asm.LoadMem(asm.R0, asm.R1, 4, asm.Half), asm.Instruction{}, syscall.EINVAL},
		{"ld_abs_is_not_ldimm64", moved, asm.LoadAbs(4, asm.Word), asm.Instruction{}, syscall.EINVAL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Relocate(asm.Instructions{c.ins, asm.Return()}, relo, local, targetOf(t, c.target), nil)
			if c.errno != 0 {
				assert.ErrorIs(t, err, c.errno)
				return
			}
			require.NoError(t, err)
			got := out[0]
			assert.Equal(t, c.want.OpCode, got.OpCode, "%v", got)
			assert.Equal(t, c.want.Offset, got.Offset, "%v", got)
			assert.Equal(t, c.want.Dst, got.Dst)
			assert.Equal(t, c.want.Src, got.Src)
			assert.Equal(t, c.want.Constant, got.Constant)
		})
	}
}

// TestTypeRelations covers type compatibility and matching, with the
// kernel's shallower limits.
func TestTypeRelations(t *testing.T) {
	// cb is a callback taking a callback taking a callback: three levels
	// of function prototypes.
	inner := &btf.FuncProto{Return: s32, Params: []btf.FuncParam{{Name: "x", Type: s32}}}
	mid := &btf.FuncProto{Return: s32, Params: []btf.FuncParam{{Name: "f", Type: &btf.Pointer{Target: inner}}}}
	outer := &btf.FuncProto{Return: s32, Params: []btf.FuncParam{{Name: "g", Type: &btf.Pointer{Target: mid}}}}
	cb := &btf.Typedef{Name: "cb", Type: outer}

	in := st("inner", 4, mb("v", u32, 0))
	withPtr := st("withptr", 8, mb("p", &btf.Pointer{Target: in}, 0))
	fwdStruct := st("withptr", 8, mb("p", &btf.Pointer{Target: &btf.Fwd{Name: "inner", Kind: btf.FwdStruct}}, 0))
	fwdUnion := st("withptr", 8, mb("p", &btf.Pointer{Target: &btf.Fwd{Name: "inner", Kind: btf.FwdUnion}}, 0))

	small := &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 0}}}
	big := &btf.Enum{Name: "color", Size: 8, Values: []btf.EnumValue{{Name: "RED", Value: 0}, {Name: "BLUE", Value: 1}}}
	renamed := &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED___v2", Value: 9}, {Name: "BLUE", Value: 1}}}

	nested := st("outer", 8, mb("in", st("mid", 8, mb("x", st("leaf", 4, mb("v", u32, 0)), 0)), 0))

	cases := []struct {
		name   string
		local  btf.Type
		target btf.Type
		kind   Kind
		opts   *Options
		want   int64
		errno  syscall.Errno
	}{
		{"compat_deep_protos_libbpf", cb, cb, TypeExists, nil, 1, 0},
		{"compat_deep_protos_kernel", cb, cb, TypeExists, &Options{Kernel: true}, 0, syscall.EINVAL},
		{"match_fwd_struct_behind_ptr", withPtr, fwdStruct, TypeMatches, nil, 1, 0},
		{"match_fwd_union_behind_ptr", withPtr, fwdUnion, TypeMatches, nil, 0, 0},
		{"match_enum_size_differs", small, big, TypeMatches, nil, 0, 0},
		{"match_enum_flavored_names", small, renamed, TypeMatches, nil, 1, 0},
		{"match_nested_libbpf", nested, nested, TypeMatches, nil, 1, 0},
		{"match_nested_kernel", nested, nested, TypeMatches, &Options{Kernel: true}, 0, syscall.EINVAL},
		{"exists_any_enum_size", small, big, TypeExists, nil, 1, 0},
		{"kernel_enum_kinds_apart", small, big, TypeExists, &Options{Kernel: true}, 0, 0},
		{"size_of_target", small, big, TypeSize, nil, 8, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := specOf(t, c.local)
			tg := targetOf(t, c.target)
			relo := []Relocation{{Kind: c.kind, TypeID: idOf(t, local, c.local.TypeName()), Accessor: "0"}}
			orig := int64(1)
			if c.kind == TypeSize {
				sz, err := btf.Sizeof(c.local)
				require.NoError(t, err)
				orig = int64(sz)
			}
			out, err := Relocate(movs(orig), relo, local, tg, c.opts)
			if c.errno != 0 {
				assert.ErrorIs(t, err, c.errno)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, out[0].Constant)
		})
	}
}

func TestEssentialName(t *testing.T) {
	for in, want := range map[string]string{
		"sk_buff":          "sk_buff",
		"sk_buff___old":    "sk_buff",
		"__sk_buff":        "__sk_buff",
		"__sk_buff___v2":   "__sk_buff",
		"a___b___c":        "a___b",
		"a____b":           "a____b",
		"x___":             "x___",
		"___x":             "___x",
		"":                 "",
		"BPF_FUNC_x___old": "BPF_FUNC_x",
	} {
		assert.Equal(t, want, essentialName(in), in)
	}
}

// TestWalksEnd checks that walks over pathological types end. Types that
// nest inside themselves (possible in Go, never in kernel BTF) end at the
// depth limits; a deep DAG whose every branch fails at the bottom, which
// libbpf would walk 2^30 times, ends at the step budget with E2BIG.
func TestWalksEnd(t *testing.T) {
	a := &btf.Struct{Name: "loop", Size: 8}
	b := &btf.Struct{Name: "loop", Size: 8}
	a.Members = []btf.Member{mb("x", b, 0), mb("y", b, 0)}
	b.Members = []btf.Member{mb("x", a, 0), mb("y", a, 0)}
	_, err := typesMatch(a, a, false, 32)
	assert.Error(t, err)

	proto := &btf.FuncProto{Return: s32}
	ptr := &btf.Pointer{Target: proto}
	proto.Params = []btf.FuncParam{{Name: "a", Type: ptr}, {Name: "b", Type: ptr}}
	_, err = typesCompatible(proto, proto, 32)
	assert.Error(t, err)

	chain := func(leaf btf.Type) btf.Type {
		var typ btf.Type = st("s", 8, mb("m", leaf, 0))
		for range 29 {
			typ = st("s", 8, mb("m", typ, 0), mb("m", typ, 0))
		}
		return typ
	}
	_, err = typesMatch(chain(u32), chain(u64), false, 32)
	assert.ErrorIs(t, err, syscall.E2BIG)
}

func TestResolveSize(t *testing.T) {
	cases := []struct {
		name string
		typ  btf.Type
		want uint32
		ok   bool
	}{
		{"int", u32, 4, true},
		{"pointer", &btf.Pointer{Target: &btf.Void{}}, 8, true},
		{"typedef_const_array", &btf.Typedef{Name: "x", Type: &btf.Const{Type: &btf.Array{Type: u64, Nelems: 3}}}, 24, true},
		{"nested_arrays", &btf.Array{Type: &btf.Array{Type: u8, Nelems: 6}, Nelems: 2}, 12, true},
		{"zero_length", &btf.Array{Type: u32, Nelems: 0}, 0, true},
		{"void", &btf.Void{}, 0, false},
		{"typedef_void", &btf.Typedef{Name: "v", Type: &btf.Void{}}, 0, false},
		{"fwd", &btf.Fwd{Name: "f"}, 0, false},
		{"func_proto", &btf.FuncProto{Return: s32}, 0, false},
		{"datasec", &btf.Datasec{Name: ".data", Size: 4}, 0, false},
		{"overflow", &btf.Array{Type: &btf.Array{Type: u64, Nelems: 1 << 20}, Nelems: 1 << 20}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveSize(c.typ)
			if !c.ok {
				assert.ErrorIs(t, err, syscall.EINVAL)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}
