package tchelpers_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// tcpFrame is an Ethernet/IPv4/TCP frame with valid checksums and a
// payload, 74 bytes.
func tcpFrame(r *rand.Rand) []byte {
	f := make([]byte, 74)
	for i := range f {
		f[i] = byte(r.Uint32())
	}
	f[12], f[13] = 0x08, 0x00
	f[14], f[15] = 0x45, 0
	binary.BigEndian.PutUint16(f[16:], 60)
	f[20], f[21] = 0x40, 0 // DF
	f[22], f[23] = 64, 6
	f[24], f[25] = 0, 0
	var s uint32
	for i := 14; i < 34; i += 2 {
		s += uint32(binary.BigEndian.Uint16(f[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(f[24:], ^uint16(s))
	f[46] = 0x50
	return f
}

// helperCase is one generated call: the program stores buf on the stack
// at fp-64, calls the helper with R1..R5 (R1 the context unless noCtx;
// ptrArg marks which argument is the stack buffer), copies the first 16
// stack bytes into cb[0..3] and returns R0.
type helperCase struct {
	fn     asm.BuiltinFunc
	args   [5]int64 // immediates for R1..R5
	ptr    [5]bool  // argument i is fp-64 (first buffer) ...
	ptr2   [5]bool  // ... or fp-32 (second buffer)
	ctx    bool     // R1 is the context
	stack  [64]byte // initial stack bytes at fp-64
	helper string
}

func (c helperCase) program() asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	for i := 0; i < 64; i += 8 {
		insns = append(insns,
			asm.LoadImm(asm.R7, int64(binary.LittleEndian.Uint64(c.stack[i:])), asm.DWord), // r7 = stack word
			asm.StoreMem(asm.RFP, int16(-64+i), asm.R7, asm.DWord),                         // *(u64 *)(fp-64+i) = r7
		)
	}
	regs := []asm.Register{asm.R1, asm.R2, asm.R3, asm.R4, asm.R5}
	for i, r := range regs {
		switch {
		case i == 0 && c.ctx:
			insns = append(insns, asm.Mov.Reg(r, asm.R6)) // r1 = ctx
		case c.ptr[i]:
			insns = append(insns, asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, -64)) // rN = fp-64
		case c.ptr2[i]:
			insns = append(insns, asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, -32)) // rN = fp-32
		default:
			insns = append(insns, asm.LoadImm(r, c.args[i], asm.DWord)) // rN = imm
		}
	}
	insns = append(insns, c.fn.Call()) // r0 = helper(...)
	for i := 0; i < 4; i++ {
		insns = append(insns,
			asm.LoadMem(asm.R7, asm.RFP, int16(-64+4*i), asm.Word), // r7 = stack word
			asm.StoreMem(asm.R6, int16(48+4*i), asm.R7, asm.Word),  // skb->cb[i] = r7
		)
	}
	return append(insns, asm.Return()) // exit
}

func (c helperCase) String() string {
	return fmt.Sprintf("%s(%#x %#x %#x %#x %#x)", c.helper, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4])
}

// genCases returns at least n cases for each helper.
func genCases(r *rand.Rand, n int) []helperCase {
	var out []helperCase
	pick := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	stack := func() (s [64]byte) {
		for i := range s {
			s[i] = byte(r.Uint32())
		}
		return s
	}
	for i := 0; i < n; i++ {
		off := pick(24, 0, 1, 25, 50, 51, 62, 72, 73, 74, 0x10000, 0x7fffffff, int64(r.IntN(37))*2)
		out = append(out, helperCase{helper: "l3_csum_replace", fn: asm.FnL3CsumReplace, ctx: true,
			args: [5]int64{0, off, int64(r.Uint32()), int64(r.Uint32()), pick(2, 4, 4, 2, 1, 3, 8, 0x10, 0x12)}})
		out = append(out, helperCase{helper: "l3_csum_replace/diff", fn: asm.FnL3CsumReplace, ctx: true,
			args: [5]int64{0, off, pick(0, 0, 0, 1), int64(r.Uint32()), 0}})
		l4flags := pick(2, 4, 0x12, 0x14, 0x32, 0x34, 0x74, 0x24, 0x94, 0x100, 3, 0x10)
		from, to := int64(r.Uint32()), int64(r.Uint32())
		if r.IntN(4) == 0 {
			to = from
		}
		out = append(out, helperCase{helper: "l4_csum_replace", fn: asm.FnL4CsumReplace, ctx: true,
			args: [5]int64{0, pick(50, 44, 40, 51, 64, 72, 74, int64(r.IntN(37))*2), from, to, l4flags}})
		out = append(out, helperCase{helper: "l4_csum_replace/diff", fn: asm.FnL4CsumReplace, ctx: true,
			args: [5]int64{0, pick(50, 44, 40), 0, int64(r.Uint32()), pick(0, 0x10, 0x30, 0x20)}})
		n := pick(1, 2, 3, 4, 8, 13, 16, 32)
		out = append(out, helperCase{helper: "skb_store_bytes", fn: asm.FnSkbStoreBytes, ctx: true, stack: stack(),
			args: [5]int64{0, pick(0, 1, 14, 26, 60, 61, 63, 66, 70, 73, 74, 0x7fffffff, 0x80000000), 0, n, pick(0, 1, 2, 3, 4, 8)},
			ptr:  [5]bool{2: true}})
		out = append(out, helperCase{helper: "skb_load_bytes", fn: asm.FnSkbLoadBytes, ctx: true, stack: stack(),
			args: [5]int64{0, pick(0, 1, 14, 26, 60, 61, 66, 70, 73, 74, 0x7fffffff, 0x80000000), 0, n},
			ptr:  [5]bool{2: true}})
		out = append(out, helperCase{helper: "skb_load_bytes_relative", fn: asm.FnSkbLoadBytesRelative, ctx: true, stack: stack(),
			args: [5]int64{0, pick(0, 1, 12, 20, 40, 46, 52, 59, 60, 0x10000), 0, n, pick(0, 1, 1, 2)},
			ptr:  [5]bool{2: true}})
		fs, ts := pick(0, 4, 8, 12, 16, 32, 2, 3, 5), pick(0, 4, 8, 12, 16, 32, 1, 6, 7)
		c := helperCase{helper: "csum_diff", fn: asm.FnCsumDiff, stack: stack(),
			args: [5]int64{0, fs, 0, ts, pick(0, 1, 0xffff, 0x12345678, int64(r.Uint32()))}}
		c.ptr[0], c.ptr2[2] = true, true
		if fs == 0 {
			c.ptr[0] = false
		}
		if ts == 0 {
			c.ptr2[2] = false
		}
		out = append(out, c)
		out = append(out, helperCase{helper: "csum_level", fn: asm.FnCsumLevel, ctx: true, args: [5]int64{0, pick(0, 1, 2, 3, 4, 0x100)}})
		out = append(out, helperCase{helper: "csum_update", fn: asm.FnCsumUpdate, ctx: true, args: [5]int64{0, int64(r.Uint32())}})
		out = append(out, helperCase{helper: "redirect", fn: asm.FnRedirect, args: [5]int64{int64(r.IntN(100)), pick(0, 1, 2, 3, 0x100)}})
		out = append(out, helperCase{helper: "redirect_peer", fn: asm.FnRedirectPeer, args: [5]int64{int64(r.IntN(100)), pick(0, 1, 2)}})
		out = append(out, helperCase{helper: "skb_pull_data", fn: asm.FnSkbPullData, ctx: true, args: [5]int64{0, pick(0, 1, 14, 73, 74, 75, 1000)}})
	}
	return out
}

// TestKernelPacketHelpers runs generated helper calls through
// BPF_PROG_TEST_RUN and through the VM and demands the same return value,
// output packet and cb[] (which holds the buffer the helper wrote).
func TestKernelPacketHelpers(t *testing.T) {
	kerneltest.RequireBPF(t)
	r := rand.New(rand.NewPCG(5, 6))
	cases := genCases(r, 24)
	env, err := tchelpers.Registry(tchelpers.Options{})
	require.NoError(t, err)
	counts := map[string]int{}
	for _, c := range cases {
		insns := c.program()
		kp, err := kerneltest.LoadSchedCLSSpec(&ebpf.ProgramSpec{Instructions: insns})
		require.NoError(t, err, "%v", c)
		vp, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers()})
		require.NoError(t, err, "%v", c)
		f := tcpFrame(r)
		kres, err := kp.Run(f)
		kp.Close()
		require.NoError(t, err)
		var pk packet.Packet
		require.NoError(t, pk.SetFrame(f))
		r0, err := vp.Run(&pk)
		require.NoError(t, err, "%v", c)
		require.Equal(t, kres.Ret, uint32(r0), "%v: return value", c)
		require.Equal(t, kres.Data, pk.Bytes(), "%v: packet", c)
		for i := 0; i < 4; i++ {
			require.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48+4*i:]), pk.CB[i], "%v: cb[%d]", c, i)
		}
		counts[c.helper]++
	}
	t.Logf("cases per helper: %v", counts)
}
