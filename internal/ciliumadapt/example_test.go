package ciliumadapt_test

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/clsbpf/clsbpf/internal/ciliumadapt"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// Instructions as cilium/ebpf builds them (or reads them from an ELF
// object) run on the VM after conversion.
func ExampleInstructions() {
	raw, err := ciliumadapt.Instructions(asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), // r0 = *(u32 *)(r1 + 0)
		asm.Add.Imm(asm.R0, 1),                   // r0 += 1
		asm.Return(),                             // exit
	})
	if err != nil {
		panic(err)
	}
	prog, err := ebpfvm.Load(raw, ebpfvm.Options{Context: ebpfvm.ContextMem})
	if err != nil {
		panic(err)
	}
	r0, err := prog.RunMem([]byte{41, 0, 0, 0})
	fmt.Println(r0, err)
	// Output: 42 <nil>
}
