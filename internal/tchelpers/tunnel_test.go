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

// tunnelOptProgram sets an IPv4 transmit key (unless noKey), sets
// setSize option bytes from opt, reads getSize bytes back into a buffer
// prefilled with 0xaa, and reads the key with BPF_F_TUNINFO_FLAGS: results
// in cb[0..2], the options buffer over packet bytes 0..40 and the key
// over 40..84... truncated to the frame.
func tunnelOptProgram(opt [40]byte, noKey bool, setSize, getSize int32) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	for i := 0; i < 48; i += 8 {
		insns = append(insns,
			asm.Mov.Imm(asm.R1, 0),                                 // r1 = 0
			asm.StoreMem(asm.RFP, int16(-48+i), asm.R1, asm.DWord), // key bytes = 0
		)
	}
	for i := 0; i < 40; i += 8 {
		insns = append(insns,
			asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(opt[i:])), asm.DWord), // r1 = option bytes
			asm.StoreMem(asm.RFP, int16(-96+i), asm.R1, asm.DWord),                     // store them
			asm.LoadImm(asm.R1, -0x5555555555555556, asm.DWord),                        // r1 = 0xaaaa...
			asm.StoreMem(asm.RFP, int16(-144+i), asm.R1, asm.DWord),                    // out buffer
		)
	}
	if !noKey {
		insns = append(insns,
			asm.Mov.Reg(asm.R1, asm.R6),  // r1 = ctx
			asm.Mov.Reg(asm.R2, asm.RFP), // r2 = fp
			asm.Add.Imm(asm.R2, -48),     // r2 = &key
			asm.Mov.Imm(asm.R3, 44),      // r3 = 44
			asm.Mov.Imm(asm.R4, 0),       // r4 = flags
			asm.FnSkbSetTunnelKey.Call(), // set_tunnel_key
		)
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R6),                        // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),                       // r2 = fp
		asm.Add.Imm(asm.R2, -96),                           // r2 = &opt
		asm.Mov.Imm(asm.R3, setSize),                       // r3 = size
		asm.FnSkbSetTunnelOpt.Call(),                       // r0 = set_tunnel_opt
		asm.StoreMem(asm.R6, 48, asm.R0, asm.Word),         // cb[0] = r0
		asm.Mov.Reg(asm.R1, asm.R6),                        // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),                       // r2 = fp
		asm.Add.Imm(asm.R2, -144),                          // r2 = &out
		asm.Mov.Imm(asm.R3, getSize),                       // r3 = size
		asm.FnSkbGetTunnelOpt.Call(),                       // r0 = get_tunnel_opt
		asm.StoreMem(asm.R6, 52, asm.R0, asm.Word),         // cb[1] = r0
		asm.Mov.Reg(asm.R1, asm.R6),                        // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),                       // r2 = fp
		asm.Add.Imm(asm.R2, -48),                           // r2 = &key
		asm.Mov.Imm(asm.R3, 44),                            // r3 = 44
		asm.Mov.Imm(asm.R4, tchelpers.BPF_F_TUNINFO_FLAGS), // r4 = flags
		asm.FnSkbGetTunnelKey.Call(),                       // r0 = get_tunnel_key
		asm.StoreMem(asm.R6, 56, asm.R0, asm.Word),         // cb[2] = r0
		asm.LoadMem(asm.R1, asm.RFP, -26, asm.Half),        // r1 = key.tunnel_flags
		asm.StoreMem(asm.R6, 60, asm.R1, asm.Word),         // cb[3] = r1
		asm.Mov.Reg(asm.R1, asm.R6),                        // r1 = ctx
		asm.Mov.Imm(asm.R2, 0),                             // r2 = offset 0
		asm.Mov.Reg(asm.R3, asm.RFP),                       // r3 = fp
		asm.Add.Imm(asm.R3, -144),                          // r3 = &out
		asm.Mov.Imm(asm.R4, 40),                            // r4 = 40
		asm.Mov.Imm(asm.R5, 0),                             // r5 = flags
		asm.FnSkbStoreBytes.Call(),                         // packet[0:40] = out
		asm.Mov.Imm(asm.R0, 0),                             // r0 = 0
		asm.Return(),                                       // exit
	)
}

// TestKernelTunnelOpt sets and reads tunnel options of varied sizes
// through BPF_PROG_TEST_RUN and the VM.
func TestKernelTunnelOpt(t *testing.T) {
	kerneltest.RequireBPF(t)
	r := rand.New(rand.NewPCG(15, 16))
	env, err := tchelpers.Registry(tchelpers.Options{})
	require.NoError(t, err)
	sizes := []int32{4, 8, 12, 6, 40, 3, 16, 32}
	for i := 0; i < 60; i++ {
		var opt [40]byte
		for j := range opt {
			opt[j] = byte(r.Uint32())
		}
		noKey := r.IntN(6) == 0
		setSize, getSize := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		insns := tunnelOptProgram(opt, noKey, setSize, getSize)
		name := fmt.Sprintf("key %v set %d get %d", !noKey, setSize, getSize)
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
		for c := 0; c < 4; c++ {
			require.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48+4*c:]), pk.CB[c], "%s: cb[%d]", name, c)
		}
		require.Equal(t, kres.Data, pk.Bytes(), "%s: options read back", name)
	}
}
