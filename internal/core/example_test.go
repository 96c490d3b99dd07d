package core_test

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/btftarget"
	"github.com/clsbpf/clsbpf/internal/core"
)

// Relocate a program compiled against vmlinux.h for the kernel the
// library models: the compiler's offsets are replaced with the target's,
// and an access guarded by bpf_core_field_exists to a field the target
// lacks is poisoned rather than failing the load.
func ExampleApply() {
	spec, err := ebpf.LoadCollectionSpec("testdata/kinds.o")
	if err != nil {
		panic(err)
	}
	types, err := btftarget.Spec()
	if err != nil {
		panic(err)
	}
	target, err := core.NewTarget(types)
	if err != nil {
		panic(err)
	}
	insns, err := core.Apply(spec.Programs["poison_field_guarded"], spec.Types, target, nil)
	if err != nil {
		panic(err)
	}
	for _, ins := range insns {
		fmt.Println(ins)
	}
	// Output:
	// MovImm dst: r2 imm: 0
	// JEqImm dst: r2 off: 2 imm: 0
	// Call BuiltinFunc(195896080)
	// Ja off: 2
	// LdXMemW dst: r0 src: r1 off: 8 imm: 0
	// AddImm dst: r0 imm: 1
	// Exit
}

// Relocation records can also be given directly, as struct bpf_core_relo
// holds them; a failure names the relocation and carries the kernel's
// errno.
func ExampleRelocate() {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	local := &btf.Struct{Name: "hdr___mine", Size: 4, Members: []btf.Member{{Name: "len", Type: u32}}}
	kernel := &btf.Struct{Name: "hdr", Size: 8, Members: []btf.Member{{Name: "flags", Type: u32}, {Name: "len", Type: u32, Offset: 32}}}

	specOf := func(t btf.Type) *btf.Spec {
		b, err := btf.NewBuilder([]btf.Type{t}, nil)
		if err != nil {
			panic(err)
		}
		s, err := b.Spec()
		if err != nil {
			panic(err)
		}
		return s
	}
	localSpec := specOf(local)
	typ, err := localSpec.AnyTypeByName("hdr___mine")
	if err != nil {
		panic(err)
	}
	id, err := localSpec.TypeID(typ)
	if err != nil {
		panic(err)
	}
	target, err := core.NewTarget(specOf(kernel))
	if err != nil {
		panic(err)
	}

	insns := asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), // r0 = hdr->len
		asm.Return(),
	}
	relos := []core.Relocation{{Insn: 0, Kind: core.FieldByteOffset, TypeID: id, Accessor: "0:0"}}
	out, err := core.Relocate(insns, relos, localSpec, target, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(out[0])

	relos[0].Accessor = "0:7"
	_, err = core.Relocate(insns, relos, localSpec, target, nil)
	fmt.Println(errors.Is(err, syscall.EINVAL))
	// Output:
	// LdXMemW dst: r0 src: r1 off: 4 imm: 0
	// true
}
