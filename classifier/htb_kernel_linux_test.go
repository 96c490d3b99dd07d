//go:build linux

package classifier

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// htbBed is veth0 with an HTB root qdisc 1: (default class 1:30) whose
// cls_bpf filters classify frames sent through an AF_PACKET socket; the
// class counters show where each frame went.
type htbBed struct {
	k      *kernelFilters
	sock   *kerneltest.PacketSocket
	leaves []handle.Handle
}

const htbDefault = 0x10030

func newHTBBed(t *testing.T) *htbBed {
	t.Helper()
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	// No IPv6 autoconfiguration: the host must send nothing of its own
	// through the qdisc while frames are counted.
	for _, dev := range []string{"all", "default", "veth0", "veth1"} {
		ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "set", "veth0", "up")
	ns.MustRun(t, "ip", "link", "set", "veth1", "up")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth0", "root", "handle", "1:", "htb", "default", "30"); err != nil {
		kerneltest.Skip(t, "htb qdisc unavailable: "+err.Error())
	}
	ns.MustRun(t, "tc", "class", "add", "dev", "veth0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit")
	b := &htbBed{}
	for _, minor := range []string{"10", "11", "20", "30", "2345"} {
		ns.MustRun(t, "tc", "class", "add", "dev", "veth0", "parent", "1:1", "classid", "1:"+minor, "htb", "rate", "10gbit")
		var m uint32
		fmt.Sscanf(minor, "%x", &m)
		b.leaves = append(b.leaves, handle.Handle(0x10000|m))
	}
	b.k = &kernelFilters{rt: ns.Rtnl(t), ifindex: ns.Ifindex(t, "veth0"), parent: 0x10000}
	b.sock = ns.PacketSocket(t, "veth0")
	return b
}

// where a frame went: a leaf class, HTB's direct queue, a drop, or
// nowhere (stolen).
type landing struct {
	class  handle.Handle
	direct bool
	drop   bool
}

func (l landing) String() string {
	switch {
	case l.drop:
		return "dropped"
	case l.direct:
		return "direct"
	case l.class != 0:
		return "class " + l.class.String()
	}
	return "consumed"
}

type htbCounters struct {
	classes map[uint32]kerneltest.ClassStats
	qdisc   kerneltest.ClassStats
	direct  uint32
}

func (b *htbBed) counters(t *testing.T) htbCounters {
	t.Helper()
	cls, err := b.k.rt.Classes(b.k.ifindex)
	require.NoError(t, err)
	qs, err := b.k.rt.QdiscStats(b.k.ifindex)
	require.NoError(t, err)
	q := qs[0x10000]
	var direct uint32
	nlattr.Walk(q.Options, func(a nlattr.Attr) bool {
		if a.Type == 2 && len(a.Data) >= 20 { // TCA_HTB_INIT: struct tc_htb_glob, direct_pkts at 16
			direct = binary.LittleEndian.Uint32(a.Data[16:])
		}
		return true
	})
	return htbCounters{classes: cls, qdisc: q, direct: direct}
}

// landed compares counters before and after one frame.
func (b *htbBed) landed(before, after htbCounters) (landing, error) {
	var l landing
	n := 0
	for _, leaf := range b.leaves {
		if after.classes[uint32(leaf)].Packets != before.classes[uint32(leaf)].Packets {
			l.class = leaf
			n++
		}
	}
	if after.direct != before.direct {
		l.direct = true
		n++
	}
	if after.qdisc.Drops != before.qdisc.Drops {
		l.drop = true
		n++
	}
	if n > 1 {
		return l, fmt.Errorf("one frame counted %d times", n)
	}
	return l, nil
}

// htbLanding is what HTB makes of a classification result (htb_classify).
func (b *htbBed) htbLanding(res Result) landing {
	switch res.Verdict {
	case action.Shot:
		return landing{drop: true}
	case action.Stolen, action.Queued, action.Trap:
		return landing{}
	}
	if res.Verdict >= 0 {
		if res.ClassID == 0x10000 {
			return landing{direct: true}
		}
		for _, leaf := range b.leaves {
			if leaf == res.ClassID {
				return landing{class: leaf}
			}
		}
	}
	return landing{class: htbDefault}
}

func classicOpts(classID uint32, da bool, prog []byte) []byte {
	o := opts{}
	if classID != 0 {
		o = o.u32(uapi.TCA_BPF_CLASSID, classID)
	}
	o = o.u16(uapi.TCA_BPF_OPS_LEN, uint16(len(prog)/8)).raw(uapi.TCA_BPF_OPS, prog)
	if da {
		o = o.u32(uapi.TCA_BPF_FLAGS, 1)
	}
	return o
}

// TestKernelClassifyHTB installs the same filters in the kernel (under
// HTB) and in a Chain, sends random frames, and checks frame by frame that
// the class the kernel counted is the one the Chain's result selects.
func TestKernelClassifyHTB(t *testing.T) {
	b := newHTBBed(t)

	// A DA eBPF program that sets tc_classid 0x20 and returns OK, loaded
	// in the kernel; the library runs a fake with the same effect.
	ep, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R1, 72, 0x20, asm.Word), // __sk_buff->tc_classid = 0x20
			asm.Mov.Imm(asm.R0, 0),                   // r0 = TC_ACT_OK
			asm.Return(),
		},
	})
	if err != nil {
		kerneltest.Skip(t, "load SCHED_CLS program: "+err.Error())
	}
	t.Cleanup(func() { ep.Close() })
	info, err := ep.Info()
	require.NoError(t, err)
	id, _ := info.ID()
	fake := setClassID(0x20, action.OK)
	fake.id = uint32(id)
	for i := 0; i < 8; i++ {
		fmt.Sscanf(info.Tag[2*i:2*i+2], "%02x", &fake.tag[i])
	}
	table := fakeTable{uint32(ep.FD()): fake}

	isIPv4 := ops(
		[4]uint32{0x28, 0, 0, 12},         // ldh [12]
		[4]uint32{0x15, 0, 1, 0x0800},     // jeq #0x800, L2, L3
		[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L2: ret #-1
		[4]uint32{0x06, 0, 0, 0},          // L3: ret #0
	)
	longFrames := ops(
		[4]uint32{0x80, 0, 0, 0},       // ld len
		[4]uint32{0x25, 0, 1, 100},     // jgt #100, L2, L3
		[4]uint32{0x06, 0, 0, 0x10020}, // L2: ret #0x10020
		[4]uint32{0x06, 0, 0, 0},       // L3: ret #0
	)
	byteClass := ops(
		[4]uint32{0x30, 0, 0, 15},      // ldb [15]
		[4]uint32{0x54, 0, 0, 3},       // and #3
		[4]uint32{0x04, 0, 0, 0x10010}, // add #0x10010
		[4]uint32{0x16, 0, 0, 0},       // ret a: 1:10 .. 1:13
	)
	markVerdict := ops(
		[4]uint32{0x20, 0, 0, 0xFFFFF014}, // ld mark
		[4]uint32{0x15, 0, 1, 7},          // jeq #7, L2, L3
		[4]uint32{0x06, 0, 0, 2},          // L2: ret #2 (shot)
		[4]uint32{0x15, 0, 1, 8},          // L3: jeq #8, L4, L5
		[4]uint32{0x06, 0, 0, 4},          // L4: ret #4 (stolen)
		[4]uint32{0x15, 0, 1, 9},          // L5: jeq #9, L6, L7
		[4]uint32{0x06, 0, 0, 0},          // L6: ret #0 (ok)
		[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L7: ret #-1 (unspec)
	)
	directClass := ops(
		[4]uint32{0x30, 0, 0, 14},      // ldb [14]
		[4]uint32{0x15, 0, 1, 0xAA},    // jeq #0xaa, L2, L3
		[4]uint32{0x06, 0, 0, 0x10000}, // L2: ret #0x10000 (the qdisc itself: direct)
		[4]uint32{0x06, 0, 0, 0x20010}, // L3: ret #0x20010 (another qdisc: default)
	)

	setups := []struct {
		name    string
		filters [][]byte // added in order: the last runs first
	}{
		{"classic_classid", [][]byte{classicOpts(0x10011, false, isIPv4)}},
		{"classic_chain", [][]byte{
			classicOpts(0x10011, false, isIPv4),
			classicOpts(0, false, longFrames),
			classicOpts(0, false, byteClass),
		}},
		{"da_verdicts_then_classic", [][]byte{
			classicOpts(0x12345, false, isIPv4),
			classicOpts(0x10010, true, markVerdict),
		}},
		{"ebpf_da_tc_classid", [][]byte{
			opts{}.u32(uapi.TCA_BPF_CLASSID, 0x10000).u32(uapi.TCA_BPF_FD, uint32(ep.FD())).u32(uapi.TCA_BPF_FLAGS, 1),
			classicOpts(0x10030, true, markVerdict),
		}},
		{"direct_and_foreign", [][]byte{
			classicOpts(0, false, byteClass),
			classicOpts(0, false, directClass),
		}},
	}
	frames := 80
	if testing.Short() {
		frames = 20
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 3))
	pkt := packet.New(400)
	total := 0
	seen := map[string]int{}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			c := New(Config{Programs: table})
			for i, o := range s.filters {
				h := uint32(i + 1)
				_, err := c.ChangeNetlink(Request{Handle: h, Flags: Create | Excl, Options: o})
				require.NoError(t, err)
				require.NoError(t, b.k.change(h, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, nlattr.Append(nil, uapi.TCA_OPTIONS, o)))
			}
			t.Cleanup(func() { require.NoError(t, b.k.delete(0)) })
			for i := 0; i < frames; i++ {
				frame := make([]byte, 20+r.IntN(200))
				for j := range frame {
					frame[j] = byte(r.Uint32())
				}
				frame[0] &^= 1 // unicast destination
				et := []uint16{0x0800, 0x86DD, 0x0806, 0x88B5}[r.IntN(4)]
				binary.BigEndian.PutUint16(frame[12:], et)
				if r.IntN(4) == 0 {
					frame[14] = 0xAA
				}
				mark := uint32(r.IntN(12))

				require.NoError(t, pkt.SetFrame(frame))
				pkt.Direction = packet.Egress
				pkt.Mark = mark
				res := c.Classify(pkt)
				want := b.htbLanding(res)

				before := b.counters(t)
				require.NoError(t, b.sock.Send(frame, mark))
				var got landing
				var err error
				for try := 0; try < 100; try++ {
					got, err = b.landed(before, b.counters(t))
					require.NoError(t, err)
					if got != (landing{}) || want == (landing{}) {
						break
					}
				}
				require.Equal(t, want.String(), got.String(), "frame %d (%x, mark %d): library result %+v", i, frame, mark, res)
				total++
				seen[got.String()]++
			}
		})
	}
	t.Logf("%d frames classified alike by the kernel and the library: %v", total, seen)
	require.Len(t, seen, 8, "every landing (5 leaves, the default among them, direct, dropped, consumed) is exercised")
}
