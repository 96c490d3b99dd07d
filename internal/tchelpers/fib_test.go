package tchelpers_test

import (
	"encoding/binary"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// oneRoute routes everything out of ifindex 3 with fixed MAC addresses.
type oneRoute struct{ calls int }

func (r *oneRoute) Lookup(_ *packet.Packet, params []byte, flags uint32) int64 {
	r.calls++
	binary.LittleEndian.PutUint32(params[8:], 3)
	copy(params[52:58], []byte{2, 0, 0, 0, 0, 1})
	copy(params[58:64], []byte{2, 0, 0, 0, 0, 2})
	binary.LittleEndian.PutUint16(params[6:], 1500)
	return tchelpers.BPF_FIB_LKUP_RET_SUCCESS
}

// fibProgram fills a struct bpf_fib_lookup on the stack from params,
// calls bpf_fib_lookup(ctx, &p, plen, flags), stores ifindex in cb[0]
// and returns the result.
func fibProgram(params [64]byte, plen int32, flags int64) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	for i := 0; i < 64; i += 8 {
		insns = append(insns,
			asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(params[i:])), asm.DWord), // r1 = params bytes
			asm.StoreMem(asm.RFP, int16(-64+i), asm.R1, asm.DWord),                        // store them
		)
	}
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.R6),                 // r1 = ctx
		asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
		asm.Add.Imm(asm.R2, -64),                    // r2 = &params
		asm.Mov.Imm(asm.R3, plen),                   // r3 = plen
		asm.LoadImm(asm.R4, flags, asm.DWord),       // r4 = flags
		asm.FnFibLookup.Call(),                      // r0 = fib_lookup(...)
		asm.LoadMem(asm.R1, asm.RFP, -56, asm.Word), // r1 = params.ifindex
		asm.StoreMem(asm.R6, 48, asm.R1, asm.Word),  // cb[0] = r1
		asm.Return(), // exit
	)
}

func TestFibLookup(t *testing.T) {
	fib := &oneRoute{}
	env, err := tchelpers.Registry(tchelpers.Options{FIB: fib})
	require.NoError(t, err)
	v4 := [64]byte{0: 2, 8: 1}
	tests := []struct {
		name   string
		params [64]byte
		plen   int32
		flags  int64
		want   int64
		ifidx  uint32
	}{
		{"ipv4", v4, 64, 0, 0, 3},
		{"ipv6", [64]byte{0: 10, 8: 1}, 64, 0, 0, 3},
		{"short params", v4, 32, 0, -int64(syscall.EINVAL), 1},
		{"unknown flag", v4, 64, 1 << 6, -int64(syscall.EINVAL), 1},
		{"tot_len set", [64]byte{0: 2, 6: 1, 8: 1}, 64, 0, 0, 3},
		{"family", [64]byte{0: 7, 8: 1}, 64, 0, -int64(syscall.EAFNOSUPPORT), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ebpfvm.Load(vmInsns(t, fibProgram(tt.params, tt.plen, tt.flags)), ebpfvm.Options{Helpers: env.Helpers()})
			require.NoError(t, err)
			pk := frame(64)
			r0, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.want, int64(r0))
			assert.Equal(t, tt.ifidx, pk.CB[0])
		})
	}
	_, err = ebpfvm.Load(vmInsns(t, fibProgram(v4, 64, 0)), ebpfvm.Options{Helpers: newEnv(t, 1).Helpers()})
	require.ErrorIs(t, err, syscall.EINVAL, "without a FIB the helper is missing")
	assert.Contains(t, err.Error(), "bpf_fib_lookup#69")
}

// TestKernelFibLookupChecks compares the argument checks of
// bpf_fib_lookup with the kernel (the lookups themselves depend on the
// routing table and are not compared).
func TestKernelFibLookupChecks(t *testing.T) {
	kerneltest.RequireBPF(t)
	env, err := tchelpers.Registry(tchelpers.Options{FIB: &oneRoute{}})
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(13, 14))
	var compared int
	for i := 0; i < 60; i++ {
		var params [64]byte
		params[0] = []byte{2, 10, 0, 1, 7, 44}[r.IntN(6)]
		if r.IntN(4) == 0 {
			params[6] = byte(r.IntN(3))
		}
		params[8] = 1
		plen := []int32{64, 64, 64, 32, 63, 8}[r.IntN(6)]
		flags := []int64{0, 1, 2, 4, 0x3f, 1 << 6, 1 << 7, 1 << 40}[r.IntN(8)]
		insns := fibProgram(params, plen, flags)
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: insns})
		require.NoError(t, err)
		kret, err := kp.Run(&ebpf.RunOptions{Data: tcpFrame(r)})
		kp.Close()
		require.NoError(t, err)
		if int32(kret) >= 0 {
			continue // a lookup result of the kernel's routing table
		}
		p, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers()})
		require.NoError(t, err)
		r0, err := p.Run(frame(64))
		require.NoError(t, err)
		assert.Equal(t, int32(kret), int32(r0), "family %d tot_len %d plen %d flags %#x", params[0], params[6], plen, flags)
		compared++
	}
	t.Logf("%d argument errors compared", compared)
	assert.Greater(t, compared, 20)
}
