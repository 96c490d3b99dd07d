package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/offload"
)

// The classic programs of the tour, as `tc ... bpf bytecode` takes them.
const (
	// ldh [12]; jeq #0x800, L2, L5; L2: ldb [23]; jeq #17, L4, L5;
	// L4: ret #-1; L5: ret #0 (IPv4 UDP).
	bcUDP = "6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 17,6 0 0 4294967295,6 0 0 0"
	// ldh [12]; jeq #0x800, L2, L3; L2: ret #-1; L3: ret #0 (IPv4).
	bcIPv4 = "4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0"
	// The same for ARP (0x806).
	bcARP = "4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0"
	// The same for IPv6 (0x86dd).
	bcIPv6 = "4,40 0 0 12,21 0 1 34525,6 0 0 4294967295,6 0 0 0"
	// ldh [12]; jeq #0x800, L2, L8; L2: ldb [23]; jeq #6, L4, L8;
	// L4: ldxb 4*([14]&0xf); ldh [x+16]; jeq #80, L7, L8; L7: ret #-1;
	// L8: ret #0 (IPv4 TCP to port 80): nine instructions, one too many
	// for the card.
	bcHTTP = "9,40 0 0 12,21 0 6 2048,48 0 0 23,21 0 4 6,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 4294967295,6 0 0 0"
)

// The cards' limits.
const (
	nicEntries  = 3
	nicMaxInsns = 8
)

// stepClock is the tour's clock: it moves only when told to, so that the
// ages `tc -s` prints are the same on every run.
type stepClock struct{ ns int64 }

// Now returns the time in nanoseconds.
func (c *stepClock) Now() int64 { return c.ns }

func (c *stepClock) advance(sec int64) { c.ns += sec * 1e9 }

// lab is the tour's machine: eth0 and eth1, each with a toy card, share
// filter block 1; eth2 has a card too but its hw-tc-offload feature is
// off, and its clsact ingress has a block of its own.
type lab struct {
	clock            *stepClock
	nic0, nic1, nic2 *NIC
	eth0, eth1, eth2 *offload.Device
	block1, block2   *classifier.Block
	devs             tcsyntax.DeviceMap
	// lastErr is the outcome of the last tc command, for the tests.
	lastErr error
}

func newLab() *lab {
	clock := &stepClock{ns: 1e9}
	table := action.NewTable(action.Config{Clock: clock})
	l := &lab{
		clock: clock,
		nic0:  NewNIC(nicEntries, nicMaxInsns, clock),
		nic1:  NewNIC(nicEntries, nicMaxInsns, clock),
		nic2:  NewNIC(nicEntries, nicMaxInsns, clock),
		devs:  tcsyntax.DeviceMap{"eth0": 2, "eth1": 3, "eth2": 4},
	}
	l.eth0 = &offload.Device{Name: "eth0", Ifindex: 2, HWTC: true, Offloader: l.nic0}
	l.eth1 = &offload.Device{Name: "eth1", Ifindex: 3, HWTC: true, Offloader: l.nic1}
	l.eth2 = &offload.Device{Name: "eth2", Ifindex: 4, HWTC: false, Offloader: l.nic2}
	l.block1 = classifier.NewBlock(classifier.BlockConfig{
		Config: classifier.Config{Actions: classifier.NewActionParser(table), Offload: offload.NewBlock(l.eth0, l.eth1)},
		Index:  1,
	})
	l.block2 = classifier.NewBlock(classifier.BlockConfig{
		Config:  classifier.Config{Actions: classifier.NewActionParser(table), Offload: offload.NewBlock(l.eth2)},
		Ifindex: 4, Parent: 0xFFFFFFF2,
	})
	return l
}

// tc runs one `tc filter add` (or replace) line on the block it names
// (block 1, or eth2's own) and prints the line and its outcome: the
// filter's flags and in_hw_count, or the errno and extack the kernel
// would answer. Only a line the lab cannot carry out is an error.
func (l *lab) tc(w io.Writer, line string) error {
	fmt.Fprintf(w, "$ %s\n", line)
	f, err := tcsyntax.ParseFilter(line, tcsyntax.Config{Devices: l.devs})
	if err != nil {
		return err
	}
	var b *classifier.Block
	switch {
	case f.Block == 1:
		b = l.block1
	case f.Block == 0 && f.Dev == "eth2":
		b = l.block2
	default:
		return fmt.Errorf("%q: the lab has block 1 and dev eth2 only", line)
	}
	l.lastErr = f.Apply(b)
	if l.lastErr != nil {
		fmt.Fprintf(w, "  refused: %s\n", describeError(l.lastErr))
		return nil
	}
	p, ok := b.Proto(classifier.Where{Chain: f.Chain, Prio: f.Pref})
	if !ok || len(p.Filters()) == 0 {
		return fmt.Errorf("%q: added filter not found", line)
	}
	nf := p.Filters()[0] // the newest filter of its classifier
	fmt.Fprintf(w, "  ok: %s, in_hw_count %d\n", flagWords(nf.Flags()), nf.InHWCount())
	return nil
}

// describeError names the errno and the extack text of a refusal.
func describeError(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errnoName(errno)
	var ce *classifier.Error
	if errors.As(err, &ce) && ce.Extack != "" {
		s += fmt.Sprintf(", extack %q", ce.Extack)
	}
	return s + " (" + err.Error() + ")"
}

// errnoName spells the errnos the tour meets as the kernel headers do.
func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EIO:
		return "EIO"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EOPNOTSUPP:
		return "EOPNOTSUPP"
	}
	return fmt.Sprintf("errno %d", int(e))
}

// flagWords prints generic filter flags as tc does.
func flagWords(flags uint32) string {
	var w []string
	for _, f := range []struct {
		bit  uint32
		word string
	}{{classifier.SkipHW, "skip_hw"}, {classifier.SkipSW, "skip_sw"}, {classifier.InHW, "in_hw"}, {classifier.NotInHW, "not_in_hw"}} {
		if flags&f.bit != 0 {
			w = append(w, f.word)
			if f.bit == classifier.InHW {
				break // tc prints not_in_hw only without in_hw
			}
		}
	}
	return strings.Join(w, " ")
}

// show prints the block's filters as `tc [-s] filter show block 1` does,
// then the in_hw_count of each filter, which the kernel keeps but cls_bpf
// does not dump.
func (l *lab) show(w io.Writer, stats bool) error {
	var b strings.Builder
	if err := tcsyntax.Show(&b, l.block1, tcsyntax.ShowOptions{Stats: stats}); err != nil {
		return err
	}
	// tc ends lines with a blank here and there; the tour does not.
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintln(w, "# in_hw_count, which the kernel keeps per filter but cls_bpf does not dump:")
	for _, chain := range l.block1.Chains() {
		for _, p := range l.block1.Protos(chain) {
			for _, f := range p.Filters() {
				fmt.Fprintf(w, "  chain %d pref %d handle %#x: in_hw_count %d\n", chain, p.Where().Prio, f.Handle(), f.InHWCount())
			}
		}
	}
	return nil
}

// frames are the tour's test traffic.
type frame struct {
	name  string
	bytes []byte
}

func buildFrames() ([]frame, error) {
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, EthernetType: t}
	}
	ip := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: net.IP{10, 0, 0, 2}, DstIP: net.IP{10, 0, 0, 1}}
	}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Window: 1024}
	udpIP, tcpIP := ip(layers.IPProtocolUDP), ip(layers.IPProtocolTCP)
	if err := udp.SetNetworkLayerForChecksum(udpIP); err != nil {
		return nil, err
	}
	if err := tcp.SetNetworkLayerForChecksum(tcpIP); err != nil {
		return nil, err
	}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: []byte{2, 0, 0, 0, 0, 2}, SourceProtAddress: []byte{10, 0, 0, 2},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 1}}
	stacks := []struct {
		name   string
		layers []gopacket.SerializableLayer
	}{
		{"udp 10.0.0.2:5000 > 10.0.0.1:53", []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4), udpIP, udp, gopacket.Payload("query")}},
		{"tcp 10.0.0.2:40000 > 10.0.0.1:80", []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4), tcpIP, tcp}},
		{"arp who-has 10.0.0.1", []gopacket.SerializableLayer{eth(layers.EthernetTypeARP), arp}},
	}
	var out []frame
	for _, s := range stacks {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, s.layers...); err != nil {
			return nil, fmt.Errorf("build %s: %w", s.name, err)
		}
		out = append(out, frame{s.name, buf.Bytes()})
	}
	return out, nil
}

// classify receives fr on the device with ifindex and name, runs block 1
// on it and prints the verdict and class.
func (l *lab) classify(w io.Writer, pkt *packet.Packet, fr frame, dev string, ifindex uint32) error {
	if err := pkt.Receive(fr.bytes, packet.EthernetDevice(ifindex, [6]byte{2, 0, 0, 0, 0, 1})); err != nil {
		return err
	}
	res := l.block1.Classify(pkt)
	fmt.Fprintf(w, "  %-34s on %-5s -> %s", fr.name, dev, res.Verdict)
	if res.Decided() {
		fmt.Fprintf(w, " classid %s", res.ClassID)
	}
	fmt.Fprintln(w)
	return nil
}

// run is the tour; it writes what a shell session would show.
func run(w io.Writer) error {
	l := newLab()
	fmt.Fprintf(w, "# eth0 and eth1 share block 1; each has a toy card: classic BPF only, at most\n")
	fmt.Fprintf(w, "# %d instructions, chain 0 only, %d table entries. eth2 has such a card with\n", nicMaxInsns, nicEntries)
	fmt.Fprintf(w, "# hw-tc-offload off, and a block of its own.\n")
	for _, step := range []string{
		"#\n# skip_sw runs in hardware only, skip_hw in software only, no flag in both.",
		"tc filter add block 1 pref 10 bpf skip_sw bytecode '" + bcUDP + "' classid 1:10 action ok",
		"tc filter add block 1 pref 20 bpf bytecode '" + bcIPv4 + "' classid 1:20 action ok",
		"tc filter add block 1 pref 30 bpf skip_hw bytecode '" + bcARP + "' classid 1:30 action ok",
		"#\n# What the card cannot run: refused before the driver sees it.",
		"tc filter add block 1 pref 40 bpf skip_sw bytecode '" + bcHTTP + "' classid 1:40",
		"tc filter add block 1 chain 1 pref 10 bpf skip_sw bytecode '" + bcUDP + "' classid 1:11",
		"#\n# eth1's card starts failing every add with EIO: a filter without flags is\n# installed anyway, a skip_sw one is refused and rolled back.",
		"!fail",
		"tc filter add block 1 pref 50 bpf bytecode '" + bcIPv6 + "' classid 1:50",
		"tc filter add block 1 pref 60 bpf skip_sw bytecode '" + bcIPv4 + "' classid 1:60",
		"!heal",
		"#\n# eth1's card is healthy again, but eth0's table is full.",
		"tc filter add block 1 pref 60 bpf skip_sw bytecode '" + bcIPv4 + "' classid 1:60",
		"#\n# eth2 has hw-tc-offload off.",
		"tc filter add dev eth2 ingress pref 10 bpf skip_sw bytecode '" + bcUDP + "' classid 1:10",
		"tc filter add dev eth2 ingress pref 10 bpf bytecode '" + bcUDP + "' classid 1:10",
	} {
		switch {
		case strings.HasPrefix(step, "#"):
			fmt.Fprintln(w, step)
		case step == "!fail":
			l.nic1.Refuse(offload.Add, fmt.Errorf("eth1 firmware: %w", syscall.EIO))
		case step == "!heal":
			l.nic1.Refuse(offload.Add, nil)
		default:
			if err := l.tc(w, step); err != nil {
				return err
			}
		}
	}

	fmt.Fprintf(w, "#\n$ tc filter show block 1\n")
	if err := l.show(w, false); err != nil {
		return err
	}
	fmt.Fprintf(w, "# cards: eth0 holds %d filters, eth1 %d, eth2 %d\n", l.nic0.Len(), l.nic1.Len(), l.nic2.Len())

	frames, err := buildFrames()
	if err != nil {
		return err
	}
	l.clock.advance(3)
	fmt.Fprintf(w, "#\n# Frames: the skip_sw filter (pref 10) classifies only frames that came\n# through a card that holds it; veth0 is a device without one.\n")
	pkt := packet.New(128)
	for _, c := range []struct {
		frame   int
		dev     string
		ifindex uint32
	}{{0, "eth0", 2}, {0, "eth1", 3}, {0, "veth0", 9}, {1, "eth0", 2}, {2, "eth1", 3}} {
		if err := l.classify(w, pkt, frames[c.frame], c.dev, c.ifindex); err != nil {
			return err
		}
	}

	// `tc -s filter show` is a dump: the kernel asks the drivers for their
	// counters first and adds them to the actions' statistics.
	l.clock.advance(2)
	if _, err := l.block1.Dump(classifier.Message{}); err != nil {
		return err
	}
	fmt.Fprintf(w, "#\n$ tc -s filter show block 1\n")
	if err := l.show(w, true); err != nil {
		return err
	}
	fmt.Fprintf(w, "# counters the cards reported, merged into the actions above:\n")
	for _, p := range l.block1.Protos(0) {
		for _, f := range p.Filters() {
			if a, ok := f.Actions().(*classifier.Actions); ok {
				c := a.HWCounters()
				fmt.Fprintf(w, "  pref %d handle %#x: %d bytes %d pkt\n", p.Where().Prio, f.Handle(), c.Bytes, c.Packets)
			}
		}
	}

	fmt.Fprintf(w, "#\n# Deleting a filter destroys it in every card, which frees an entry on eth0.\n$ tc filter del block 1 pref 50\n")
	if err := l.block1.Delete(classifier.Where{Prio: 50}, 0); err != nil {
		return err
	}
	fmt.Fprintf(w, "# cards: eth0 holds %d filters, eth1 %d\n", l.nic0.Len(), l.nic1.Len())
	return l.tc(w, "tc filter add block 1 pref 60 bpf skip_sw bytecode '"+bcIPv4+"' classid 1:60")
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "offload:", err)
		os.Exit(1)
	}
}
