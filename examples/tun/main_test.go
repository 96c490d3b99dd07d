//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// The rules of the test: packets are IPv4 without an Ethernet header.
var tunRules = []string{
	// ld [16] (destination); jeq #10.9.0.66 → drop (2), else continue.
	`tc filter add dev tin ingress protocol ip pref 1 bpf da bytecode '4,32 0 0 16,21 0 1 168362050,6 0 0 2,6 0 0 4294967295'`,
	// ld [16]; jeq #10.9.0.3 → class 1:2 (redirected to tred).
	`tc filter add dev tin ingress protocol ip pref 2 bpf bytecode '4,32 0 0 16,21 0 1 168361987,6 0 0 4294967295,6 0 0 0' classid 1:2`,
}

// TestTUNPath runs the command in a private network namespace: a UDP
// socket sends to three addresses routed into the input TUN device; the
// kernel writes the datagrams there with partial checksums and a virtio
// header; the command passes those for 10.9.0.2 into tpass, redirects
// those for 10.9.0.3 (class 1:2) into tred and drops those for
// 10.9.0.66. Sockets on tpass's and tred's addresses must receive exactly
// their datagrams, from the far side of each subnet, with checksums the
// kernel accepts.
func TestTUNPath(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		kerneltest.Skip(t, "no /dev/net/tun: "+err.Error())
	}
	ns := kerneltest.NewNetNS(t)
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"} {
		ns.MustRun(t, "sysctl", "-qw", k)
	}
	hooks := &nsHooks{do: ns.Do, run: func(name string, args ...string) error {
		_, err := ns.Run(name, args...)
		return err
	}}
	args := []string{"-in", "tin:10.9.0.1/24", "-pass", "tpass:10.9.1.1/24", "-redirect", "1:2=tred:10.9.2.1/24"}
	for _, r := range tunRules {
		args = append(args, "-rule", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	ready := make(chan *Path, 1)
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr, hooks, func(p *Path) { ready <- p }) }()
	var p *Path
	select {
	case p = <-ready:
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, stderr.String())
	}

	var sender, passRecv, redRecv *net.UDPConn
	require.NoError(t, ns.Do(func() error {
		var err error
		if passRecv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 9, 1, 1), Port: 7000}); err != nil {
			return err
		}
		if redRecv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 9, 2, 1), Port: 7000}); err != nil {
			return err
		}
		sender, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1)})
		return err
	}))
	defer sender.Close()
	defer passRecv.Close()
	defer redRecv.Close()

	const per = 20
	want := map[string][]string{}
	for i := 0; i < per; i++ {
		for _, dst := range []string{"10.9.0.2", "10.9.0.3", "10.9.0.66"} {
			payload := fmt.Sprintf("%s-%02d-%s", dst, i, string(bytes.Repeat([]byte{'x'}, i)))
			_, err := sender.WriteToUDP([]byte(payload), &net.UDPAddr{IP: net.ParseIP(dst), Port: 7000})
			require.NoError(t, err)
			want[dst] = append(want[dst], payload)
		}
	}
	senderPort := sender.LocalAddr().(*net.UDPAddr).Port
	collect := func(c *net.UDPConn, from string) []string {
		var got []string
		buf := make([]byte, 2048)
		for len(got) < per {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, addr, err := c.ReadFromUDP(buf)
			if err != nil {
				break
			}
			assert.Equal(t, fmt.Sprintf("%s:%d", from, senderPort), addr.String())
			got = append(got, string(buf[:n]))
		}
		// Nothing more arrives.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
		if n, _, err := c.ReadFromUDP(buf); err == nil {
			got = append(got, string(buf[:n]))
		}
		sort.Strings(got)
		return got
	}
	assert.Equal(t, want["10.9.0.2"], collect(passRecv, "10.9.1.2"), "passed into tpass")
	assert.Equal(t, want["10.9.0.3"], collect(redRecv, "10.9.2.2"), "redirected into tred")

	require.Eventually(t, func() bool { return p.Stats().Received >= 3*per }, 5*time.Second, time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done, stderr.String())

	st := p.Stats()
	assert.Equal(t, uint64(3*per), st.Received, "the kernel sent nothing else into tin")
	assert.Equal(t, uint64(per), st.Dropped)
	assert.Equal(t, map[string]uint64{"tpass": per, "tred": per}, st.Delivered)
	assert.Equal(t, uint64(2*per), st.CsumCompleted, "the kernel handed partial checksums (TUN_F_CSUM)")
	assert.Zero(t, st.CsumBad)
	assert.Zero(t, st.BadHeader+st.NotForwarded+st.WriteErrors)

	out := stdout.String()
	assert.Contains(t, out, "classifying packets written to tin (10.9.0.1/24) with 2 rules\n")
	assert.Contains(t, out, "filter protocol ip pref 1 bpf chain 0 handle 0x1 direct-action not_in_hw bytecode '4,32 0 0 16,21 0 1 168362050,6 0 0 2,6 0 0 4294967295'\n")
	assert.Contains(t, out, "filter protocol ip pref 2 bpf chain 0 handle 0x1 flowid 1:2 not_in_hw bytecode")
	assert.Contains(t, out, fmt.Sprintf("%-24s %8d\n", "passed to tpass", per))
	assert.Contains(t, out, fmt.Sprintf("%-24s %8d\n", "redirected to tred", per))
	assert.Contains(t, out, fmt.Sprintf("%-24s %8d\n", "dropped", per))
	assert.Contains(t, out, fmt.Sprintf("%-24s %8d\n", "checksums completed", 2*per))
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-in", "nonsense"}, &bytes.Buffer{}, &stderr, nil, nil))
	assert.Contains(t, stderr.String(), "want NAME:IPv4/BITS")
	stderr.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"-redirect", "1:2"}, &bytes.Buffer{}, &stderr, nil, nil))
	assert.Contains(t, stderr.String(), "want CLASSID=NAME:ADDRESS/BITS")
}
