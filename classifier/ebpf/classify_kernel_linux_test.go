//go:build linux

package ebpf_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestClassifyAgainstKernel attaches two clang-built programs to the
// kernel's clsact ingress of a veth by TCA_BPF_FD (the port classifier in
// classic mode, run first, and the LPM ACL in direct-action mode) and the
// same objects' programs to a Chain with the same options. Frames sent
// from the peer must be dropped by the kernel exactly when the library's
// verdict is Shot, and the port counters the programs keep must agree
// afterwards: the MAC push at ingress, the classic/direct-action readings
// and the maps all take part.
func TestClassifyAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
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
	rt := ns.Rtnl(t)
	ifindex := ns.Ifindex(t, "veth1")
	const parent = 0xFFFFFFF2
	sock := ns.PacketSocket(t, "veth0")

	kport := kernelObject(t, filepath.Join("testdata", "port.o"))
	klpm := kernelObject(t, filepath.Join("testdata", "lpm.o"))
	lport := loadCollection(t, "port", ebpf.CollectionOptions{Slots: 1})
	llpm := loadCollection(t, "lpm", ebpf.CollectionOptions{Slots: 1})
	for i, port := range []uint16{80, 443} {
		v := append(u32le(0x10010+uint32(i)), make([]byte, 12)...)
		require.NoError(t, kport.Maps["ports"].Put(u16le(port), v))
		require.NoError(t, lport.Maps["ports"].Put(u16le(port), v))
	}
	for _, e := range []struct {
		key []byte
		val uint32
	}{
		{append(u32le(16), 10, 1, 0, 0), 1}, // drop 10.1.0.0/16
		{append(u32le(24), 10, 1, 2, 0), 0}, // but pass 10.1.2.0/24
	} {
		require.NoError(t, klpm.Maps["acl"].Put(e.key, u32le(e.val)))
		require.NoError(t, llpm.Maps["acl"].Put(e.key, u32le(e.val)))
	}

	var table ebpf.ProgramTable
	lpmFD, portFD := table.Add(llpm.Programs["lpm_acl"]), table.Add(lport.Programs["port_classifier"])
	chain := classifier.New(classifier.Config{Programs: &table})
	filters := []struct {
		h    uint32
		opts func(fd uint32) []byte
		kfd  int
		lfd  uint32
	}{
		// Oldest, runs last.
		{1, func(fd uint32) []byte {
			o := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, fd)
			o = nlattr.AppendString(o, uapi.TCA_BPF_NAME, "lpm.o:[tc]")
			return nlattr.AppendUint32(o, uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
		}, klpm.Programs["lpm_acl"].FD(), lpmFD},
		// Newest, runs first: a match (a known port, or -1 for an unknown
		// one) ends classification with OK; 0 (not TCP/UDP over IPv4)
		// goes on to the ACL.
		{2, func(fd uint32) []byte {
			o := nlattr.AppendUint32(nil, uapi.TCA_BPF_CLASSID, 0x10001)
			o = nlattr.AppendUint32(o, uapi.TCA_BPF_FD, fd)
			return nlattr.AppendString(o, uapi.TCA_BPF_NAME, "port.o:[classifier]")
		}, kport.Programs["port_classifier"].FD(), portFD},
	}
	for _, f := range filters {
		_, err := chain.ChangeNetlink(classifier.Request{Handle: f.h, Flags: classifier.Create | classifier.Excl, Options: f.opts(f.lfd), Ingress: true})
		require.NoError(t, err)
		attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, f.opts(uint32(f.kfd)))
		tcm := kerneltest.Tcmsg{Ifindex: ifindex, Handle: f.h, Parent: parent, Info: kerneltest.FilterInfo(10, uapi.ETH_P_ALL)}
		_, err = rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
		require.NoError(t, err)
	}

	counters := func() kerneltest.ClassStats {
		qs, err := rt.QdiscStats(ifindex)
		require.NoError(t, err)
		for h, s := range qs {
			if h&0xFFFF0000 == 0xFFFF0000 {
				return s
			}
		}
		t.Fatal("no clsact qdisc in the dump")
		return kerneltest.ClassStats{}
	}

	n := 120
	if testing.Short() {
		n = 40
	}
	r := rand.New(rand.NewPCG(3, 9))
	pkt := packet.New(300)
	shot := 0
	for i := range n {
		src := [4]byte{10, 1, byte(r.IntN(4)), byte(r.IntN(8))}
		if r.IntN(3) == 0 {
			src = [4]byte{172, 16, 0, byte(r.IntN(8))}
		}
		frame := corpusTCP([]uint16{80, 443, 22, 53}[r.IntN(4)], src, r.IntN(40))
		copy(frame[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		switch r.IntN(5) {
		case 0:
			frame[23] = 1 // ICMP: no port, the ACL decides
		case 1:
			frame[23] = 17
		}

		require.NoError(t, pkt.SetFrame(frame))
		require.NoError(t, pkt.Pull(pkt.MACLen())) // as received
		res := chain.Classify(pkt)

		before := counters()
		require.NoError(t, sock.Send(frame, 0))
		after := counters()
		for try := 0; try < 1000 && after.Packets == before.Packets && after.Drops == before.Drops; try++ {
			after = counters()
		}
		require.NotEqual(t, before, after, "frame %d never reached ingress", i)
		dropped := after.Drops != before.Drops
		require.Equal(t, dropped, res.Verdict == action.Shot, "frame %d %x: library verdict %v", i, frame, res.Verdict)
		if dropped {
			shot++
		}
	}
	assert.NotZero(t, shot)
	assert.Less(t, shot, n)
	assert.Equal(t, dumpKernelMap(t, kport.Maps["ports"]), dumpLibMap(t, lport.Maps["ports"]), "port counters")
}
