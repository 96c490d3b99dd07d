package cbpf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden coverage reports")

// counts is one instruction's coverage: hits, taken, not taken.
type counts [3]uint64

func coverageOf(c *Coverage) []counts {
	out := make([]counts, c.Len())
	for pc := range out {
		h, t, n := c.Counts(pc)
		out[pc] = counts{h, t, n}
	}
	return out
}

// TestCoverageTCPDst80 covers `ip and tcp dst port 80` with packet sets
// whose paths are those of TestRunTraceTCPDst80: a SYN to 80 runs 0-9, one
// to 22 runs 0-8 and 10, an IPv6 frame runs 0, 1 and 10.
func TestCoverageTCPDst80(t *testing.T) {
	syn80, syn22, v6 := tcpSYN(64, 80), tcpSYN(64, 22), udp6(80)
	tests := []struct {
		name   string
		frames [][]byte
		want   []counts
	}{
		{"syn80", [][]byte{syn80}, []counts{
			{1, 0, 0}, // ldh [12]
			{1, 1, 0}, // jeq #0x800
			{1, 0, 0}, // ldb [23]
			{1, 1, 0}, // jeq #0x6
			{1, 0, 0}, // ldh [20]
			{1, 0, 1}, // jset #0x1fff
			{1, 0, 0}, // ldxb 4*([14]&0xf)
			{1, 0, 0}, // ldh [x + 16]
			{1, 1, 0}, // jeq #0x50
			{1, 0, 0}, // ret #262144
			{0, 0, 0}, // ret #0
		}},
		{"syn80_syn22_ipv6", [][]byte{syn80, syn22, v6}, []counts{
			{3, 0, 0}, // ldh [12]
			{3, 2, 1}, // jeq #0x800
			{2, 0, 0}, // ldb [23]
			{2, 2, 0}, // jeq #0x6
			{2, 0, 0}, // ldh [20]
			{2, 0, 2}, // jset #0x1fff
			{2, 0, 0}, // ldxb 4*([14]&0xf)
			{2, 0, 0}, // ldh [x + 16]
			{2, 1, 1}, // jeq #0x50
			{1, 0, 0}, // ret #262144
			{2, 0, 0}, // ret #0
		}},
	}
	p := loadTCPDst80(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCoverage(p)
			for _, f := range tc.frames {
				pkt := framePacket(t, f)
				assert.Equal(t, p.Run(pkt), c.Run(pkt))
			}
			assert.Equal(t, tc.want, coverageOf(c))
			assert.Equal(t, uint64(len(tc.frames)), c.Runs())
		})
	}
}

// TestCoverageMerge adds one coverage to another, and refuses another
// program's.
func TestCoverageMerge(t *testing.T) {
	p := loadTCPDst80(t)
	a, b := NewCoverage(p), NewCoverage(p)
	a.Run(framePacket(t, tcpSYN(64, 80)))
	b.Run(framePacket(t, tcpSYN(64, 22)))
	b.Run(framePacket(t, udp6(80)))
	require.NoError(t, a.Merge(b.Coverage))
	assert.Equal(t, uint64(3), a.Runs())
	h, tk, nt := a.Counts(1)
	assert.Equal(t, [3]uint64{3, 2, 1}, [3]uint64{h, tk, nt})

	other, err := LoadRaw(portClassifier)
	require.NoError(t, err)
	err = a.Merge(NewCoverage(other).Coverage)
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.Equal(t, uint64(3), a.Runs(), "a failed merge changes nothing")
}

// TestCoverageConcurrent runs one Coverage from several goroutines; its
// counters are atomic (the race detector checks the rest).
func TestCoverageConcurrent(t *testing.T) {
	p := loadTCPDst80(t)
	c := NewCoverage(p)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			pkt := framePacket(t, tcpSYN(64, []uint16{80, 22}[g%2]))
			for range 100 {
				c.Run(pkt)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(400), c.Runs())
	h, tk, nt := c.Counts(8)
	assert.Equal(t, [3]uint64{400, 200, 200}, [3]uint64{h, tk, nt})
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

// TestCoverageText pins the text report.
func TestCoverageText(t *testing.T) {
	c := NewCoverage(loadTCPDst80(t))
	c.Run(framePacket(t, tcpSYN(64, 80)))
	var b bytes.Buffer
	require.NoError(t, c.WriteText(&b))
	golden(t, "cover_tcp_dst_80.txt", b.Bytes())
}

// spanClasses returns the class attribute of every span with an id,
// by id.
func spanClasses(t *testing.T, doc *html.Node) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(n *html.Node, inPre bool)
	walk = func(n *html.Node, inPre bool) {
		if n.Type == html.ElementNode && n.Data == "span" {
			var id, class string
			for _, a := range n.Attr {
				switch a.Key {
				case "id":
					id = a.Val
				case "class":
					class = a.Val
				}
			}
			if id != "" {
				require.True(t, inPre, "line %s outside the listing", id)
				out[id] = class
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch, inPre || (n.Type == html.ElementNode && n.Data == "pre"))
		}
	}
	walk(doc, false)
	return out
}

// TestCoverageHTML parses the page and checks the class of each line and
// of each branch mark.
func TestCoverageHTML(t *testing.T) {
	c := NewCoverage(loadTCPDst80(t))
	c.Run(framePacket(t, tcpSYN(64, 80)))
	c.Run(framePacket(t, tcpSYN(64, 22)))
	var b bytes.Buffer
	require.NoError(t, c.WriteHTML(&b))
	golden(t, "cover_tcp_dst_80.html", b.Bytes())

	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	classes := spanClasses(t, doc)
	want := map[string]string{}
	for pc := range 11 {
		want["pc"+strconv.Itoa(pc)] = "cov1"
	}
	// Both SYNs are IPv4 TCP without fragments: the IPv6 and fragment
	// exits (1 and 3 not taken, 5 taken) never run; both ends do.
	want["br1"], want["br3"], want["br5"], want["br8"] = "br br-taken", "br br-taken", "br br-not", "br br-both"
	assert.Equal(t, want, classes)

	c = NewCoverage(loadTCPDst80(t))
	c.Run(framePacket(t, udp6(80)))
	b.Reset()
	require.NoError(t, c.WriteHTML(&b))
	doc, err = html.Parse(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	classes = spanClasses(t, doc)
	for pc := range 11 {
		cls := "cov0"
		if pc == 0 || pc == 1 || pc == 10 {
			cls = "cov1"
		}
		assert.Equal(t, cls, classes["pc"+strconv.Itoa(pc)], "pc %d", pc)
	}
	assert.Equal(t, "br br-not", classes["br1"])
	assert.Equal(t, "br br-none", classes["br8"])
	assert.True(t, strings.HasPrefix(b.String(), "<!DOCTYPE html>"))
}
