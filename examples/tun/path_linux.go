//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/handle"
)

// DevSpec names a TUN device and the address it gets: "tin:10.9.0.1/24".
// The far side of its subnet (the address plus one) stands for the
// peer packets written into it come from.
type DevSpec struct {
	// Name is the device name.
	Name string
	// Prefix is the device's address and subnet.
	Prefix netip.Prefix
}

// ParseDevSpec reads NAME:ADDRESS/BITS (IPv4).
func ParseDevSpec(s string) (DevSpec, error) {
	name, pfx, ok := strings.Cut(s, ":")
	p, err := netip.ParsePrefix(pfx)
	if !ok || name == "" || len(name) > 15 || err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return DevSpec{}, fmt.Errorf("device %q: want NAME:IPv4/BITS such as tin:10.9.0.1/24: %w", s, syscall.EINVAL)
	}
	return DevSpec{Name: name, Prefix: p}, nil
}

// Setup says which devices the path uses.
type Setup struct {
	// In is the device whose outgoing packets are classified.
	In DevSpec
	// Pass is where passed packets are delivered.
	Pass DevSpec
	// Redirect maps classes to the devices their packets are delivered
	// to instead.
	Redirect map[handle.Handle]DevSpec
}

// Runner runs a command such as ip(8).
type Runner func(name string, args ...string) error

// output is a device packets are delivered into.
type output struct {
	name       string
	f          *os.File
	local, far [4]byte
	sent       atomic.Uint64
}

// Path classifies the packets the kernel writes to a TUN device and
// enforces the verdicts: pass delivers the packet into the pass device,
// a class with a redirect device delivers it there, drop ends it. A
// delivered packet is rewritten to come from the far side of the output
// device's subnet to its local address (ports kept), so the host's
// sockets on that address receive it.
type Path struct {
	in       *os.File
	inName   string
	pass     *output
	redirect map[handle.Handle]*output
	outs     []*output
	blk      *classifier.Block
	pkt      *packet.Packet
	buf, out []byte

	received, dropped, badHeader, notForwarded, writeErrors atomic.Uint64
	csumCompleted, csumBad, gso                             atomic.Uint64
}

// Open creates the TUN devices through do (which runs its function in
// the network namespace the devices belong to) and configures their
// addresses and links with run.
func (s Setup) Open(do func(func() error) error, run Runner) (*Path, error) {
	table := action.NewTable(action.Config{})
	p := &Path{
		inName:   s.In.Name,
		redirect: map[handle.Handle]*output{},
		blk: classifier.NewBlock(classifier.BlockConfig{
			Config:  classifier.Config{Actions: classifier.NewActionParser(table)},
			Ifindex: int32(dev.Ifindex), Parent: uint32(handle.IngressParent),
		}),
		pkt: packet.New(packet.MaxLen),
		buf: make([]byte, VnetHdrLen+packet.MaxLen),
		out: make([]byte, VnetHdrLen+packet.MaxLen),
	}
	mk := func(d DevSpec) (*output, error) {
		o := &output{name: d.Name, local: d.Prefix.Addr().As4(), far: d.Prefix.Addr().Next().As4()}
		err := do(func() error {
			f, err := openTUN(d.Name, false)
			o.f = f
			return err
		})
		if err != nil {
			return nil, err
		}
		p.outs = append(p.outs, o)
		return o, nil
	}
	err := do(func() error {
		f, err := openTUN(s.In.Name, true)
		p.in = f
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.pass, err = mk(s.Pass); err != nil {
		p.Close()
		return nil, err
	}
	classes := make([]handle.Handle, 0, len(s.Redirect))
	for h := range s.Redirect {
		classes = append(classes, h)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	for _, h := range classes {
		if p.redirect[h], err = mk(s.Redirect[h]); err != nil {
			p.Close()
			return nil, err
		}
	}
	all := append([]DevSpec{s.In, s.Pass}, mapValues(s.Redirect, classes)...)
	for _, d := range all {
		for _, cmd := range [][]string{
			{"addr", "add", d.Prefix.String(), "dev", d.Name},
			{"link", "set", d.Name, "up"},
		} {
			if err := run("ip", cmd...); err != nil {
				p.Close()
				return nil, err
			}
		}
	}
	return p, nil
}

func mapValues(m map[handle.Handle]DevSpec, keys []handle.Handle) []DevSpec {
	out := make([]DevSpec, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// Apply runs a tc filter add, change or replace command on the path's
// block (see classifier/tcsyntax); the device named in it is not checked.
func (p *Path) Apply(line string) error {
	f, err := tcsyntax.ParseFilter(line, tcsyntax.Config{})
	if err != nil {
		return err
	}
	return f.Apply(p.blk)
}

// Close closes the devices; Run returns.
func (p *Path) Close() {
	if p.in != nil {
		p.in.Close()
	}
	for _, o := range p.outs {
		o.f.Close()
	}
}

// Run reads and handles packets until the path is closed.
func (p *Path) Run() error {
	for {
		n, err := p.in.Read(p.buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read %s: %w", p.inName, err)
		}
		p.handle(n)
	}
}

// handle processes one read of n bytes: the virtio header, then the IP
// packet.
func (p *Path) handle(n int) {
	p.received.Add(1)
	hdr, err := ParseVnetHdr(p.buf[:n])
	if err != nil {
		p.badHeader.Add(1)
		return
	}
	if err := p.pkt.ReceiveL3(p.buf[VnetHdrLen:n], dev); err != nil {
		p.badHeader.Add(1)
		return
	}
	if err := hdr.Apply(p.pkt); err != nil {
		// tun_get_user refuses such a packet (EINVAL).
		p.badHeader.Add(1)
		return
	}
	if p.pkt.GSOSize != 0 {
		p.gso.Add(1)
	}
	res := p.blk.Classify(p.pkt)
	switch res.Verdict {
	case action.Shot, action.Stolen, action.Queued, action.Trap, action.Consumed:
		p.dropped.Add(1)
		return
	}
	o := p.pass
	if res.Decided() {
		if r, ok := p.redirect[res.ClassID]; ok {
			o = r
		}
	}
	p.deliver(o)
}

// deliver completes a partial checksum, rewrites the packet for the
// output device and writes it there with an empty virtio header.
func (p *Path) deliver(o *output) {
	b := p.pkt.Bytes()
	if p.pkt.GSOSize != 0 {
		// Offloads beyond checksums are not enabled on the input device;
		// segmenting is not this example's business.
		p.notForwarded.Add(1)
		return
	}
	out := p.out[:VnetHdrLen+len(b)]
	clear(out[:VnetHdrLen])
	ip := out[VnetHdrLen:]
	copy(ip, b)
	if p.pkt.Checksum == packet.ChecksumPartial {
		start, off := int(p.pkt.CsumStart), int(p.pkt.CsumOffset)
		completeChecksum(ip, start, off)
		p.csumCompleted.Add(1)
		if !udpChecksumValid(ip) {
			p.csumBad.Add(1)
		}
	}
	if err := rewriteIPv4UDP(ip, o.far, o.local); err != nil {
		p.notForwarded.Add(1)
		return
	}
	if _, err := o.f.Write(out); err != nil {
		p.writeErrors.Add(1)
		return
	}
	o.sent.Add(1)
}

// Stats are the path's counters.
type Stats struct {
	// Received counts reads from the input device, Dropped packets a
	// verdict dropped, BadHeader packets whose virtio header or IP
	// version tun_get_user would refuse, NotForwarded packets that could
	// not be rewritten (not IPv4/UDP, or GSO), WriteErrors failed
	// deliveries.
	Received, Dropped, BadHeader, NotForwarded, WriteErrors uint64
	// CsumCompleted counts partial checksums filled in; CsumBad those
	// that did not verify afterwards.
	CsumCompleted, CsumBad, GSO uint64
	// Delivered counts packets per output device.
	Delivered map[string]uint64
}

// Stats returns the counters.
func (p *Path) Stats() Stats {
	st := Stats{
		Received: p.received.Load(), Dropped: p.dropped.Load(), BadHeader: p.badHeader.Load(),
		NotForwarded: p.notForwarded.Load(), WriteErrors: p.writeErrors.Load(),
		CsumCompleted: p.csumCompleted.Load(), CsumBad: p.csumBad.Load(), GSO: p.gso.Load(),
		Delivered: map[string]uint64{},
	}
	for _, o := range p.outs {
		st.Delivered[o.name] = o.sent.Load()
	}
	return st
}

// WriteStats prints the filters as `tc -s filter show dev IN ingress`
// does, then the counters.
func (p *Path) WriteStats(w io.Writer) error {
	if err := tcsyntax.Show(w, p.blk, tcsyntax.ShowOptions{Stats: true}); err != nil {
		return err
	}
	st := p.Stats()
	fmt.Fprintf(w, "\n%-24s %8d\n", "received from "+p.inName, st.Received)
	names := make([]string, 0, len(st.Delivered))
	for n := range st.Delivered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		role := "passed to "
		if n != p.pass.name {
			role = "redirected to "
		}
		fmt.Fprintf(w, "%-24s %8d\n", role+n, st.Delivered[n])
	}
	for _, l := range []struct {
		name string
		v    uint64
	}{
		{"dropped", st.Dropped}, {"bad virtio header", st.BadHeader}, {"not forwarded", st.NotForwarded},
		{"write errors", st.WriteErrors}, {"checksums completed", st.CsumCompleted}, {"checksums bad", st.CsumBad},
	} {
		fmt.Fprintf(w, "%-24s %8d\n", l.name, l.v)
	}
	return nil
}
