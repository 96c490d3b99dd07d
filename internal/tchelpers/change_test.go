package tchelpers_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// call is one helper call with immediate arguments after the context.
type call struct {
	fn   asm.BuiltinFunc
	args []int64
}

func (c call) String() string { return fmt.Sprintf("%v%v", c.fn, c.args) }

// callsProgram makes the calls in order, storing each result in cb[i],
// then stores vlan_tci | vlan_proto<<16 in cb[3] and protocol |
// pkt_type<<16 | vlan_present<<24 in cb[4], and returns len ^ hash.
func callsProgram(calls []call) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	regs := []asm.Register{asm.R2, asm.R3, asm.R4, asm.R5}
	for i, c := range calls {
		insns = append(insns, asm.Mov.Reg(asm.R1, asm.R6)) // r1 = ctx
		for j, v := range c.args {
			insns = append(insns, asm.LoadImm(regs[j], v, asm.DWord)) // rN = arg
		}
		insns = append(insns,
			c.fn.Call(), // r0 = helper(...)
			asm.StoreMem(asm.R6, int16(48+4*i), asm.R0, asm.Word), // skb->cb[i] = r0
		)
	}
	return append(insns,
		asm.LoadMem(asm.R2, asm.R6, 24, asm.Word),  // r2 = vlan_tci
		asm.LoadMem(asm.R3, asm.R6, 28, asm.Word),  // r3 = vlan_proto
		asm.LSh.Imm(asm.R3, 16),                    // r3 <<= 16
		asm.Or.Reg(asm.R2, asm.R3),                 // r2 |= r3
		asm.StoreMem(asm.R6, 60, asm.R2, asm.Word), // skb->cb[3] = r2
		asm.LoadMem(asm.R2, asm.R6, 16, asm.Word),  // r2 = protocol
		asm.LoadMem(asm.R3, asm.R6, 4, asm.Word),   // r3 = pkt_type
		asm.LSh.Imm(asm.R3, 16),                    // r3 <<= 16
		asm.Or.Reg(asm.R2, asm.R3),                 // r2 |= r3
		asm.LoadMem(asm.R3, asm.R6, 20, asm.Word),  // r3 = vlan_present
		asm.LSh.Imm(asm.R3, 24),                    // r3 <<= 24
		asm.Or.Reg(asm.R2, asm.R3),                 // r2 |= r3
		asm.StoreMem(asm.R6, 64, asm.R2, asm.Word), // skb->cb[4] = r2
		asm.LoadMem(asm.R0, asm.R6, 0, asm.Word),   // r0 = len
		asm.LoadMem(asm.R2, asm.R6, 68, asm.Word),  // r2 = hash
		asm.Xor.Reg(asm.R0, asm.R2),                // r0 ^= r2
		asm.Return(),                               // exit
	)
}

// testRunPacket is the packet BPF_PROG_TEST_RUN builds from frame on the
// loopback device: pkt_type from the destination MAC, ifindex 1, egress,
// network header after the 14-byte MAC header, no transport header.
func testRunPacket(t testing.TB, f []byte) *packet.Packet {
	t.Helper()
	var p packet.Packet
	require.NoError(t, p.SetFrame(f))
	switch {
	case f[0]|f[1]|f[2]|f[3]|f[4]|f[5] == 0:
		p.PktType = packet.Host
	case f[0]&1 != 0:
		p.PktType = packet.Multicast
	default:
		p.PktType = packet.OtherHost
	}
	p.Direction, p.Ifindex = packet.Egress, 1
	require.NoError(t, p.SetNetworkOffset(14))
	require.NoError(t, p.SetTransportOffset(-1))
	return &p
}

// changeFrames are an IPv4 frame, a tagged one, a double-tagged one, a
// tagged 802.3 frame and an IPv6 frame.
func changeFrames(r *rand.Rand) [][]byte {
	v4 := tcpFrame(r)
	tag := func(f []byte, tpid uint16, tci uint16) []byte {
		out := append([]byte{}, f[:12]...)
		out = binary.BigEndian.AppendUint16(out, tpid)
		out = binary.BigEndian.AppendUint16(out, tci)
		return append(out, f[12:]...)
	}
	dot3 := append([]byte{}, v4...)
	dot3[12], dot3[13], dot3[14], dot3[15] = 0, 60, 0xff, 0xff
	v6 := append([]byte{}, v4[:14]...)
	v6[12], v6[13] = 0x86, 0xdd
	v6 = append(v6, 0x60, 0, 0, 0, 0, 20, 6, 64)
	for i := 0; i < 32+20; i++ {
		v6 = append(v6, byte(r.Uint32()))
	}
	return [][]byte{v4, tag(v4, 0x8100, 0x2064), tag(tag(v4, 0x8100, 5), 0x88a8, 0x1007), tag(dot3, 0x8100, 9), v6}
}

func genCalls(r *rand.Rand) []call {
	pick := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	n := 1 + r.IntN(3)
	var out []call
	for i := 0; i < n; i++ {
		switch r.IntN(10) {
		case 9:
			out = append(out, call{asm.FnSkbChangeProto, []int64{pick(0x0008, 0xdd86, 0x0608, 0x0800), pick(0, 0, 0, 1)}})
		case 7, 8:
			flags := pick(0, 0, 1, 2, 4, 6, 8|2, 16|2, 16|4, 24|2, 32, 64|2, 64|2|14<<56, 2|14<<56, 2|30<<56, 128, 256, 384, 128|32, 512, 1<<40)
			out = append(out, call{asm.FnSkbAdjustRoom, []int64{pick(-60, -40, -20, -8, -1, 0, 1, 4, 8, 20, 28, 40, 100, 0xfff, 0x1000, -0x1000), pick(0, 0, 1, 1, 2), flags}})
		case 5:
			out = append(out, call{asm.FnSetHash, []int64{int64(r.Uint32())}})
		case 6:
			out = append(out, call{asm.FnSetHashInvalid, nil})
		case 0:
			out = append(out, call{asm.FnSkbVlanPush, []int64{pick(0x0081, 0xa888, 0x0008, 0x1234), int64(r.Uint32() & 0xffff)}})
		case 1:
			out = append(out, call{asm.FnSkbVlanPop, nil})
		case 2:
			out = append(out, call{asm.FnSkbChangeTail, []int64{pick(0, 13, 14, 15, 34, 60, 74, 75, 100, 1500, 16064, 16065), pick(0, 0, 0, 1)}})
		case 3:
			out = append(out, call{asm.FnSkbChangeHead, []int64{pick(0, 1, 4, 14, 100, 16000, 0xffffffff), pick(0, 0, 0, 1)}})
		default:
			out = append(out, call{asm.FnSkbChangeType, []int64{pick(0, 1, 2, 3, 4, 5, 7)}})
		}
	}
	return out
}

// TestKernelChangeHelpers runs generated sequences of the VLAN and
// change_* helpers through BPF_PROG_TEST_RUN and the VM: the same results,
// output packet, protocol, pkt_type and VLAN metadata.
func TestKernelChangeHelpers(t *testing.T) {
	kerneltest.RequireBPF(t)
	r := rand.New(rand.NewPCG(7, 8))
	env, err := tchelpers.Registry(tchelpers.Options{})
	require.NoError(t, err)
	const programs = 150
	counts := map[string]int{}
	for i := 0; i < programs; i++ {
		calls := genCalls(r)
		insns := callsProgram(calls)
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: insns})
		require.NoError(t, err, "%v", calls)
		vp, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers()})
		require.NoError(t, err, "%v", calls)
		for fi, f := range changeFrames(r) {
			kres, err := runBig(kp, f)
			require.NoError(t, err)
			pk := testRunPacket(t, f)
			r0, err := vp.Run(pk)
			require.NoError(t, err)
			name := fmt.Sprintf("%v on frame %d", calls, fi)
			require.Equal(t, kres.Ret, uint32(r0), "%s: len", name)
			require.Equal(t, kres.Data, pk.Bytes(), "%s: packet", name)
			for c := 0; c < 5; c++ {
				require.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48+4*c:]), pk.CB[c], "%s: cb[%d]", name, c)
			}
		}
		kp.Close()
		for _, c := range calls {
			counts[strings.TrimPrefix(c.fn.String(), "Fn")]++
		}
	}
	t.Logf("calls per helper over %d programs x 5 frames: %v", programs, counts)
}

// runBig runs kp on f with room for a packet grown to MaxLen.
func runBig(kp *ebpf.Program, f []byte) (kerneltest.TestRunResult, error) {
	var res kerneltest.TestRunResult
	opts := ebpf.RunOptions{Data: f, DataOut: make([]byte, tchelpers.MaxLen+4096), ContextOut: res.Ctx[:]}
	ret, err := kp.Run(&opts)
	res.Ret, res.Data = ret, opts.DataOut
	return res, err
}
