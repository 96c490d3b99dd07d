//go:build linux

package classifier

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// countingForwarder counts the packets mirred hands it, per target.
type countingForwarder struct {
	devs  map[uint32]string
	count map[uint32]*atomic.Int64
}

func (f *countingForwarder) Device(ifindex uint32) (action.DeviceState, bool) {
	name, ok := f.devs[ifindex]
	return action.DeviceState{Up: true, MACHeaderXmit: true, Name: name}, ok
}

func (f *countingForwarder) Forward(_ *packet.Packet, req action.Forward) error {
	f.count[req.Ifindex].Add(1)
	return nil
}

// TestKernelBlockFlows compares, frame by frame, the kernel's clsact
// ingress block with a Block holding the same filters in chains 0 and 1,
// whose mirred mirror actions end in "goto chain 1", "goto chain 9" (a
// chain with no filters), "reclassify" and "pipe", and whose direct-action
// filter drops. Frames go from veth0 to veth1; what the kernel did is read
// from the drop counter of veth1's clsact qdisc and from the packet
// counters of the clsact qdiscs on the egress of the two mirror targets
// (veth2 and veth4). The library must drop exactly the frames the kernel
// drops, reclassify-loop drops included (the 17th restart), and mirror
// each frame to each target as many times.
func TestKernelBlockFlows(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	for _, pair := range [][2]string{{"veth0", "veth1"}, {"veth2", "veth3"}, {"veth4", "veth5"}} {
		ns.MustRun(t, "ip", "link", "add", pair[0], "type", "veth", "peer", "name", pair[1])
	}
	for _, dev := range []string{"all", "default"} {
		ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	for _, dev := range []string{"veth0", "veth1", "veth2", "veth3", "veth4", "veth5"} {
		ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+dev+".disable_ipv6=1")
		ns.MustRun(t, "ip", "link", "set", dev, "up")
	}
	for _, dev := range []string{"veth1", "veth2", "veth4"} {
		if _, err := ns.Run("tc", "qdisc", "add", "dev", dev, "clsact"); err != nil {
			kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
		}
	}
	rt := ns.Rtnl(t)
	in := ns.Ifindex(t, "veth1")
	veth2, veth4 := uint32(ns.Ifindex(t, "veth2")), uint32(ns.Ifindex(t, "veth4"))

	// The mirror targets count what leaves them: a pass-through filter on
	// their egress makes the clsact qdisc count every packet.
	for _, dev := range []uint32{veth2, veth4} {
		attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, classicOpts(0, true, ops([4]uint32{0x06, 0, 0, 0xFFFFFFFF}))) // ret #-1 (unspec)
		_, err := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL,
			Tcmsg: kerneltest.Tcmsg{Ifindex: int32(dev), Parent: 0xFFFFFFF3, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)}, Attrs: attrs})
		require.NoError(t, err)
	}

	fwd := &countingForwarder{
		devs:  map[uint32]string{veth2: "veth2", veth4: "veth4"},
		count: map[uint32]*atomic.Int64{veth2: {}, veth4: {}},
	}
	b := NewBlock(BlockConfig{
		Config:  Config{Actions: NewActionParser(action.NewTable(action.Config{Forwarder: fwd}))},
		Ifindex: in,
		Parent:  clsactIngress,
	})

	mirror := func(dev uint32, v action.Verdict) []byte {
		return action.EncodeSpecs([]action.Spec{&action.Mirred{Params: action.Params{Verdict: v}, Action: action.EgressMirror, Ifindex: dev}})
	}
	// match is "ldb [14]; jset #bit; ret #-1; ret #0": the first payload
	// byte selects which filters match.
	match := func(bit uint32) []byte {
		return ops(
			[4]uint32{0x30, 0, 0, 14},         // ldb [14]
			[4]uint32{0x45, 0, 1, bit},        // jset #bit, L2, L3
			[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L2: ret #-1 (match)
			[4]uint32{0x06, 0, 0, 0},          // L3: ret #0 (no match)
		)
	}
	type filter struct {
		chain    uint32
		prio     uint16
		protocol uint16
		options  []byte
	}
	filters := []filter{
		{0, 1, uapi.ETH_P_ALL, opts(classicOpts(0, false, match(1))).raw(uapi.TCA_BPF_ACT, mirror(veth2, gotoChain(1)))},
		{0, 2, uapi.ETH_P_IP, opts(classicOpts(0, false, match(2))).raw(uapi.TCA_BPF_ACT, mirror(veth4, action.Reclassify))},
		{0, 3, uapi.ETH_P_ALL, opts(classicOpts(0, false, match(4))).raw(uapi.TCA_BPF_ACT, mirror(veth4, gotoChain(9)))},
		{1, 1, uapi.ETH_P_ALL, opts(classicOpts(0, false, match(8))).raw(uapi.TCA_BPF_ACT, mirror(veth4, action.Reclassify))},
		{1, 2, uapi.ETH_P_ALL, classicOpts(0, true, ops(
			[4]uint32{0x30, 0, 0, 14},         // ldb [14]
			[4]uint32{0x45, 0, 1, 16},         // jset #16, L2, L3
			[4]uint32{0x06, 0, 0, 2},          // L2: ret #2 (shot)
			[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L3: ret #-1 (unspec)
		))},
		{1, 3, 0x88B5, opts(classicOpts(0, false, match(32))).raw(uapi.TCA_BPF_ACT, mirror(veth2, action.Pipe))},
	}
	for _, f := range filters {
		attrs := nlattr.AppendUint32(nil, uapi.TCA_CHAIN, f.chain)
		attrs = nlattr.AppendString(attrs, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, f.options)
		tcm := TCMsg{Handle: 1, Info: Info(f.prio, f.protocol)}
		_, err := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL,
			Tcmsg: kerneltest.Tcmsg{Ifindex: in, Handle: 1, Parent: clsactIngress, Info: tcm.Info}, Attrs: attrs})
		if err != nil {
			kerneltest.Skip(t, "the kernel refused a mirred filter with a goto chain or reclassify verdict: "+err.Error())
		}
		_, err = b.Request(Message{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, TCMsg: tcm, Attrs: attrs})
		require.NoError(t, err)
	}

	type counts struct{ seen, drops, m2, m4 uint64 }
	stats := func(ifindex int32) kerneltest.ClassStats {
		qs, err := rt.QdiscStats(ifindex)
		require.NoError(t, err)
		for h, s := range qs {
			if h&0xFFFF0000 == 0xFFFF0000 {
				return s
			}
		}
		t.Fatalf("no clsact qdisc on ifindex %d", ifindex)
		return kerneltest.ClassStats{}
	}
	read := func() counts {
		i, a, c := stats(in), stats(int32(veth2)), stats(int32(veth4))
		return counts{uint64(i.Packets), uint64(i.Drops), uint64(a.Packets), uint64(c.Packets)}
	}
	sock := ns.PacketSocket(t, "veth0")

	n := 200
	if testing.Short() {
		n = 60
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 9))
	pkt := packet.New(300)
	var dropped, loops int
	for i := 0; i < n; i++ {
		frame := make([]byte, 60+r.IntN(40))
		for j := range frame {
			frame[j] = byte(r.Uint32())
		}
		copy(frame[0:6], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
		frame[6] &^= 1 // a unicast source
		binary.BigEndian.PutUint16(frame[12:], []uint16{0x0800, 0x0800, 0x88B5}[r.IntN(3)])

		require.NoError(t, pkt.SetFrame(frame))
		require.NoError(t, pkt.Pull(pkt.MACLen()))
		m2, m4 := fwd.count[veth2].Load(), fwd.count[veth4].Load()
		res := b.Classify(pkt)
		want := counts{seen: 1, m2: uint64(fwd.count[veth2].Load() - m2), m4: uint64(fwd.count[veth4].Load() - m4)}
		if res.Verdict == action.Shot {
			want.drops = 1
		}

		before := read()
		require.NoError(t, sock.Send(frame, 0))
		var got counts
		for try := 0; ; try++ {
			after := read()
			got = counts{after.seen - before.seen, after.drops - before.drops, after.m2 - before.m2, after.m4 - before.m4}
			if got == want || try == 2000 {
				break
			}
		}
		require.Equal(t, want, got, "frame %d (first payload byte %#x, EtherType %#04x): library verdict %v", i, frame[14], binary.BigEndian.Uint16(frame[12:]), res.Verdict)
		if want.drops == 1 {
			dropped++
		}
		if want.m2 > MaxReclassify || want.m4 > MaxReclassify {
			loops++
		}
	}
	require.NotZero(t, dropped)
	require.NotZero(t, loops, "no frame looped to the reclassify limit")
	require.Less(t, dropped, n)
	t.Logf("%d frames agreed with the kernel: %d dropped, %d of them by the reclassify limit", n, dropped, loops)
}
