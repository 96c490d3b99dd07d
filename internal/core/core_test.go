package core

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kindCases are the programs of testdata/kinds.c and matches.c, each
// returning one relocated value, with the value the shipped target gives.
// Values are the layouts of include/uapi/linux/bpf.h and the header files
// (spec/bpf.md §3.2 for __sk_buff).
var kindCases = []struct {
	obj, prog string
	want      int64
}{
	{"kinds.o", "off_iphdr_daddr", 16},
	{"kinds.o", "off_ipv6hdr_daddr", 24},
	{"kinds.o", "off_skb_cb2", 56},
	{"kinds.o", "off_tcphdr_doff", 12},
	{"kinds.o", "sz_skb_protocol", 4},
	{"kinds.o", "sz_tunnel_remote_ipv6", 16},
	{"kinds.o", "sz_tcphdr_doff", 2},
	{"kinds.o", "exists_skb_hwtstamp", 1},
	{"kinds.o", "exists_old_missing", 0},
	{"kinds.o", "signed_sock_rx_queue", 1},
	{"kinds.o", "signed_tcphdr_source", 0},
	{"kinds.o", "lshift_iphdr_version", 56},
	{"kinds.o", "rshift_iphdr_version", 60},
	{"kinds.o", "lshift_tcphdr_fin", 55},
	{"kinds.o", "rshift_tcphdr_fin", 63},
	{"kinds.o", "tid_kernel_missing", 0},
	{"kinds.o", "texists_dynptr", 1},
	{"kinds.o", "texists_sk_buff", 0}, // kernel-internal: not in the target
	{"kinds.o", "texists_missing", 0},
	{"kinds.o", "tsize_ipv6hdr", 40},
	{"kinds.o", "tsize_skb", 192},
	{"kinds.o", "eexists_store_bytes", 1},
	{"kinds.o", "eexists_missing", 0},
	{"kinds.o", "evalue_adj_room_mac", 1},
	{"kinds.o", "evalue_old_flavor", 1},
	// Type matching compares integer names: clang's "unsigned short" is
	// not gcc's "short unsigned int" (see matches.c).
	{"matches.o", "tmatch_ethhdr", 0},
	{"matches.o", "tmatch_ethhdr_bad", 0},
	{"matches.o", "tmatch_ethhdr_macs", 1},
	{"matches.o", "tmatch_tunnel_key_lite", 1},
	{"matches.o", "tmatch_iphdr", 0},
	{"matches.o", "tmatch_iphdr_subset", 0},
	{"matches.o", "tmatch_tcphdr_wide", 0},
	{"matches.o", "tmatch_skb", 0},
}

func TestKinds(t *testing.T) {
	tg := shipped(t)
	for _, c := range kindCases {
		t.Run(c.prog, func(t *testing.T) {
			cs := object(t, c.obj)
			out, err := relocate(t, cs, c.prog, tg, nil)
			require.NoError(t, err)
			assert.Equal(t, c.want, retImm(t, out))
		})
	}
}

// TestTypeIDs checks local and target type IDs: the object's own ID for
// bpf_core_type_id_local, the target's for bpf_core_type_id_kernel.
func TestTypeIDs(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "kinds.o")
	out, err := relocate(t, cs, "tid_local_iphdr", tg, nil)
	require.NoError(t, err)
	assert.Equal(t, typeID(t, cs.Types, "iphdr"), retImm(t, out))

	out, err = relocate(t, cs, "tid_kernel_iphdr", tg, nil)
	require.NoError(t, err)
	assert.Equal(t, typeID(t, tg.Spec(), "iphdr"), retImm(t, out))
}

// TestPoison checks the relocations that cannot resolve: the instruction
// becomes "call 0xbad2310" (both slots of an LD_IMM64), the rest is kept.
func TestPoison(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "kinds.o")
	poison := asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Constant: PoisonImm}
	same := func(t *testing.T, want, got asm.Instruction) {
		t.Helper()
		assert.Equal(t, want.OpCode, got.OpCode, "%v", got)
		assert.Equal(t, want.Dst, got.Dst, "%v", got)
		assert.Equal(t, want.Src, got.Src, "%v", got)
		assert.Equal(t, want.Offset, got.Offset, "%v", got)
		assert.Equal(t, want.Constant, got.Constant, "%v", got)
	}

	t.Run("field_guarded", func(t *testing.T) {
		in := cs.Programs["poison_field_guarded"].Instructions
		out, err := relocate(t, cs, "poison_field_guarded", tg, nil)
		require.NoError(t, err)
		require.Len(t, out, len(in))
		same(t, asm.Mov.Imm(asm.R2, 0), out[0])                   // r2 = field_exists(old->no_such_field) = 0
		same(t, poison, out[2])                                   // r0 = old->no_such_field: poisoned
		same(t, asm.LoadMem(asm.R0, asm.R1, 8, asm.Word), out[4]) // r0 = old->mark at the kernel's offset 8
		assert.Equal(t, asm.LdXClass, in[2].OpCode.Class(), "the input keeps its load")
	})
	t.Run("enum_guarded_ldimm64", func(t *testing.T) {
		in := cs.Programs["poison_enum_guarded"].Instructions
		out, err := relocate(t, cs, "poison_enum_guarded", tg, nil)
		require.NoError(t, err)
		require.Len(t, out, len(in)+1, "a poisoned LD_IMM64 is two calls")
		same(t, asm.LoadImm(asm.R1, 0, asm.DWord), out[1]) // r1 = enumval_exists = 0 ll
		same(t, poison, out[3])
		same(t, poison, out[4])
		assert.Equal(t, in.Size(), out.Size(), "the raw size is unchanged")
	})
	t.Run("memsz_unsigned_shrinks", func(t *testing.T) {
		in := cs.Programs["memsz_wide_mark"].Instructions
		assert.Equal(t, asm.DWord, in[0].OpCode.Size())
		out, err := relocate(t, cs, "memsz_wide_mark", tg, nil)
		require.NoError(t, err)
		same(t, asm.LoadMem(asm.R1, asm.R1, 8, asm.Word), out[0])
	})
	t.Run("memsz_signed_poisons", func(t *testing.T) {
		out, err := relocate(t, cs, "memsz_signed_mark", tg, nil)
		require.NoError(t, err)
		same(t, poison, out[0])
	})
}

// TestParseProgram relocates the vmlinux.h-style parser and checks every
// relocated access against the UAPI layouts.
func TestParseProgram(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "parse.o")
	p := cs.Programs["parse_ipv4"]
	relos, err := Relocations(p.Instructions, cs.Types)
	require.NoError(t, err)
	require.NotEmpty(t, relos)
	out, err := Relocate(p.Instructions, relos, cs.Types, tg, nil)
	require.NoError(t, err)
	require.Len(t, out, len(p.Instructions))
	for _, r := range relos {
		ins := out[r.Insn]
		t.Logf("%s %s: %v", r.Kind, r.Accessor, ins)
		if c := ins.OpCode.Class(); r.Kind == FieldByteOffset && (c == asm.LdXClass || c == asm.StXClass || c == asm.StClass) {
			assert.GreaterOrEqual(t, ins.Offset, int16(0))
		}
	}
}

func TestRelocateErrors(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "kinds.o")
	p := cs.Programs["off_iphdr_daddr"]
	relos, err := Relocations(p.Instructions, cs.Types)
	require.NoError(t, err)
	require.Len(t, relos, 1)

	cases := []struct {
		name  string
		edit  func(r *Relocation, insns asm.Instructions)
		errno syscall.Errno
	}{
		{"insn_out_of_range", func(r *Relocation, _ asm.Instructions) { r.Insn = 99 }, syscall.EINVAL},
		{"insn_negative", func(r *Relocation, _ asm.Instructions) { r.Insn = -1 }, syscall.EINVAL},
		{"unknown_kind", func(r *Relocation, _ asm.Instructions) { r.Kind = 13 }, syscall.EINVAL},
		{"bad_type_id", func(r *Relocation, _ asm.Instructions) { r.TypeID = 1 << 30 }, syscall.EINVAL},
		{"empty_accessor", func(r *Relocation, _ asm.Instructions) { r.Accessor = "" }, syscall.EINVAL},
		{"leading_colon", func(r *Relocation, _ asm.Instructions) { r.Accessor = ":0" }, syscall.EINVAL},
		{"trailing_colon", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0:" }, syscall.EINVAL},
		{"double_colon", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0::1" }, syscall.EINVAL},
		{"negative", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0:-1" }, syscall.EINVAL},
		{"member_past_end", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0:99" }, syscall.EINVAL},
		{"into_scalar", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0:9:0:1:0" }, syscall.EINVAL},
		{"too_long", func(r *Relocation, _ asm.Instructions) { r.Accessor = "0" + repeat(":0", 64) }, syscall.EINVAL},
		{"type_kind_with_field", func(r *Relocation, _ asm.Instructions) { r.Kind = TypeSize }, syscall.EINVAL},
		{"enum_kind_on_struct", func(r *Relocation, _ asm.Instructions) { r.Kind = EnumvalValue; r.Accessor = "0" }, syscall.EINVAL},
		{"array_accessor_signed", func(r *Relocation, _ asm.Instructions) { r.Kind = FieldSigned; r.Accessor = "1" }, syscall.EINVAL},
		{"wrong_compiled_value", func(_ *Relocation, insns asm.Instructions) { insns[0].Constant = 17 }, syscall.EINVAL},
		{"register_source", func(_ *Relocation, insns asm.Instructions) { insns[0] = asm.Mov.Reg(asm.R0, asm.R1) }, syscall.EINVAL},
		{"jump_insn", func(_ *Relocation, insns asm.Instructions) { insns[0] = asm.Ja.Label("x") }, syscall.EINVAL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := relos[0]
			insns := append(asm.Instructions(nil), p.Instructions...)
			c.edit(&r, insns)
			out, err := Relocate(insns, []Relocation{r}, cs.Types, tg, nil)
			require.Error(t, err)
			assert.Nil(t, out)
			assert.ErrorIs(t, err, c.errno)
			var e *Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, r.Kind, e.Kind)
			assert.Equal(t, r.Accessor, e.Accessor)
			assert.Equal(t, r.Insn, e.Insn)
			assert.Contains(t, err.Error(), "relo #0")
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestNilInputs(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "kinds.o")
	_, err := Apply(nil, cs.Types, tg, nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = Relocate(nil, nil, nil, tg, nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = Relocate(nil, nil, cs.Types, nil, nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = NewTarget(nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
	out, err := Relocate(asm.Instructions{asm.Return()}, nil, cs.Types, tg, nil)
	require.NoError(t, err)
	assert.Len(t, out, 1, "no relocations: the program as given")
}

func TestKindNames(t *testing.T) {
	for k := FieldByteOffset; k <= TypeMatches; k++ {
		got, ok := ParseKind(k.String())
		assert.True(t, ok, k.String())
		assert.Equal(t, k, got)
	}
	assert.Equal(t, "unknown(99)", Kind(99).String())
	_, ok := ParseKind("bogus")
	assert.False(t, ok)
}
