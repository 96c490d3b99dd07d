package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/btftarget"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// genCase is one generated relocation: a local type derived from a kernel
// type (renamed to a flavor, members dropped, renamed or retyped, enum
// values renamed or renumbered), an access string into it and a kind.
type genCase struct {
	root   btf.Type
	kind   Kind
	access string
	ldx    bool // patch a context load instead of a constant
}

func (c genCase) String() string {
	return fmt.Sprintf("%s_%s_%s", c.kind, c.root.TypeName(), strings.ReplaceAll(c.access, ":", "."))
}

// mutate derives a local variant of a kernel type.
func mutate(rng *rand.Rand, typ btf.Type) btf.Type {
	typ = btf.Copy(typ)
	rename := func(name string) string {
		switch rng.IntN(6) {
		case 0, 1:
			return name + "___gen"
		case 2:
			return "clsbpf_nope___" + name
		}
		return name
	}
	ints := []btf.Type{u8, u32, s32, u64, &btf.Int{Name: "short unsigned int", Size: 2}}
	switch v := typ.(type) {
	case *btf.Struct:
		v.Name = rename(v.Name)
		v.Members = mutateMembers(rng, v.Members, ints)
		v.Size = fitSize(v.Size, v.Members)
	case *btf.Union:
		v.Name = rename(v.Name)
		v.Members = mutateMembers(rng, v.Members, ints)
		v.Size = fitSize(v.Size, v.Members)
	case *btf.Enum:
		v.Name = rename(v.Name)
		// Local enums keep the kernel's width: the kernel caches
		// candidates by name alone, so whether a 32-bit local copy of a
		// 64-bit enum finds it depends on what loaded before.
		for i := range v.Values {
			switch rng.IntN(8) {
			case 0:
				v.Values[i].Name += "___old"
			case 1:
				v.Values[i].Name = "CLSBPF_NOPE"
			case 2:
				v.Values[i].Value = uint64(rng.IntN(1000))
			}
		}
	}
	return typ
}

// fitSize grows a composite so retyped members still fit, as BTF
// requires.
func fitSize(size uint32, ms []btf.Member) uint32 {
	for _, m := range ms {
		sz, err := btf.Sizeof(m.Type)
		if err != nil {
			continue
		}
		if end := uint32(m.Offset)/8 + uint32(sz); end > size {
			size = end
		}
	}
	return size
}

func mutateMembers(rng *rand.Rand, ms []btf.Member, ints []btf.Type) []btf.Member {
	out := ms[:0:0]
	for _, m := range ms {
		switch rng.IntN(10) {
		case 0:
			continue // dropped: later members keep the kernel's offsets
		case 1:
			if m.Name != "" {
				m.Name += "_renamed"
			}
		case 2:
			if _, ok := btf.UnderlyingType(m.Type).(*btf.Int); ok && m.BitfieldSize == 0 {
				m.Type = ints[rng.IntN(len(ints))]
			}
		}
		out = append(out, m)
	}
	return out
}

// randomAccess walks a random path into typ: a pointer index, then member
// and element indices, mostly valid, sometimes one past the end.
func randomAccess(rng *rand.Rand, typ btf.Type) string {
	parts := []string{"0"}
	if rng.IntN(8) == 0 {
		parts[0] = fmt.Sprint(rng.IntN(3))
	}
	t := typ
	for depth := 0; depth < 6; depth++ {
		t = skipMods(t)
		var n int
		switch v := t.(type) {
		case *btf.Struct:
			n = len(v.Members)
		case *btf.Union:
			n = len(v.Members)
		case *btf.Array:
			n = int(v.Nelems)
		default:
			return strings.Join(parts, ":")
		}
		if n == 0 || (depth > 0 && rng.IntN(4) == 0) {
			return strings.Join(parts, ":")
		}
		i := rng.IntN(n)
		if rng.IntN(20) == 0 {
			i = n // one past the end
		}
		parts = append(parts, fmt.Sprint(i))
		if i >= n {
			return strings.Join(parts, ":")
		}
		if ms, ok := members(t); ok {
			t = ms[i].Type
		} else {
			t = t.(*btf.Array).Type
		}
	}
	return strings.Join(parts, ":")
}

// duplicated returns the structs, unions and enums whose name vmlinux
// gives to more than one type of one kind (separate compilation units):
// relocations against them see several candidates, which must agree or be
// refused as ambiguous. Names shared by types of different kinds are left
// out: the kernel caches candidates by name alone, so its answer for them
// depends on which kind was looked up first, possibly by another process.
func duplicated(t *testing.T, kernel *btf.Spec) []btf.Type {
	byName := map[string][]btf.Type{}
	var names []string
	for typ, err := range kernel.All() {
		require.NoError(t, err)
		switch typ.(type) {
		case *btf.Struct, *btf.Union, *btf.Enum:
			name := typ.TypeName()
			if name == "" {
				continue
			}
			if len(byName[name]) == 0 {
				names = append(names, name)
			}
			byName[name] = append(byName[name], typ)
		}
	}
	var out []btf.Type
	for _, name := range names {
		types := byName[name]
		if len(types) < 2 {
			continue
		}
		sameKind := true
		for _, typ := range types {
			sameKind = sameKind && kindOf(typ) == kindOf(types[0])
		}
		if sameKind {
			out = append(out, types...)
		}
	}
	return out
}

func genCases(t *testing.T, rng *rand.Rand, n int, kernel *btf.Spec) []genCase {
	spec, err := btftarget.Spec()
	require.NoError(t, err)
	var roots []btf.Type
	for _, name := range btftarget.Names {
		typ, err := spec.AnyTypeByName(name)
		require.NoError(t, err)
		roots = append(roots, typ)
	}
	dups := duplicated(t, kernel)
	// 64-bit enums (BTF_KIND_ENUM64).
	for typ, err := range kernel.All() {
		require.NoError(t, err)
		if e, ok := typ.(*btf.Enum); ok && e.Size == 8 && e.Name != "" {
			dups = append(dups, e)
		}
	}
	var cases []genCase
	for range n {
		base := roots[rng.IntN(len(roots))]
		if len(dups) > 0 && rng.IntN(4) == 0 {
			base = dups[rng.IntN(len(dups))]
		}
		c := genCase{root: mutate(rng, base)}
		if _, isEnum := base.(*btf.Enum); isEnum {
			kinds := []Kind{EnumvalExists, EnumvalValue, EnumvalValue, TypeExists, TypeSize, TypeMatches, TypeIDTarget}
			c.kind = kinds[rng.IntN(len(kinds))]
			c.access = "0"
			if c.kind.enumBased() {
				c.access = fmt.Sprint(rng.IntN(len(c.root.(*btf.Enum).Values) + 1))
			}
		} else {
			if rng.IntN(4) == 0 {
				c.kind = []Kind{TypeIDLocal, TypeIDTarget, TypeExists, TypeSize, TypeMatches}[rng.IntN(5)]
				c.access = "0"
			} else {
				c.kind = Kind(rng.IntN(int(FieldRShiftU64) + 1))
				c.access = randomAccess(rng, c.root)
			}
			c.ldx = c.kind == FieldByteOffset && base.TypeName() == "__sk_buff" && rng.IntN(2) == 0
		}
		cases = append(cases, c)
	}
	return cases
}

// localBTF marshals the case's local type and a program function, and
// appends the access string to the string section, where the kernel takes
// it from (unreferenced strings are not checked).
func localBTF(t *testing.T, c genCase) (raw []byte, spec *btf.Spec, rootID, funcID btf.TypeID, accessOff uint32) {
	t.Helper()
	b, err := btf.NewBuilder(nil, nil)
	require.NoError(t, err)
	rootID, err = b.Add(c.root)
	require.NoError(t, err)
	fn := &btf.Func{Name: "gen", Linkage: btf.GlobalFunc, Type: &btf.FuncProto{Return: s32}}
	funcID, err = b.Add(fn)
	require.NoError(t, err)
	raw, err = b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
	require.NoError(t, err)
	le := binary.LittleEndian
	strLen := le.Uint32(raw[20:])
	accessOff = strLen
	raw = append(raw, append([]byte(c.access), 0)...)
	le.PutUint32(raw[20:], strLen+uint32(len(c.access))+1)
	spec, err = btf.LoadSpecFromReader(bytes.NewReader(raw))
	require.NoError(t, err)
	return raw, spec, rootID, funcID, accessOff
}

// genProgram is "r0 = <compiled value>; exit", or for a context field
// offset "r0 = *(u32 *)(r1 + <offset>); exit"; the compiled value is the
// local one, as clang would have written it.
func genProgram(local *btf.Spec, c genCase, rootID btf.TypeID) asm.Instructions {
	var orig uint64
	if root, err := local.TypeByID(rootID); err == nil {
		if ls, err := parseSpec(root, rootID, c.access, c.kind); err == nil {
			if c.kind == TypeIDLocal {
				orig = uint64(rootID)
			} else if res, err := calcRelo(ls, ls); err == nil {
				orig = res.orig
			}
		}
	}
	var first asm.Instruction
	switch {
	case c.ldx:
		first = asm.LoadMem(asm.R0, asm.R1, int16(orig), asm.Word)
	case orig > 1<<31-1:
		first = asm.LoadImm(asm.R0, int64(orig), asm.DWord)
	default:
		first = asm.Mov.Imm(asm.R0, int32(orig))
	}
	return asm.Instructions{first, asm.Return()}
}

// TestKernelCOREGenerated is a randomized kernel differential: local
// types derived from the kernel's own (the shipped target's, and the
// vmlinux types whose name has several definitions; as flavors, with
// dropped, renamed and retyped members, renamed and renumbered
// enumerators), random access strings and kinds, relocated by the kernel (BPF_PROG_LOAD with
// core_relos) and by this package with the kernel's rules. The seed is
// fixed; -short runs fewer cases.
func TestKernelCOREGenerated(t *testing.T) {
	tg := kernelTarget(t)
	kerneltest.RequireRoot(t)
	n := 400
	if testing.Short() {
		n = 60
	}
	rng := rand.New(rand.NewPCG(8, 2026))
	counts := map[outcome]int{}
	for i, c := range genCases(t, rng, n, tg.Spec()) {
		t.Run(fmt.Sprintf("%03d_%s", i, c), func(t *testing.T) {
			raw, local, rootID, funcID, accessOff := localBTF(t, c)
			btfFD := loadBTF(t, raw)
			in := genProgram(local, c, rootID)
			var code bytes.Buffer
			require.NoError(t, in.Marshal(&code, binary.LittleEndian))
			krelos := []kernelRelo{{InsnOff: 0, TypeID: uint32(rootID), AccessStrOff: accessOff, Kind: uint32(c.kind)}}
			relos := []Relocation{{Insn: 0, Kind: c.kind, TypeID: rootID, Accessor: c.access}}
			mine, err := Relocate(in, relos, local, tg, &Options{Kernel: true})
			counts[compareWithKernel(t, code.Bytes(), btfFD, funcID, krelos, in, mine, err)]++
		})
	}
	t.Logf("outcomes: %v", counts)
	assert.Zero(t, counts[kernelDiffers])
	// The generator must reach every outcome, or the comparison proves
	// less than it claims.
	for _, o := range []outcome{bothRefuse, bothRejected, sameXlated} {
		assert.NotZero(t, counts[o], "no case ended as %q", o)
	}
}
