package core

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/require"
)

// fuzzInsn builds the instruction a fuzzed relocation patches: every
// form the kernel patches, and some it refuses.
func fuzzInsn(sel uint8, c int64) asm.Instructions {
	var ins asm.Instruction
	switch sel % 9 {
	case 0:
		ins = asm.Mov.Imm(asm.R0, int32(c))
	case 1:
		ins = asm.Add.Imm32(asm.R0, int32(c))
	case 2:
		ins = asm.LoadMem(asm.R0, asm.R1, int16(c), asm.Word)
	case 3:
		ins = asm.StoreMem(asm.R1, int16(c), asm.R2, asm.DWord)
	case 4:
		ins = asm.StoreImm(asm.R1, int16(c), 1, asm.Byte)
	case 5:
		ins = asm.LoadImm(asm.R0, c, asm.DWord)
	case 6:
		ins = asm.LoadAbs(int32(c), asm.Half)
	case 7:
		ins = asm.Mov.Reg(asm.R0, asm.R1)
	default:
		ins = asm.Ja.Label("x")
	}
	return asm.Instructions{ins, asm.Return()}
}

// checkRelocated is the contract every fuzzed call must keep: an error
// or a program, never both; a program keeps its raw size.
func checkRelocated(t *testing.T, in, out asm.Instructions, err error) {
	if err != nil {
		require.Nil(t, out)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.NotZero(t, e.Errno)
		return
	}
	require.NotNil(t, out)
	require.Equal(t, in.Size(), out.Size())
}

// FuzzRelocate mutates relocation records (kind, type, access string,
// instruction) over the types of a real object, against the shipped
// target.
func FuzzRelocate(f *testing.F) {
	cs := object(f, "kinds.o")
	tg := shipped(f)
	var ids []btf.TypeID
	for typ, err := range cs.Types.All() {
		require.NoError(f, err)
		id, err := cs.Types.TypeID(typ)
		require.NoError(f, err)
		ids = append(ids, id)
	}
	for _, p := range cs.Programs {
		relos, err := Relocations(p.Instructions, cs.Types)
		require.NoError(f, err)
		for _, r := range relos {
			idx := 0
			for i, id := range ids {
				if id == r.TypeID {
					idx = i
				}
			}
			f.Add(uint8(r.Kind), uint16(idx), r.Accessor, uint8(0), int64(0), false)
		}
	}
	f.Add(uint8(0), uint16(3), "0:-1", uint8(2), int64(8), true)
	f.Add(uint8(11), uint16(9), "+0", uint8(5), int64(1), false)
	f.Add(uint8(0), uint16(9), "0 1", uint8(2), int64(4), false)
	f.Add(uint8(0), uint16(9), "99999999999999", uint8(2), int64(4), false)

	f.Fuzz(func(t *testing.T, kind uint8, typ uint16, access string, sel uint8, c int64, kernel bool) {
		in := fuzzInsn(sel, c)
		id := btf.TypeID(typ)
		if len(ids) > 0 {
			id = ids[int(typ)%len(ids)]
		}
		relos := []Relocation{{Insn: 0, Kind: Kind(kind % 14), TypeID: id, Accessor: access}}
		out, err := Relocate(in, relos, cs.Types, tg, &Options{Kernel: kernel})
		checkRelocated(t, in, out, err)
	})
}

// fuzzTypes decodes bytes into a small graph of structs named from
// flavors of one name, with members of base types, arrays, pointers and
// other structs (pointers may form cycles), and bitfields.
func fuzzTypes(data []byte) []btf.Type {
	names := []string{"t", "t___a", "t___b", "", "u"}
	base := []btf.Type{u8, u32, s32, u64, &btf.Enum{Name: "e", Size: 4, Values: []btf.EnumValue{{Name: "A", Value: 1}}}}
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	n := int(next()%4) + 1
	structs := make([]*btf.Struct, n)
	for i := range structs {
		structs[i] = &btf.Struct{Name: names[int(next())%len(names)]}
	}
	for _, s := range structs {
		members := int(next() % 5)
		var off uint32
		for m := 0; m < members; m++ {
			var typ btf.Type
			sel := next()
			switch sel % 5 {
			case 0, 1:
				typ = base[int(next())%len(base)]
			case 2:
				typ = &btf.Array{Index: u32, Type: base[int(next())%len(base)], Nelems: uint32(next() % 4)}
			case 3:
				typ = &btf.Pointer{Target: structs[int(next())%len(structs)]}
			default:
				typ = structs[int(next())%len(structs)]
				if typ == s {
					typ = &btf.Pointer{Target: s}
				}
			}
			member := btf.Member{Name: string(rune('a' + next()%6)), Type: typ, Offset: btf.Bits(off)}
			if bf := next() % 16; bf != 0 && sel%5 <= 1 {
				member.BitfieldSize = btf.Bits(bf)
			}
			s.Members = append(s.Members, member)
			off += uint32(next()%9) * 8
		}
		s.Size = off/8 + 8
	}
	out := make([]btf.Type, len(structs))
	for i, s := range structs {
		out[i] = s
	}
	return out
}

// FuzzTypes relocates against mutated local and target types: flavored
// candidates, anonymous members, cycles through pointers, bitfields.
func FuzzTypes(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 1, 0, 0, 1, 1, 1, 0, 0}, []byte{1, 1, 2, 0, 1, 8, 0, 1, 1, 1, 0, 0}, uint8(0), "0:1", uint8(0))
	f.Add([]byte{2, 0, 3, 3, 4, 0, 0, 3, 0}, []byte{3, 1, 2, 3, 0, 0, 1, 4, 4}, uint8(12), "0", uint8(0))
	f.Add([]byte{0, 0, 2, 4, 0, 0, 0}, []byte{0, 0, 2, 4, 0, 0, 0}, uint8(4), "0:0", uint8(0))
	f.Fuzz(func(t *testing.T, localData, targetData []byte, kind uint8, access string, sel uint8) {
		localTypes, targetTypes := fuzzTypes(localData), fuzzTypes(targetData)
		lb, err := btf.NewBuilder(localTypes, nil)
		if err != nil {
			return
		}
		local, err := lb.Spec()
		if err != nil {
			return
		}
		tb, err := btf.NewBuilder(targetTypes, nil)
		if err != nil {
			return
		}
		target, err := tb.Spec()
		if err != nil {
			return
		}
		tg, err := NewTarget(target)
		if err != nil {
			return
		}
		in := fuzzInsn(sel, 0)
		for id := btf.TypeID(1); id < 8; id++ {
			if _, err := local.TypeByID(id); err != nil {
				break
			}
			for _, kernel := range []bool{false, true} {
				relos := []Relocation{{Kind: Kind(kind % 14), TypeID: id, Accessor: access}}
				out, err := Relocate(in, relos, local, tg, &Options{Kernel: kernel})
				checkRelocated(t, in, out, err)
			}
		}
	})
}
