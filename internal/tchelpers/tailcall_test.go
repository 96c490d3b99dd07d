package tchelpers_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/maps"
)

// vmProg is a loaded program as a prog array holds it.
type vmProg struct{ p *ebpfvm.Program }

func (v vmProg) ProgramType() uint32        { return uint32(ebpf.SchedCLS) }
func (v vmProg) ProgramID() uint32          { return 1 }
func (v vmProg) VMProgram() *ebpfvm.Program { return v.p }
func progArray(t testing.TB, n uint32) maps.Map {
	return newMap(t, maps.BPF_MAP_TYPE_PROG_ARRAY, 4, 4, n, 1)
}

// selfTailCall counts itself in cb[0] and tail-calls slot `slot` of the
// prog array at fd; when the call fails it returns 99.
func selfTailCall(fd int, slot int32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),                // r6 = ctx
		asm.LoadMem(asm.R0, asm.R6, 48, asm.Word),  // r0 = skb->cb[0]
		asm.Add.Imm(asm.R0, 1),                     // r0 += 1
		asm.StoreMem(asm.R6, 48, asm.R0, asm.Word), // skb->cb[0] = r0
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = ctx
		asm.LoadMapPtr(asm.R2, fd),                 // r2 = prog array
		asm.Mov.Imm(asm.R3, slot),                  // r3 = slot
		asm.FnTailCall.Call(),                      // tail_call(r1, r2, r3)
		asm.Mov.Imm(asm.R0, 99),                    // r0 = 99
		asm.Return(),                               // exit
	}
}

func TestTailCalls(t *testing.T) {
	tests := []struct {
		name    string
		slot    int32 // the slot the program calls
		fill    bool  // put the program into slot 0
		wantCB  uint32
		wantRet uint32
	}{
		{"chain stops after 33 tail calls", 0, true, 34, 99},
		{"empty slot continues", 0, false, 1, 99},
		{"index beyond the array continues", 7, true, 1, 99},
		{"negative index is a large u32", -1, true, 1, 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pa := progArray(t, 4)
			p := load(t, newEnv(t, 1), linker{pa}, selfTailCall(10, tt.slot))
			if tt.fill {
				require.Zero(t, pa.(maps.ObjectMap).UpdateObject([]byte{0, 0, 0, 0}, vmProg{p}, 0))
			}
			pk := frame(64)
			r0, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRet, uint32(r0))
			assert.Equal(t, tt.wantCB, pk.CB[0])
		})
	}
}

// TestKernelTailCalls runs the same chains in the kernel.
func TestKernelTailCalls(t *testing.T) {
	kerneltest.RequireBPF(t)
	for _, slot := range []int32{0, 1, 3, 4, -1} {
		for _, fill := range []bool{true, false} {
			km, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
			require.NoError(t, err)
			insns := selfTailCall(km.FD(), slot)
			kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: insns})
			require.NoError(t, err)
			if fill {
				for i := uint32(0); i < 4; i++ {
					require.NoError(t, km.Put(i, kp))
				}
			}
			f := tcpFrame(rand.New(rand.NewPCG(1, 2)))
			var ctxOut [kerneltest.SkbCtxSize]byte
			kret, err := kp.Run(&ebpf.RunOptions{Data: f, Context: make([]byte, kerneltest.SkbCtxSize), ContextOut: ctxOut[:]})
			require.NoError(t, err)

			pa := progArray(t, 4)
			p := load(t, newEnv(t, 1), linker{pa}, selfTailCall(10, slot))
			if fill {
				for i := byte(0); i < 4; i++ {
					require.Zero(t, pa.(maps.ObjectMap).UpdateObject([]byte{i, 0, 0, 0}, vmProg{p}, 0))
				}
			}
			pk := frame(64)
			r0, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, kret, uint32(r0), "slot %d fill %v: return", slot, fill)
			assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[48:]), pk.CB[0], "slot %d fill %v: cb[0]", slot, fill)
			kp.Close()
			km.Close()
		}
	}
}
