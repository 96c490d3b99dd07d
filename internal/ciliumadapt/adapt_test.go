package ciliumadapt_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ciliumadapt"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

func TestInstructions(t *testing.T) {
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R1, 20),                            // r1 = 20
		asm.Call.Label("double"),                           // call double
		asm.Add.Imm(asm.R0, 2),                             // r0 += 2
		asm.LoadImm(asm.R2, 0x1122334455667788, asm.DWord), // r2 = 0x1122334455667788 ll
		asm.Return(),                                       // exit
		asm.Mov.Reg(asm.R0, asm.R1).WithSymbol("double"),   // double: r0 = r1
		asm.Add.Reg(asm.R0, asm.R1),                        // r0 += r1
		asm.Return(),                                       // exit
	}
	raw, err := ciliumadapt.Instructions(insns)
	require.NoError(t, err)
	require.Len(t, raw, 9)
	assert.Equal(t, ebpfvm.Instruction{Op: 0x85, Src: 1, Imm: 4}, raw[1])
	assert.Equal(t, ebpfvm.Instruction{Op: 0x18, Dst: 2, Imm: 0x55667788}, raw[3])
	assert.Equal(t, ebpfvm.Instruction{Imm: 0x11223344}, raw[4])
	assert.Equal(t, int64(-1), insns[1].Constant, "the caller's instructions stay untouched")

	prog, err := ebpfvm.Load(raw, ebpfvm.Options{Context: ebpfvm.ContextMem})
	require.NoError(t, err)
	r0, err := prog.RunMem(nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(42), r0)
}

func TestInstructionsUnresolved(t *testing.T) {
	_, err := ciliumadapt.Instructions(asm.Instructions{asm.Call.Label("nowhere"), asm.Return()})
	require.Error(t, err)
}

func TestMapReferences(t *testing.T) {
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),                                  // r0 = 0
		asm.LoadMapPtr(asm.R1, 0).WithReference("counters"),     // r1 = map[counters]
		asm.LoadMapValue(asm.R2, 0, 4).WithReference(".rodata"), // r2 = map_value[.rodata]+4
		asm.Return(), // exit
	}
	assert.Equal(t, map[int]string{1: "counters", 3: ".rodata"}, ciliumadapt.MapReferences(insns))
}
