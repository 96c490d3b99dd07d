//go:build linux

package tcsyntax_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// nsForwarder names the namespace's devices for mirred, as the kernel's
// device table does; packets are not sent anywhere in this test.
type nsForwarder struct{ devs tcsyntax.DeviceMap }

func (f nsForwarder) Device(ifindex uint32) (action.DeviceState, bool) {
	n, ok := f.devs.Name(ifindex)
	return action.DeviceState{Up: true, MACHeaderXmit: true, Name: n}, ok
}

func (nsForwarder) Forward(*packet.Packet, action.Forward) error { return nil }

// genLine builds one random filter line from pieces that tc accepts and
// pieces that it refuses, so that both acceptance and the printed form
// are compared.
func genLine(r *rand.Rand) string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	// Half the lines use only pieces tc and the kernel accept, so that
	// enough listings are compared.
	valid := r.IntN(2) == 0
	if valid {
		pick = func(opts ...string) string { return opts[r.IntN(min(len(opts), 3))] }
	}
	var w []string
	w = append(w, pick("ingress", "egress"))
	if r.IntN(3) > 0 {
		w = append(w, pick("protocol", "proto", "prot"), pick("ip", "ipv6", "all", "arp", "802.1Q", "802.1ad", "0x1234", "IP", "0x88cc", "mpls_uc", "bogus", "70000"))
	}
	if r.IntN(3) > 0 {
		w = append(w, pick("pref", "prio", "preference", "priority"), pick("1", "7", "100", "0x20", "65535", "0", "65536", "x"))
	}
	if r.IntN(3) == 0 {
		w = append(w, "handle", pick("1", "0x10", "077", "4294967295", "0", "h1"))
	}
	if r.IntN(4) == 0 {
		w = append(w, "chain", pick("0", "3", "0x7", "chainx"))
	}
	w = append(w, "bpf")
	if r.IntN(6) == 0 {
		w = append(w, pick("da", "direct-action", "skip_hw"))
	}
	w = append(w, pick("bytecode", "bc", "byte", "run bytecode"))
	w = append(w, "'"+pick(
		"1,6 0 0 4294967295",
		"1,6 0 0 0",
		"4,40 0 0 12,21 0 1 2048,6 0 0 65537,6 0 0 0",
		"2,6 0 0 1,6 0 0 2",
		"0,",
		"3,32 0 0 0,21 0 1 7,6 0 0 4294967295",
		"1,6 0 0 0,",
		"x")+"'")
	for n := r.IntN(4); n > 0; n-- {
		k := r.IntN(12)
		if valid {
			k = r.IntN(6)
		}
		switch k {
		case 0, 1:
			w = append(w, pick("classid", "flowid", "class", "fl"), pick("1:10", "1:", ":a", "ffff:ffff", "10", "zz:1", "1:10000"))
		case 2:
			w = append(w, pick("da", "direct-action", "d"))
		case 3:
			w = append(w, pick("skip_hw", "s", "skip_sw"))
		case 4, 5:
			w = append(w, "action", "mirred", "egress", pick("redirect", "mirror", "red"), "dev", pick("t1", "t0", "nosuch"))
			if r.IntN(3) == 0 {
				w = append(w, "index", pick("3", "9", "x"))
			}
			if r.IntN(3) == 0 {
				w = append(w, "cookie", pick("12ab", "00112233445566778899aabbccddeeff", "0a", "abc", "zz"))
			}
		case 6:
			w = append(w, "action", pick("gact", "drop", "pass"), pick("drop", "pass", "goto chain 1", "jump 1", "bogus", "index 5"))
		case 7:
			w = append(w, "action", "police", pick("rate 1mbit burst 10k", "rate 1mbit", "rate 2mbit burst 20k conform-exceed drop/pass", "avrate 1mbit", "drop"))
		case 8:
			w = append(w, "action", "skbedit", pick("mark 5", "mark 5/0xff", "priority 1:2", "ptype host", "ptype bogus", "queue_mapping x"))
		case 9:
			w = append(w, "action", "vlan", pick("pop", "push id 10", "push", "modify id 5 priority 3", "push id 10 priority 9"))
		case 10:
			w = append(w, "action", "csum", pick("iph and tcp", "udp", "ipx", "icmp or igmp"))
		case 11:
			w = append(w, pick("bytcode", "verbose", "action bpf bytecode '1,6 0 0 0'", "action bpf run", "police rate 1mbit burst 10k"))
		}
	}
	return strings.Join(w, " ")
}

// missingModule says whether tc's error shows that it parsed the line
// and the kernel lacks the action module it names.
func missingModule(out string) bool {
	return strings.Contains(out, "Failed to load TC action module") || strings.Contains(out, "action") && strings.Contains(out, "not found")
}

// normalise hides the one thing that cannot match: an action's ages
// ("installed 0 sec used 0 sec"), wall-clock readings that tc prints
// whenever they are known and the action table prints only once they are
// at least one tick old.
var ageRE = regexp.MustCompile(` (installed|used|firstused) \d+ sec`)

func normalise(s string) string { return ageRE.ReplaceAllString(s, "") }

// TestKernelFilterLines feeds generated filter lines to tc in a private
// network namespace (clsact on a veth) and to ParseFilter + Apply on a
// Block, and compares whether each is accepted and, when both accept,
// what `tc filter show` and `tc -s filter show` print with what Show
// prints. Lines with action kinds this kernel lacks (gact, police,
// skbedit, vlan, csum, bpf) are compared on tc's parser alone: tc parsed
// them when the kernel answers that the module is missing.
func TestKernelFilterLines(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		kerneltest.Skip(t, "iproute2 tc not installed")
	}
	ns := kerneltest.NewNetNS(t)
	// No IPv6 (router solicitations, MLD reports): the only packets
	// that could reach the hooks, whose counters the listings show.
	for _, k := range []string{"all", "default"} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
	ns.MustRun(t, "ip", "link", "set", "t0", "up")
	ns.MustRun(t, "ip", "link", "set", "t1", "up")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
	devs := tcsyntax.DeviceMap{"t0": uint32(ns.Ifindex(t, "t0")), "t1": uint32(ns.Ifindex(t, "t1"))}
	cfg := tcsyntax.Config{Devices: devs}

	const lines = 400
	r := rand.New(rand.NewPCG(11, 10))
	var bothAccepted, bothRefused, parserOnly, shown int
	for i := 0; i < lines; i++ {
		line := genLine(r)
		words, err := tcsyntax.Split(line)
		require.NoError(t, err, line)
		ingress := words[0] == "ingress"
		hook := words[0]

		out, tcErr := ns.Run("tc", append([]string{"filter", "add", "dev", "t0"}, words...)...)
		// tc says "We have an error talking to the kernel" when it parsed
		// the line and the kernel refused it; its own parser fails before.
		tcParsed := tcErr == nil || strings.Contains(out, "talking to the kernel")

		f, perr := tcsyntax.ParseFilter("tc filter add dev t0 "+line, cfg)
		unsupported := perr != nil && errors.Is(perr, syscall.EOPNOTSUPP)
		if !unsupported {
			require.Equal(t, tcParsed, perr == nil, "line %d: %s\ntc: %v %s\nours: %v", i, line, tcErr, out, perr)
		}
		if perr != nil {
			if !errors.Is(perr, syscall.ENODEV) {
				assert.ErrorIs(t, perr, syscall.EINVAL, "line %d: %s", i, line)
			}
			if tcParsed {
				parserOnly++
			} else {
				bothRefused++
			}
			if tcErr == nil {
				// tc installed what this package does not configure.
				cleanup(t, ns, strings.Contains(line, "mirred"))
			}
			continue
		}
		if tcErr != nil && missingModule(out) {
			// A refused request leaves the kernel as it was: no cleanup.
			parserOnly++
			continue
		}
		parent := uint32(0xFFFFFFF3)
		if ingress {
			parent = 0xFFFFFFF2
		}
		table := action.NewTable(action.Config{Forwarder: nsForwarder{devs}})
		blk := classifier.NewBlock(classifier.BlockConfig{
			Config:  classifier.Config{Actions: classifier.NewActionParser(table)},
			Ifindex: int32(devs["t0"]), Parent: parent,
		})
		aerr := f.Apply(blk)
		require.Equal(t, tcErr == nil, aerr == nil, "line %d: %s\ntc: %v %s\nours: %v", i, line, tcErr, out, aerr)
		if aerr != nil {
			bothRefused++
			continue
		}
		bothAccepted++
		for _, stats := range []bool{false, true} {
			argv := []string{"filter", "show", "dev", "t0", hook}
			if stats {
				argv = append([]string{"-s"}, argv...)
			}
			want := ns.MustRun(t, "tc", argv...)
			var got bytes.Buffer
			require.NoError(t, tcsyntax.Show(&got, blk, tcsyntax.ShowOptions{Stats: stats}))
			assert.Equal(t, normalise(want), normalise(got.String()), "line %d (stats %v): %s", i, stats, line)
			shown++
		}
		cleanup(t, ns, strings.Contains(line, "mirred"))
	}
	t.Logf("%d lines: %d accepted by both (%d listings compared), %d refused by both, %d parsed by both for kinds the kernel lacks",
		lines, bothAccepted, shown, bothRefused, parserOnly)
	assert.GreaterOrEqual(t, bothAccepted, 100)
	assert.GreaterOrEqual(t, bothRefused, 20)
}

// cleanup removes every filter of every chain by recreating the clsact
// qdisc. The kernel releases a deleted filter's actions from a work
// queue, so with actions it also waits (up to two seconds) until no
// mirred action is left: a later line naming the same index must create
// the action anew, not bind to a leftover.
func cleanup(t *testing.T, ns *kerneltest.NetNS, actions bool) {
	t.Helper()
	ns.MustRun(t, "tc", "qdisc", "del", "dev", "t0", "clsact")
	deadline := time.Now().Add(2 * time.Second)
	for actions {
		_, _ = ns.Run("tc", "actions", "flush", "action", "mirred")
		out, _ := ns.Run("tc", "actions", "list", "action", "mirred")
		if !strings.Contains(out, "action order") || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
}

// seqLine builds one command of a sequence: add, replace or change of a
// filter at a few preferences, protocols, handles and chains, so that
// lines meet earlier filters (EEXIST, protocol mismatches, replaced
// programs, automatic preferences below existing ones).
func seqLine(r *rand.Rand, hook string) string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	w := []string{"tc", "filter", pick("add", "add", "replace", "change"), "dev", "t0", hook}
	if r.IntN(4) > 0 {
		w = append(w, "protocol", pick("ip", "ipv6", "all", "arp"))
	}
	if r.IntN(4) > 0 {
		w = append(w, "pref", pick("1", "2", "10", "49152", "49151"))
	}
	if r.IntN(2) == 0 {
		w = append(w, "handle", pick("1", "2", "0x10"))
	}
	if r.IntN(4) == 0 {
		w = append(w, "chain", pick("0", "1", "5"))
	}
	w = append(w, "bpf", pick("", "da"), "bytecode", "'"+pick("1,6 0 0 4294967295", "1,6 0 0 0", "2,6 0 0 1,6 0 0 2")+"'")
	if r.IntN(2) == 0 {
		w = append(w, "classid", pick("1:1", "1:2", ":7"))
	}
	if r.IntN(3) == 0 {
		w = append(w, "action", "mirred", "egress", pick("redirect", "mirror"), "dev", "t1")
		if r.IntN(2) == 0 {
			w = append(w, "index", pick("1", "2"))
		}
	}
	if r.IntN(5) == 0 {
		w = append(w, "skip_hw")
	}
	return strings.Join(strings.Fields(strings.Join(w, " ")), " ")
}

// TestKernelFilterSequences applies sequences of add, replace and change
// commands to tc and to one Block each, comparing every answer and, after
// each command, the whole listing: several classifiers, chains and filters
// per classifier in the kernel's order, actions shared by index.
func TestKernelFilterSequences(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		kerneltest.Skip(t, "iproute2 tc not installed")
	}
	ns := kerneltest.NewNetNS(t)
	// No IPv6 (router solicitations, MLD reports): the only packets
	// that could reach the hooks, whose counters the listings show.
	for _, k := range []string{"all", "default"} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
	ns.MustRun(t, "ip", "link", "set", "t0", "up")
	ns.MustRun(t, "ip", "link", "set", "t1", "up")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
	devs := tcsyntax.DeviceMap{"t0": uint32(ns.Ifindex(t, "t0")), "t1": uint32(ns.Ifindex(t, "t1"))}
	cfg := tcsyntax.Config{Devices: devs}

	const groups, steps = 25, 8
	r := rand.New(rand.NewPCG(3, 4))
	var accepted, refused, listings int
	for g := 0; g < groups; g++ {
		hook := []string{"ingress", "egress"}[g%2]
		parent := uint32(0xFFFFFFF2 + g%2)
		table := action.NewTable(action.Config{Forwarder: nsForwarder{devs}})
		blk := classifier.NewBlock(classifier.BlockConfig{
			Config:  classifier.Config{Actions: classifier.NewActionParser(table)},
			Ifindex: int32(devs["t0"]), Parent: parent,
		})
		var script []string
		for s := 0; s < steps; s++ {
			line := seqLine(r, hook)
			script = append(script, line)
			words, err := tcsyntax.Split(line)
			require.NoError(t, err)
			out, tcErr := ns.Run(words[0], words[1:]...)
			f, err := tcsyntax.ParseFilter(line, cfg)
			require.NoError(t, err, line)
			aerr := f.Apply(blk)
			require.Equal(t, tcErr == nil, aerr == nil, "group %d:\n%s\ntc: %v %s\nours: %v", g, strings.Join(script, "\n"), tcErr, out, aerr)
			if aerr != nil {
				refused++
				continue
			}
			accepted++
			for _, stats := range []bool{false, true} {
				argv := []string{"filter", "show", "dev", "t0", hook}
				if stats {
					argv = append([]string{"-s"}, argv...)
				}
				want := ns.MustRun(t, "tc", argv...)
				var got bytes.Buffer
				require.NoError(t, tcsyntax.Show(&got, blk, tcsyntax.ShowOptions{Stats: stats}))
				require.Equal(t, normalise(want), normalise(got.String()), "group %d (stats %v):\n%s", g, stats, strings.Join(script, "\n"))
				listings++
			}
		}
		cleanup(t, ns, true)
	}
	t.Logf("%d commands in %d sequences: %d accepted by both (%d listings compared), %d refused by both", groups*steps, groups, accepted, listings, refused)
	assert.GreaterOrEqual(t, accepted, 60)
	assert.GreaterOrEqual(t, refused, 20)
}
