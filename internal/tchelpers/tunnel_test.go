package tchelpers_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// tunnelProgram sets a tunnel key from key (setSize bytes, setFlags),
// reads it back with getSize and getFlags into a buffer prefilled with
// 0xaa, stores the results in cb[0] and cb[1] and the buffer over the
// first 44 packet bytes.
func tunnelProgram(key [48]byte, setSize, getSize int32, setFlags, getFlags int64) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	for i := 0; i < 48; i += 8 {
		insns = append(insns,
			asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(key[i:])), asm.DWord), // r1 = key bytes
			asm.StoreMem(asm.RFP, int16(-48+i), asm.R1, asm.DWord),                     // fp-48+i = r1
			asm.LoadImm(asm.R1, -0x5555555555555556, asm.DWord),                        // r1 = 0xaaaa...
			asm.StoreMem(asm.RFP, int16(-96+i), asm.R1, asm.DWord),                     // fp-96+i = r1
		)
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),               // r2 = fp
		asm.Add.Imm(asm.R2, -48),                   // r2 = &key
		asm.Mov.Imm(asm.R3, setSize),               // r3 = size
		asm.LoadImm(asm.R4, setFlags, asm.DWord),   // r4 = flags
		asm.FnSkbSetTunnelKey.Call(),               // r0 = set_tunnel_key
		asm.StoreMem(asm.R6, 48, asm.R0, asm.Word), // cb[0] = r0
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),               // r2 = fp
		asm.Add.Imm(asm.R2, -96),                   // r2 = &out
		asm.Mov.Imm(asm.R3, getSize),               // r3 = size
		asm.LoadImm(asm.R4, getFlags, asm.DWord),   // r4 = flags
		asm.FnSkbGetTunnelKey.Call(),               // r0 = get_tunnel_key
		asm.StoreMem(asm.R6, 52, asm.R0, asm.Word), // cb[1] = r0
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = ctx
		asm.Mov.Imm(asm.R2, 0),                     // r2 = offset 0
		asm.Mov.Reg(asm.R3, asm.RFP),               // r3 = fp
		asm.Add.Imm(asm.R3, -96),                   // r3 = &out
		asm.Mov.Imm(asm.R4, 44),                    // r4 = 44
		asm.Mov.Imm(asm.R5, 0),                     // r5 = flags
		asm.FnSkbStoreBytes.Call(),                 // packet[0:44] = out
		asm.Mov.Imm(asm.R0, 0),                     // r0 = 0
		asm.Return(),                               // exit
	)
}

// TestKernelTunnelKey sets and reads back tunnel keys of every layout
// size and flag combination through BPF_PROG_TEST_RUN and the VM.
func TestKernelTunnelKey(t *testing.T) {
	kerneltest.RequireBPF(t)
	r := rand.New(rand.NewPCG(11, 12))
	env, err := tchelpers.Registry(tchelpers.Options{})
	require.NoError(t, err)
	sizes := []int32{44, 28, 24, 22, 8, 40, 12}
	for i := 0; i < 120; i++ {
		var key [48]byte
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		if r.IntN(3) > 0 {
			key[22], key[23] = 0, 0 // tunnel_ext
		}
		if r.IntN(2) == 0 {
			clear(key[24:28]) // tunnel_label
		}
		setSize, getSize := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		setFlags := int64(r.IntN(32))
		if r.IntN(8) == 0 {
			setFlags |= 1 << 5
		}
		getFlags := int64(r.IntN(2)) | int64(r.IntN(2))<<4
		if r.IntN(8) == 0 {
			getFlags |= 2
		}
		insns := tunnelProgram(key, setSize, getSize, setFlags, getFlags)
		name := fmt.Sprintf("set(%d, %#x) get(%d, %#x) key %x", setSize, setFlags, getSize, getFlags, key[:44])
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: insns})
		require.NoError(t, err, name)
		f := tcpFrame(r)
		kres, err := runBig(kp, f)
		kp.Close()
		require.NoError(t, err)
		vp, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers()})
		require.NoError(t, err)
		pk := testRunPacket(t, f)
		_, err = vp.Run(pk)
		require.NoError(t, err)
		require.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48:]), pk.CB[0], "%s: set result", name)
		require.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[52:]), pk.CB[1], "%s: get result", name)
		require.Equal(t, kres.Data, pk.Bytes(), "%s: key read back", name)
	}
}
