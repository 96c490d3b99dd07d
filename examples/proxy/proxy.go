//go:build unix

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/handle"
)

// hdrLen is the IPv4 and UDP header the proxy puts in front of each
// datagram's payload so that filters see a real packet.
const hdrLen = 20 + 8

// maxDatagram bounds the payload of one datagram.
const maxDatagram = 65507

// device is the proxy's listening socket as tc would see it: an L3
// device (no Ethernet header), as a TUN device is.
var device = packet.Device{Ifindex: 1, Type: packet.ARPHRDNone}

// Config configures a Proxy.
type Config struct {
	// Listen is the address to listen on; it must be a loopback address
	// (127.0.0.1:0 picks a port).
	Listen string
	// Upstreams map classes to upstream addresses: a datagram whose
	// classification selects class 1:2 goes to Upstreams[1:2].
	Upstreams map[handle.Handle]netip.AddrPort
	// Default is the upstream for datagrams no filter classified, or
	// classified to a class without an upstream; the zero value drops
	// them.
	Default netip.AddrPort
	// Workers is the number of workers, each with its own socket
	// (SO_REUSEPORT: the kernel keeps a flow on one socket), packet and
	// execution slot. 0 means 2.
	Workers int
}

// Proxy is a UDP forwarder on loopback that classifies every datagram
// with a tc filter block. Rules change through Apply while traffic flows.
type Proxy struct {
	cfg     Config
	addr    netip.AddrPort
	blk     *classifier.Block
	actions *action.Table
	rulesMu sync.Mutex // serializes Apply (the Block serializes itself; this keeps the rule log in order)
	rules   []string
	workers []*worker
	wg      sync.WaitGroup

	dropped    atomic.Uint64 // by a verdict
	noUpstream atomic.Uint64
	upstream   sync.Map // netip.AddrPort -> *upstreamStats
}

// upstreamStats counts what went to one upstream, by mark.
type upstreamStats struct {
	name      string
	datagrams atomic.Uint64
	bytes     atomic.Uint64
	marks     markTable
}

// markSlots bounds the distinct marks counted per upstream; datagrams
// with further marks count under otherMarks.
const markSlots = 64

// otherMarks is the key datagrams with a mark beyond the table count
// under.
const otherMarks = ^uint32(0)

// markTable counts datagrams by mark without locks: an open-addressing
// table whose slots are claimed with compare-and-swap (a slot's key never
// changes once set), so workers count concurrently.
type markTable struct {
	keys   [markSlots]atomic.Uint32 // mark+1; 0 is a free slot
	counts [markSlots]atomic.Uint64
	other  atomic.Uint64
}

// add counts one datagram with mark m (not 0).
func (t *markTable) add(m uint32) {
	k := m + 1
	if k == 0 {
		t.other.Add(1)
		return
	}
	for i, h := 0, int(m*2654435761%markSlots); i < markSlots; i, h = i+1, (h+1)%markSlots {
		switch cur := t.keys[h].Load(); {
		case cur == k:
			t.counts[h].Add(1)
			return
		case cur == 0:
			if t.keys[h].CompareAndSwap(0, k) || t.keys[h].Load() == k {
				t.counts[h].Add(1)
				return
			}
		}
	}
	t.other.Add(1)
}

// snapshot returns the counts by mark.
func (t *markTable) snapshot() map[uint32]uint64 {
	out := map[uint32]uint64{}
	for i := range t.keys {
		if k := t.keys[i].Load(); k != 0 {
			out[k-1] = t.counts[i].Load()
		}
	}
	if n := t.other.Load(); n != 0 {
		out[otherMarks] += n
	}
	return out
}

// worker reads from its own socket and classifies on its own slot.
type worker struct {
	p     *Proxy
	slot  uint32
	conn  *net.UDPConn
	pkt   *packet.Packet
	buf   []byte
	flows map[flowKey]*flow // this worker's flows only: no lock
}

// flowKey names a flow: a client and the upstream it goes to.
type flowKey struct {
	client   netip.AddrPort
	upstream netip.AddrPort
}

// flow is one client's connected socket to one upstream; a goroutine
// relays the upstream's replies back to the client.
type flow struct {
	conn *net.UDPConn
}

// NewProxy listens and starts the workers. Close stops them.
func NewProxy(cfg Config) (*Proxy, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Listen, syscall.EINVAL)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("listen address %s: only loopback addresses are served: %w", ap, syscall.EINVAL)
	}
	table := action.NewTable(action.Config{})
	p := &Proxy{
		cfg:     cfg,
		actions: table,
		blk: classifier.NewBlock(classifier.BlockConfig{
			Config:  classifier.Config{Actions: classifier.NewActionParser(table)},
			Ifindex: int32(device.Ifindex),
			Parent:  uint32(handle.IngressParent),
		}),
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	addr := ap.String()
	for i := 0; i < cfg.Workers; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("listen: %w", err)
		}
		conn := pc.(*net.UDPConn)
		if i == 0 {
			p.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			addr = p.addr.String()
		}
		w := &worker{p: p, slot: uint32(i), conn: conn, pkt: packet.New(hdrLen + maxDatagram), buf: make([]byte, hdrLen+maxDatagram), flows: map[flowKey]*flow{}}
		w.pkt.Slot = w.slot
		p.workers = append(p.workers, w)
	}
	for _, w := range p.workers {
		p.wg.Add(1)
		go w.run()
	}
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() netip.AddrPort { return p.addr }

// Apply runs one tc filter command on the proxy's block: `tc filter add
// ... bpf ...`, replace or change (see classifier/tcsyntax), or `tc
// filter del ... pref N [handle H]`. The device name and parent in the
// line are not checked: the proxy has one block. Datagrams in flight see
// the rules before or after the change, never a mix.
func (p *Proxy) Apply(line string) error {
	p.rulesMu.Lock()
	defer p.rulesMu.Unlock()
	words, err := tcsyntax.Split(line)
	if err != nil {
		return err
	}
	if del, w, h, err := parseDelete(words); del {
		if err != nil {
			return err
		}
		if err := p.blk.Delete(w, h); err != nil {
			return err
		}
		p.rules = append(p.rules, line)
		return nil
	}
	f, err := tcsyntax.ParseFilterArgs(words, tcsyntax.Config{})
	if err != nil {
		return err
	}
	if err := f.Apply(p.blk); err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	p.rules = append(p.rules, line)
	return nil
}

// parseDelete reads `[tc] filter del[ete] [dev D] [ingress] pref N
// [protocol P] [handle H] [bpf]`.
func parseDelete(words []string) (isDel bool, w classifier.Where, h uint32, err error) {
	i := 0
	if i < len(words) && words[i] == "tc" {
		i++
	}
	if i+1 >= len(words) || words[i] != "filter" || (words[i+1] != "del" && words[i+1] != "delete") {
		return false, w, 0, nil
	}
	for i += 2; i < len(words); i++ {
		arg := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs an argument: %w", words[i], syscall.EINVAL)
			}
			i++
			return words[i], nil
		}
		switch words[i] {
		case "ingress", "bpf":
		case "dev":
			if _, err := arg(); err != nil {
				return true, w, 0, err
			}
		case "pref", "prio", "priority", "preference":
			s, err := arg()
			if err != nil {
				return true, w, 0, err
			}
			v, perr := handle.ParseFilter(s)
			if perr != nil || v == 0 || v > 0xFFFF {
				return true, w, 0, fmt.Errorf("pref %q: %w", s, syscall.EINVAL)
			}
			w.Prio = uint16(v)
		case "protocol":
			s, err := arg()
			if err != nil {
				return true, w, 0, err
			}
			pr, ok := tcsyntax.ParseProtocol(s)
			if !ok {
				return true, w, 0, fmt.Errorf("protocol %q: %w", s, syscall.EINVAL)
			}
			w.Protocol = pr
		case "handle":
			s, err := arg()
			if err != nil {
				return true, w, 0, err
			}
			if h, err = handle.ParseFilter(s); err != nil {
				return true, w, 0, fmt.Errorf("handle %q: %w", s, syscall.EINVAL)
			}
		default:
			return true, w, 0, fmt.Errorf("filter del: unexpected %q: %w", words[i], syscall.EINVAL)
		}
	}
	if w.Prio == 0 {
		return true, w, 0, fmt.Errorf("filter del needs pref: %w", syscall.EINVAL)
	}
	return true, w, h, nil
}

// Close stops the workers and closes every socket.
func (p *Proxy) Close() {
	for _, w := range p.workers {
		w.conn.Close()
	}
	p.wg.Wait()
}

// run is a worker's loop: read a datagram, classify it, forward it.
func (w *worker) run() {
	defer w.p.wg.Done()
	defer func() {
		for _, f := range w.flows {
			f.conn.Close()
		}
	}()
	for {
		n, from, err := w.conn.ReadFromUDPAddrPort(w.buf[hdrLen:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up, ok := w.classify(from, n)
		if !ok {
			continue
		}
		w.forward(from, up, w.buf[hdrLen:hdrLen+n])
	}
}

// classify wraps the payload in buf[hdrLen:hdrLen+n] into an IPv4/UDP
// packet from the client to the proxy, runs the block on it and returns
// the upstream, or false when the datagram is dropped. It allocates
// nothing.
func (w *worker) classify(from netip.AddrPort, n int) (netip.AddrPort, bool) {
	p := w.p
	writeHeaders(w.buf[:hdrLen], from, p.addr, n)
	if err := w.pkt.ReceiveL3(w.buf[:hdrLen+n], device); err != nil {
		p.dropped.Add(1)
		return netip.AddrPort{}, false
	}
	res := p.blk.Classify(w.pkt)
	switch res.Verdict {
	case action.Shot, action.Stolen, action.Queued, action.Trap, action.Consumed:
		p.dropped.Add(1)
		return netip.AddrPort{}, false
	}
	up := p.cfg.Default
	if res.Decided() {
		if u, ok := p.cfg.Upstreams[res.ClassID]; ok {
			up = u
		}
	}
	if !up.IsValid() {
		p.noUpstream.Add(1)
		return netip.AddrPort{}, false
	}
	p.count(up, uint64(n), w.pkt.Mark)
	return up, true
}

// count adds a datagram to its upstream's counters.
func (p *Proxy) count(up netip.AddrPort, n uint64, mark uint32) {
	v, ok := p.upstream.Load(up)
	if !ok {
		v, _ = p.upstream.LoadOrStore(up, &upstreamStats{name: up.String()})
	}
	s := v.(*upstreamStats)
	s.datagrams.Add(1)
	s.bytes.Add(n)
	if mark != 0 {
		s.marks.add(mark)
	}
}

// forward sends the payload to the upstream on the client's flow,
// opening the flow on first use.
func (w *worker) forward(client, up netip.AddrPort, payload []byte) {
	k := flowKey{client, up}
	f, ok := w.flows[k]
	if !ok {
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(up))
		if err != nil {
			return
		}
		f = &flow{conn: conn}
		w.flows[k] = f
		go w.relay(f, client)
	}
	_, _ = f.conn.Write(payload)
}

// relay copies an upstream's replies back to the client from the
// proxy's address.
func (w *worker) relay(f *flow, client netip.AddrPort) {
	buf := make([]byte, maxDatagram)
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = w.conn.WriteToUDPAddrPort(buf[:n], client)
	}
}

// writeHeaders writes an IPv4 header (with its checksum) and a UDP
// header (checksum 0, as allowed for IPv4) for a payload of n bytes from
// src to dst into h.
func writeHeaders(h []byte, src, dst netip.AddrPort, n int) {
	h[0] = 0x45
	h[1] = 0
	binary.BigEndian.PutUint16(h[2:], uint16(hdrLen+n))
	binary.BigEndian.PutUint32(h[4:], 0x40000000) // id 0, DF
	h[8] = 64
	h[9] = 17
	h[10], h[11] = 0, 0
	s, d := src.Addr().Unmap().As4(), dst.Addr().Unmap().As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(h[20:], src.Port())
	binary.BigEndian.PutUint16(h[22:], dst.Port())
	binary.BigEndian.PutUint16(h[24:], uint16(8+n))
	h[26], h[27] = 0, 0
}

// Stats is a snapshot of what the proxy did.
type Stats struct {
	// Upstreams counts datagrams and bytes per upstream, and datagrams
	// per mark the filters' actions set (up to 64 marks per upstream;
	// the rest count under mark 0xffffffff).
	Upstreams map[netip.AddrPort]UpstreamStats
	// Dropped counts datagrams a filter or action dropped (or stole).
	Dropped uint64
	// NoUpstream counts datagrams with no upstream to go to.
	NoUpstream uint64
}

// UpstreamStats are one upstream's counters.
type UpstreamStats struct {
	// Datagrams and Bytes count what was sent (payload bytes).
	Datagrams, Bytes uint64
	// Marks counts datagrams by the mark the filters set.
	Marks map[uint32]uint64
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	st := Stats{Upstreams: map[netip.AddrPort]UpstreamStats{}, Dropped: p.dropped.Load(), NoUpstream: p.noUpstream.Load()}
	p.upstream.Range(func(k, v any) bool {
		s := v.(*upstreamStats)
		st.Upstreams[k.(netip.AddrPort)] = UpstreamStats{Datagrams: s.datagrams.Load(), Bytes: s.bytes.Load(), Marks: s.marks.snapshot()}
		return true
	})
	return st
}

// WriteStats prints the rules as `tc -s filter show` prints them, then
// the per-upstream counters.
func (p *Proxy) WriteStats(out io.Writer) error {
	if err := tcsyntax.Show(out, p.blk, tcsyntax.ShowOptions{Stats: true}); err != nil {
		return err
	}
	st := p.Stats()
	names := map[netip.AddrPort]string{}
	for h, a := range p.cfg.Upstreams {
		names[a] = h.String()
	}
	if p.cfg.Default.IsValid() {
		names[p.cfg.Default] = "default"
	}
	var ups []netip.AddrPort
	for a := range st.Upstreams {
		ups = append(ups, a)
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].Compare(ups[j]) < 0 })
	fmt.Fprintf(out, "\n%-22s %-8s %9s %10s  %s\n", "upstream", "class", "datagrams", "bytes", "marks")
	for _, a := range ups {
		u := st.Upstreams[a]
		var marks []string
		var ms []uint32
		for m := range u.Marks {
			ms = append(ms, m)
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
		for _, m := range ms {
			marks = append(marks, fmt.Sprintf("%#x:%d", m, u.Marks[m]))
		}
		fmt.Fprintf(out, "%-22s %-8s %9d %10d  %s\n", a, names[a], u.Datagrams, u.Bytes, strings.Join(marks, " "))
	}
	fmt.Fprintf(out, "%-31s %9d\n%-31s %9d\n", "dropped", st.Dropped, "no upstream", st.NoUpstream)
	return nil
}
