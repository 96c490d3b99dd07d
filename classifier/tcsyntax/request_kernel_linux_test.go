//go:build linux

package tcsyntax_test

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// tcRequest runs tc under strace in the namespace and returns the
// RTM_NEWTFILTER message it sent (nlmsghdr included), nil when tc sent
// none (its parser refused the line).
func tcRequest(t *testing.T, ns *kerneltest.NetNS, words []string) []byte {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "trace")
	args := append([]string{"-f", "-qq", "-e", "trace=sendmsg", "-e", "write=all", "-o", trace, "tc", "filter", "add", "dev", "t0"}, words...)
	_, _ = ns.Run("strace", args...)
	f, err := os.Open(trace)
	require.NoError(t, err)
	defer f.Close()
	var msgs [][]byte
	var cur []byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " * ") {
			if cur != nil {
				msgs = append(msgs, cur)
			}
			cur = []byte{}
			continue
		}
		if !strings.HasPrefix(line, " | ") || cur == nil {
			continue
		}
		// " | 00000  7c 00 00 00 2c 00 05 06  72 82 07 6b 00 00 00 00  |...|"
		hexPart := line[10:min(len(line), 10+50)]
		for _, h := range strings.Fields(hexPart) {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 1 {
				break
			}
			cur = append(cur, b[0])
		}
	}
	if cur != nil {
		msgs = append(msgs, cur)
	}
	for _, m := range msgs {
		if len(m) >= 16 && binary.LittleEndian.Uint16(m[4:]) == 44 { // RTM_NEWTFILTER
			return m[:min(len(m), int(binary.LittleEndian.Uint32(m)))]
		}
	}
	return nil
}

// Attribute contexts for canon.
const (
	ctxTop = iota
	ctxBpf
	ctxActList
	ctxAct
	ctxPolice
	ctxLeafOpts
)

// canon prints an attribute stream in a form that is equal for equal
// requests as the kernel reads them: of several attributes of one type the
// last (nla_parse keeps it; tc sends every classid given), sorted by type
// (order does not matter to nla_parse), the NLA_F_NESTED bit
// dropped, nests opened where the kernel parses them, and police rate
// tables compared by length only (the kernel reads nothing from them when
// the rate names its link layer, as tc's always does).
func canon(b []byte, ctx int, kind string) string {
	type attr struct {
		typ  uint16
		text string
	}
	var list []attr
	if ctx == ctxAct {
		kind = actKind(b)
	}
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:]) & 0x3FFF
		if l < 4 || l > len(b) {
			list = append(list, attr{0xFFFF, "trailing " + hex.EncodeToString(b)})
			break
		}
		data := b[4:l]
		text := hex.EncodeToString(data)
		switch {
		case ctx == ctxTop && typ == 2:
			text = "{" + canon(data, ctxBpf, "") + "}"
		case ctx == ctxBpf && typ == 1:
			text = "{" + canon(data, ctxActList, "") + "}"
		case ctx == ctxBpf && typ == 2:
			text = "{" + canon(data, ctxPolice, "") + "}"
		case ctx == ctxActList:
			text = "{" + canon(data, ctxAct, "") + "}"
		case ctx == ctxAct && typ == 2:
			if kind == "police" {
				text = "{" + canon(data, ctxPolice, "") + "}"
			} else {
				text = "{" + canon(data, ctxLeafOpts, kind) + "}"
			}
		case ctx == ctxPolice && (typ == 2 || typ == 3):
			text = fmt.Sprintf("table of %d bytes", len(data))
		}
		list = append(list, attr{typ, fmt.Sprintf("%d=%s", typ, text)})
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	// nla_parse keeps the last attribute of a type.
	last := map[uint16]int{}
	for i, a := range list {
		last[a.typ] = i
	}
	kept := list[:0]
	for i, a := range list {
		if last[a.typ] == i {
			kept = append(kept, a)
		}
	}
	list = kept
	sort.SliceStable(list, func(i, j int) bool { return list[i].typ < list[j].typ })
	var parts []string
	for _, a := range list {
		parts = append(parts, a.text)
	}
	return strings.Join(parts, " ")
}

// actKind finds TCA_ACT_KIND in an action nest's attribute stream.
func actKind(b []byte) string {
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return ""
		}
		if binary.LittleEndian.Uint16(b[2:])&0x3FFF == 1 {
			return strings.TrimRight(string(b[4:l]), "\x00")
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			return ""
		}
		b = b[l:]
	}
	return ""
}

// genActionLine builds a filter line rich in actions of every kind, in
// the forms tc's m_*.c parsers take (and some they refuse).
func genActionLine(r *rand.Rand) string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	ctl := func() string {
		return pick("", "", "pass", "drop", "pipe", "continue", "reclassify", "trap", "ok", "shot", "p", "d", "goto chain 3", "jump 1")
	}
	w := []string{pick("ingress", "egress"), "pref", pick("1", "5"), "bpf", "bc", "'1,6 0 0 0'"}
	for n := 1 + r.IntN(3); n > 0; n-- {
		w = append(w, "action")
		switch r.IntN(8) {
		case 0:
			w = append(w, pick("gact", ""), pick("drop", "pass", "pipe", "reclassify", "continue", "trap", "goto chain 7", "jump 2", "index 4"))
			if r.IntN(3) == 0 {
				w = append(w, "random", pick("netrand", "determ"), pick("drop", "pass", "pipe"), pick("1", "10", "10000", "10001"))
			}
		case 1:
			w = append(w, "mirred", pick("egress", "ingress"), pick("redirect", "mirror"), "dev", pick("t0", "t1"))
			if r.IntN(2) == 0 {
				w = append(w, ctl())
			}
		case 2:
			w = append(w, "skbedit")
			for k := 1 + r.IntN(2); k > 0; k-- {
				w = append(w, pick("mark 7", "mark 0x10/0xff", "priority 1:5", "priority 10", "ptype host", "ptype otherhost", "queue_mapping 3", "inheritdsfield", "mark -1"))
			}
			w = append(w, ctl())
		case 3:
			w = append(w, "police", pick("rate 1mbit burst 10k", "rate 100kbit burst 1k mtu 2k", "rate 8gbit burst 1m", "rate 1mbit burst 10k peakrate 2mbit mtu 1500",
				"rate 1.5mbit burst 15k/8 mpu 64 overhead 14 linklayer atm", "avrate 1mbit", "pkts_rate 1000 pkts_burst 100", "mtu 9000", "rate 10Mbps burst 64k"),
				pick("", "drop", "pass", "continue", "conform-exceed drop/pass", "conform-exceed reclassify/ok", "conform-exceed pipe"))
		case 4:
			w = append(w, "vlan", pick("pop", "push id 10", "push id 100 protocol 802.1ad", "push id 5 priority 3", "modify id 7", "push id 4095",
				"push_eth dst_mac 02:00:00:00:00:01 src_mac 02:00:00:00:00:02", "pop_eth"), ctl())
		case 5:
			w = append(w, "csum", pick("iph", "iph and tcp", "udp or udplite", "icmp + igmp", "csum udp csum tcp", "sctp", "tcp udp"), ctl())
		case 6:
			w = append(w, "bpf", pick("bytecode '1,6 0 0 0'", "bc '2,6 0 0 1,6 0 0 2'", "run bytecode '1,6 0 0 4294967295'"), ctl())
		case 7:
			w = append(w, pick("drop", "pass", "pipe", "trap", "mirred index 5", "police index 9", "bpf index 3", "skbedit index 4",
				"vlan pop index 3", "skbedit ptype b mark 1", "skbedit queue_mapping 2 skbhash 5", "mirred ingress mirror dev t1 drop index 4",
				"gact pass random determ drop 10 index 5", "vlan modify id 7 priority 3 protocol 802.1q"))
		}
		if r.IntN(3) == 0 {
			w = append(w, "index", pick("1", "2", "100"))
		}
		if r.IntN(5) == 0 {
			w = append(w, "cookie", pick("aa", "0102030405060708"))
		}
		if r.IntN(6) == 0 {
			w = append(w, "no_percpu")
		}
	}
	if r.IntN(3) == 0 {
		w = append(w, "classid", "1:1")
	}
	return strings.Join(strings.Fields(strings.Join(w, " ")), " ")
}

// TestKernelRequestBytes compares, byte for byte after canon, the
// RTM_NEWTFILTER request tc sends for each generated line (captured with
// strace) with Filter.Message: the header fields, the netlink flags of
// the command and every attribute, for all action kinds, including those
// this kernel lacks (gact, police, skbedit, vlan, csum, bpf), whose
// options tc encodes before the kernel refuses them.
func TestKernelRequestBytes(t *testing.T) {
	for _, tool := range []string{"tc", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			kerneltest.Skip(t, tool+" not installed")
		}
	}
	ns := kerneltest.NewNetNS(t)
	for _, k := range []string{"all", "default"} {
		ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
	ns.MustRun(t, "ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
	devs := tcsyntax.DeviceMap{"t0": uint32(ns.Ifindex(t, "t0")), "t1": uint32(ns.Ifindex(t, "t1"))}

	// The kernel's answers do not matter here (the filters pile up, and
	// many are refused): only what tc sends is compared.
	const lines = 400
	r := rand.New(rand.NewPCG(21, 22))
	compared := 0
	kinds := map[string]int{}
	for i := 0; i < lines; i++ {
		line := genLine(r)
		if i%3 != 0 {
			line = genActionLine(r)
		}
		words, err := tcsyntax.Split(line)
		require.NoError(t, err)
		want := tcRequest(t, ns, words)
		f, perr := tcsyntax.ParseFilter("tc filter add dev t0 "+line, tcsyntax.Config{Devices: devs})
		if !errors.Is(perr, syscall.EOPNOTSUPP) {
			require.Equal(t, want != nil, perr == nil, "line %d: tc sent a request, or we parsed: %s: %v", i, line, perr)
		}
		if want == nil || perr != nil {
			continue
		}
		m, err := f.Message()
		require.NoError(t, err, line)
		assert.Equal(t, uint16(44), m.Type)
		const createExcl = 0x400 | 0x200
		assert.Equal(t, binary.LittleEndian.Uint16(want[6:])&createExcl, m.Flags&createExcl, "line %d: netlink flags: %s", i, line)
		body := m.Body()
		require.GreaterOrEqual(t, len(want), 16+20)
		assert.Equal(t, hex.EncodeToString(want[16:36]), hex.EncodeToString(body[:20]), "line %d: struct tcmsg: %s", i, line)
		assert.Equal(t, canon(want[36:], ctxTop, ""), canon(body[20:], ctxTop, ""), "line %d: attributes: %s", i, line)
		compared++
		for _, w := range words {
			switch w {
			case "gact", "mirred", "police", "skbedit", "vlan", "csum", "bpf":
				kinds[w]++
			}
		}
	}
	t.Logf("%d of %d lines: tc's request and Message compared; words by kind: %v", compared, lines, kinds)
	assert.GreaterOrEqual(t, compared, 200)
}
