//go:build linux

package classifier

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestKernelClassifyIngress checks the MAC push and pull at clsact
// ingress against the kernel: frames sent from veth0 arrive at veth1,
// whose ingress filters can only decide by reading the Ethernet header and
// the length including it. The library sees each frame as the kernel holds
// it on receive (data at the network header) and must give the verdict the
// kernel's drop counter shows.
func TestKernelClassifyIngress(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	for _, dev := range []string{"all", "default", "veth0", "veth1"} {
		ns.MustRun(t, "sysctl", "-q", "-w", "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "set", "veth0", "up")
	ns.MustRun(t, "ip", "link", "set", "veth1", "up")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth1", "clsact"); err != nil {
		kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
	}
	k := &kernelFilters{rt: ns.Rtnl(t), ifindex: ns.Ifindex(t, "veth1"), parent: 0xFFFFFFF2}
	sock := ns.PacketSocket(t, "veth0")

	filters := [][]byte{
		// Oldest, runs last: drop frames longer than 100 bytes with the
		// MAC header counted.
		classicOpts(0, true, ops(
			[4]uint32{0x80, 0, 0, 0},          // ld len
			[4]uint32{0x25, 0, 1, 100},        // jgt #100, L2, L3
			[4]uint32{0x06, 0, 0, 2},          // L2: ret #2 (shot)
			[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L3: ret #-1 (unspec)
		)),
		// Drop frames whose source MAC starts with an odd byte.
		classicOpts(0, true, ops(
			[4]uint32{0x30, 0, 0, 6},          // ldb [6]
			[4]uint32{0x45, 0, 1, 1},          // jset #1, L2, L3
			[4]uint32{0x06, 0, 0, 2},          // L2: ret #2 (shot)
			[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L3: ret #-1 (unspec)
		)),
		// Newest, runs first: pass IPv4 (EtherType at offset 12).
		classicOpts(0, true, ops(
			[4]uint32{0x28, 0, 0, 12},         // ldh [12]
			[4]uint32{0x15, 0, 1, 0x0800},     // jeq #0x800, L2, L3
			[4]uint32{0x06, 0, 0, 0},          // L2: ret #0 (ok)
			[4]uint32{0x06, 0, 0, 0xFFFFFFFF}, // L3: ret #-1 (unspec)
		)),
	}
	c := New(Config{})
	for i, o := range filters {
		h := uint32(i + 1)
		_, err := c.ChangeNetlink(Request{Handle: h, Flags: Create | Excl, Options: o})
		require.NoError(t, err)
		require.NoError(t, k.change(h, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, nlattr.Append(nil, uapi.TCA_OPTIONS, o)))
	}

	// The clsact qdisc counts every packet it sees and every one its
	// filters shot.
	counters := func() kerneltest.ClassStats {
		qs, err := k.rt.QdiscStats(k.ifindex)
		require.NoError(t, err)
		for h, s := range qs {
			if h&0xFFFF0000 == 0xFFFF0000 {
				return s
			}
		}
		t.Fatal("no clsact qdisc in the dump")
		return kerneltest.ClassStats{}
	}

	n := 200
	if testing.Short() {
		n = 50
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 4))
	pkt := packet.New(300)
	var shot int
	for i := 0; i < n; i++ {
		frame := make([]byte, 60+r.IntN(80))
		for j := range frame {
			frame[j] = byte(r.Uint32())
		}
		frame[0] = 0xFF // broadcast: every frame is received
		copy(frame[1:6], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
		binary.BigEndian.PutUint16(frame[12:], []uint16{0x0800, 0x88B5}[r.IntN(2)])

		require.NoError(t, pkt.SetFrame(frame))
		require.NoError(t, pkt.Pull(pkt.MACLen())) // as received: data at the network header
		res := c.Classify(pkt)
		require.Equal(t, frame[14:], pkt.Data(), "data is back at the network header")

		before := counters()
		require.NoError(t, sock.Send(frame, 0))
		after := counters()
		for try := 0; try < 1000 && after.Packets == before.Packets && after.Drops == before.Drops; try++ {
			after = counters()
		}
		require.NotEqual(t, before, after, "frame %d never reached ingress", i)
		got := after.Drops != before.Drops
		require.Equal(t, res.Verdict == action.Shot, got, "frame %d %x: library verdict %v", i, frame, res.Verdict)
		if got {
			shot++
		}
	}
	require.NotZero(t, shot)
	require.Less(t, shot, n)
	t.Logf("%d ingress frames agreed with the kernel (%d dropped)", n, shot)
}
