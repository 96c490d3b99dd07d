//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestKernelHTB installs the default filter specs, word for word, with the
// real tc on the HTB root qdisc of a veth (one class per classid, 1:ff for
// frames no filter takes), sends the sample capture through it, and
// compares the kernel's per-class packet and byte counters with the
// command's report for the egress hook.
func TestKernelHTB(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		kerneltest.Skip(t, "iproute2 tc not installed")
	}
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "cl0", "type", "veth", "peer", "name", "cl1")
	for _, dev := range []string{"all", "default", "cl0", "cl1"} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "set", "cl0", "up")
	ns.MustRun(t, "ip", "link", "set", "cl1", "up")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "cl0", "root", "handle", "1:", "htb", "default", "ff"); err != nil {
		kerneltest.Skip(t, "htb qdisc unavailable: "+err.Error())
	}
	ns.MustRun(t, "tc", "class", "add", "dev", "cl0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit")
	const defaultClass = handle.Handle(0x100ff)
	for _, minor := range []string{"10", "20", "30", "40", "50", "90", "99", "ff"} {
		ns.MustRun(t, "tc", "class", "add", "dev", "cl0", "parent", "1:1", "classid", "1:"+minor, "htb", "rate", "10gbit")
	}
	for _, d := range defaultFilters {
		words, err := tokenize(d.spec)
		require.NoError(t, err)
		ns.MustRun(t, "tc", append([]string{"filter", "add", "dev", "cl0", "parent", "1:"}, words...)...)
	}

	want, err := runCapture(options{hook: "egress"}, nil)
	require.NoError(t, err)
	wantClasses := map[handle.Handle][2]uint64{}
	for h, n := range want.classFrames {
		wantClasses[h] = [2]uint64{uint64(n), uint64(want.classBytes[h])}
	}
	if want.noClassFrames > 0 {
		wantClasses[defaultClass] = [2]uint64{uint64(want.noClassFrames), uint64(want.noClassByte)}
	}

	sock := ns.PacketSocket(t, "cl0")
	c, err := openCapture(sampleCapture)
	require.NoError(t, err)
	sent := 0
	for {
		frame, _, _, err := c.read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, sock.Send(frame, 0), "frame %d", c.n)
		sent++
	}

	rt := ns.Rtnl(t)
	ifindex := ns.Ifindex(t, "cl0")
	var got map[handle.Handle][2]uint64
	deadline := time.Now().Add(5 * time.Second)
	for {
		classes, err := rt.Classes(ifindex)
		require.NoError(t, err)
		got = map[handle.Handle][2]uint64{}
		total := 0
		for h, st := range classes {
			if h == 0x10001 || st.Packets == 0 {
				continue // the parent class counts its children again
			}
			got[handle.Handle(h)] = [2]uint64{uint64(st.Packets), st.Bytes}
			total += int(st.Packets)
		}
		if total >= sent || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, fmt.Sprint(wantClasses), fmt.Sprint(got), "per-class [packets bytes]: clsbpf, then the kernel")
	t.Logf("%d frames of the sample classified by the kernel's cls_bpf under HTB, %d classes compared", sent, len(got))
}
