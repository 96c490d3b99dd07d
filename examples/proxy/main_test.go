//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/handle"
)

// The rules the tests use. Datagrams reach the filters as IPv4/UDP
// packets without an Ethernet header: the payload starts at byte 28.
var testRules = []string{
	// ldb [28]; jeq #'D' → drop (2), else continue (-1).
	`tc filter add dev lo ingress protocol ip pref 1 bpf da bytecode '4,48 0 0 28,21 0 1 68,6 0 0 2,6 0 0 4294967295'`,
	// ldb [28]; jeq #'B' → class 1:2.
	`tc filter add dev lo ingress protocol ip pref 2 bpf bytecode '4,48 0 0 28,21 0 1 66,6 0 0 4294967295,6 0 0 0' classid 1:2`,
	// ldb [28]; jeq #'M' → class 1:1, mark 7.
	`tc filter add dev lo ingress protocol ip pref 3 bpf bytecode '4,48 0 0 28,21 0 1 77,6 0 0 4294967295,6 0 0 0' classid 1:1 action skbedit mark 7 pass`,
	// Everything else → class 1:1.
	`tc filter add dev lo ingress protocol ip pref 10 handle 1 bpf bytecode '1,6 0 0 4294967295' classid 1:1`,
}

// echo is an upstream that records what it gets and answers with its
// name and the payload.
type echo struct {
	name string
	conn *net.UDPConn
	mu   sync.Mutex
	got  map[string]int
}

func newEcho(t *testing.T, name string) *echo {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	e := &echo{name: name, conn: c, got: map[string]int{}}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.got[string(buf[:n])]++
			e.mu.Unlock()
			_, _ = c.WriteToUDPAddrPort(append([]byte(name+":"), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { c.Close() })
	return e
}

func (e *echo) addr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (e *echo) received() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.got {
		out[k] = v
	}
	return out
}

// exchange sends payload and returns the reply ("" when none came within
// wait).
func exchange(t *testing.T, c *net.UDPConn, payload string, wait time.Duration) string {
	t.Helper()
	_, err := c.Write([]byte(payload))
	require.NoError(t, err)
	if wait == 0 {
		return ""
	}
	buf := make([]byte, 2048)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(wait)))
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func startProxy(t *testing.T, a, b *echo, rules []string) *Proxy {
	t.Helper()
	p, err := NewProxy(Config{Listen: "127.0.0.1:0", Workers: 3, Upstreams: map[handle.Handle]netip.AddrPort{0x10001: a.addr(), 0x10002: b.addr()}})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	for _, r := range rules {
		require.NoError(t, p.Apply(r))
	}
	return p
}

func dial(t *testing.T, p *Proxy) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.Addr()))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestForward: four clients send concurrently; B datagrams reach
// upstream B, D datagrams are dropped, M datagrams reach A with mark 7,
// the rest reach A; every answer comes back to its client through the
// proxy.
func TestForward(t *testing.T) {
	a, b := newEcho(t, "A"), newEcho(t, "B")
	p := startProxy(t, a, b, testRules)
	const clients, per = 4, 40
	var wg sync.WaitGroup
	var drops atomic.Int64
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := dial(t, p)
			for i := 0; i < per; i++ {
				kind := "ABDMX"[i%5]
				payload := fmt.Sprintf("%c-%d-%d", kind, c, i)
				if kind == 'D' {
					exchange(t, conn, payload, 0)
					drops.Add(1)
					continue
				}
				want := "A:" + payload
				if kind == 'B' {
					want = "B:" + payload
				}
				assert.Equal(t, want, exchange(t, conn, payload, 5*time.Second))
			}
		}()
	}
	wg.Wait()

	gotA, gotB := a.received(), b.received()
	for c := 0; c < clients; c++ {
		for i := 0; i < per; i++ {
			kind := "ABDMX"[i%5]
			payload := fmt.Sprintf("%c-%d-%d", kind, c, i)
			switch kind {
			case 'B':
				assert.Equal(t, 1, gotB[payload], payload)
				assert.Zero(t, gotA[payload], payload)
			case 'D':
				assert.Zero(t, gotA[payload]+gotB[payload], payload)
			default:
				assert.Equal(t, 1, gotA[payload], payload)
				assert.Zero(t, gotB[payload], payload)
			}
		}
	}
	// D datagrams were sent without waiting: wait until the proxy has
	// seen them all.
	require.Eventually(t, func() bool { return p.Stats().Dropped == uint64(drops.Load()) }, 5*time.Second, time.Millisecond)
	st := p.Stats()
	total := uint64(clients * per)
	assert.Equal(t, total/5, st.Dropped)
	assert.Equal(t, 3*total/5, st.Upstreams[a.addr()].Datagrams)
	assert.Equal(t, total/5, st.Upstreams[b.addr()].Datagrams)
	assert.Equal(t, map[uint32]uint64{7: total / 5}, st.Upstreams[a.addr()].Marks)
	assert.Empty(t, st.Upstreams[b.addr()].Marks)

	var out bytes.Buffer
	require.NoError(t, p.WriteStats(&out))
	s := out.String()
	assert.Contains(t, s, "filter protocol ip pref 1 bpf chain 0 handle 0x1 direct-action not_in_hw bytecode '4,48 0 0 28,21 0 1 68,6 0 0 2,6 0 0 4294967295'\n")
	assert.Contains(t, s, "filter protocol ip pref 3 bpf chain 0 handle 0x1 flowid 1:1 not_in_hw bytecode")
	assert.Contains(t, s, "\taction order 1: skbedit  mark 7 pass\n\t index 1 ref 1 bind 1")
	assert.Contains(t, s, fmt.Sprintf("\tSent %d bytes %d pkt", (total/5)*uint64(hdrLen+len("M-0-0"))+extraDigits(clients, per, 'M'), total/5))
	assert.Contains(t, s, fmt.Sprintf("%-22s %-8s %9d", a.addr(), "1:1", 3*total/5))
	assert.Contains(t, s, fmt.Sprintf("%-31s %9d", "dropped", total/5))
}

// extraDigits counts the payload bytes beyond "K-c-i" with one-digit
// numbers for the datagrams of one kind.
func extraDigits(clients, per int, kind byte) uint64 {
	var n uint64
	for c := 0; c < clients; c++ {
		for i := 0; i < per; i++ {
			if "ABDMX"[i%5] == kind {
				n += uint64(len(fmt.Sprintf("%c-%d-%d", kind, c, i)) - len("M-0-0"))
			}
		}
	}
	return n
}

// TestRuleChangeUnderLoad replaces the catch-all rule while clients send:
// every datagram sent after the replacement returned reaches B, those sent
// earlier reach A or B (one in flight may meet either rule set, never a
// mix), some reach A, and none is lost.
func TestRuleChangeUnderLoad(t *testing.T) {
	a, b := newEcho(t, "A"), newEcho(t, "B")
	p := startProxy(t, a, b, testRules)
	var phase atomic.Int32 // 0 before, 1 during, 2 after the change
	const clients, per = 4, 150
	var sent atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := dial(t, p)
			for i := 0; i < per; i++ {
				before := phase.Load()
				payload := fmt.Sprintf("X-%d-%d", c, i)
				reply := exchange(t, conn, payload, 5*time.Second)
				sent.Add(1)
				if before == 2 {
					assert.Equal(t, "B:"+payload, reply, "sent after the change")
				} else {
					assert.Contains(t, []string{"A:" + payload, "B:" + payload}, reply)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return sent.Load() >= clients*per/3 }, 10*time.Second, time.Millisecond)
	phase.Store(1)
	require.NoError(t, p.Apply(`tc filter replace dev lo ingress protocol ip pref 10 handle 1 bpf bytecode '1,6 0 0 4294967295' classid 1:2`))
	phase.Store(2)
	wg.Wait()

	st := p.Stats()
	assert.Equal(t, uint64(clients*per), st.Upstreams[a.addr()].Datagrams+st.Upstreams[b.addr()].Datagrams, "no datagram lost")
	assert.Positive(t, st.Upstreams[a.addr()].Datagrams)
	assert.Positive(t, st.Upstreams[b.addr()].Datagrams)
	assert.Zero(t, st.Dropped)
	// The listing shows the replaced filter.
	var out bytes.Buffer
	require.NoError(t, p.WriteStats(&out))
	assert.Contains(t, out.String(), "filter protocol ip pref 10 bpf chain 0 handle 0x1 flowid 1:2 not_in_hw bytecode '1,6 0 0 4294967295'\n")
}

// TestRunCommand runs the command as a user would: rules from flags, a
// rule change and a deletion on standard input while a client sends, and
// the statistics at the end.
func TestRunCommand(t *testing.T) {
	a, b := newEcho(t, "A"), newEcho(t, "B")
	stdinR, stdinW := io.Pipe()
	var stdout, stderr bytes.Buffer
	ready := make(chan *Proxy, 1)
	args := []string{"-upstream", "1:1=" + a.addr().String(), "-upstream", "1:2=" + b.addr().String(), "-stdin", "-workers", "2"}
	for _, r := range testRules {
		args = append(args, "-rule", r)
	}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), args, stdinR, &stdout, &stderr, func(p *Proxy) { ready <- p })
	}()
	var p *Proxy
	select {
	case p = <-ready:
	case code := <-done:
		t.Fatalf("run exited with %d: %s", code, stderr.String())
	}
	conn := dial(t, p)
	assert.Equal(t, "A:X-1", exchange(t, conn, "X-1", 5*time.Second))
	assert.Equal(t, "B:B-1", exchange(t, conn, "B-1", 5*time.Second))
	// Delete the B rule: B datagrams now fall through to the catch-all.
	_, err := io.WriteString(stdinW, "tc filter del dev lo ingress pref 2\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(p.blk.Protos(0)) == 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "A:B-2", exchange(t, conn, "B-2", 5*time.Second))
	_, err = io.WriteString(stdinW, "tc filter add dev lo ingress pref 2 bpf bytcode x\n")
	require.NoError(t, err)
	require.NoError(t, stdinW.Close())
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end when its input did")
	}
	out := stdout.String()
	assert.Contains(t, out, "listening on 127.0.0.1:")
	assert.Contains(t, out, "with 2 workers and 4 rules\n")
	assert.Contains(t, out, "applied: tc filter del dev lo ingress pref 2\n")
	assert.NotContains(t, out, "filter protocol ip pref 2 ")
	assert.Contains(t, out, fmt.Sprintf("%-22s %-8s %9d", a.addr(), "1:1", 2))
	assert.Contains(t, out, fmt.Sprintf("%-22s %-8s %9d", b.addr(), "1:2", 1))
	assert.Contains(t, stderr.String(), `proxy: word 10 "bytcode": What mode is "bytcode"?`)
}

func TestConfigErrors(t *testing.T) {
	_, err := NewProxy(Config{Listen: "10.0.0.1:0"})
	assert.ErrorContains(t, err, "only loopback addresses")
	p, err := NewProxy(Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	defer p.Close()
	assert.ErrorContains(t, p.Apply("tc filter del dev lo ingress"), "filter del needs pref")
	assert.ErrorContains(t, p.Apply("tc filter add dev lo ingress pref 1 bpf bytecode '1,6 0 0 0' skip_sw"), "operation not supported")
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-upstream", "nonsense"}, nil, io.Discard, &stderr, nil))
	assert.Contains(t, stderr.String(), "want CLASSID=ADDRESS")
}

// TestClassifyAllocs: wrapping, classifying and counting a datagram
// allocates nothing.
func TestClassifyAllocs(t *testing.T) {
	a, b := newEcho(t, "A"), newEcho(t, "B")
	p := startProxy(t, a, b, testRules)
	w := p.workers[0]
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	n := copy(w.buf[hdrLen:], "M-payload")
	up, ok := w.classify(from, n)
	require.True(t, ok)
	require.Equal(t, a.addr(), up)
	allocs := testing.AllocsPerRun(200, func() {
		w.classify(from, n)
	})
	assert.Zero(t, allocs)
}

// BenchmarkClassify measures one datagram's way through the filters (no
// socket I/O).
func BenchmarkClassify(b *testing.B) {
	p, err := NewProxy(Config{Listen: "127.0.0.1:0", Workers: 1, Default: netip.MustParseAddrPort("127.0.0.1:9")})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, r := range testRules {
		if err := p.Apply(r); err != nil {
			b.Fatal(err)
		}
	}
	w := p.workers[0]
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	for _, payload := range []string{"X-default", "M-marked", "D-dropped"} {
		b.Run(strings.ToLower(payload[2:]), func(b *testing.B) {
			n := copy(w.buf[hdrLen:], payload)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				w.classify(from, n)
			}
		})
	}
}

// TestMarkTable: concurrent counting by mark loses nothing, and marks
// beyond the table's slots count together.
func TestMarkTable(t *testing.T) {
	var mt markTable
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 800; i++ {
				mt.add(uint32(i%80) + 1)
			}
		}()
	}
	wg.Wait()
	snap := mt.snapshot()
	var total uint64
	for m, n := range snap {
		total += n
		if m != otherMarks {
			assert.Equal(t, uint64(4*800/80), n, "mark %d", m)
		}
	}
	assert.Equal(t, uint64(3200), total)
	assert.Len(t, snap, markSlots+1)
	mt.add(otherMarks)
	assert.Equal(t, snap[otherMarks]+1, mt.snapshot()[otherMarks])
}
