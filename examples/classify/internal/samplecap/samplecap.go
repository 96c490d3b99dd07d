package samplecap

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Snaplen is the snap length the capture declares; one frame is cut to
// TruncatedLen bytes as a short snap length would cut it.
const (
	Snaplen      = 65535
	TruncatedLen = 36
)

// Start is the timestamp of the first frame; each next frame is 1 ms later.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	macHost   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	macRouter = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}
	macPeer   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	macBcast  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macSTP    = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}

	ip4Host   = net.IP{192, 0, 2, 10}
	ip4Peer   = net.IP{192, 0, 2, 20}
	ip4Router = net.IP{192, 0, 2, 1}
	ip4Web    = net.IP{198, 51, 100, 80}
	ip4DNS    = net.IP{198, 51, 100, 53}
	ip6Host   = net.ParseIP("2001:db8::10")
	ip6Web    = net.ParseIP("2001:db8:100::80")
	ip6DNS    = net.ParseIP("2001:db8:100::53")
)

// Frame is one captured frame: its bytes and the length it had on the wire.
type Frame struct {
	Data   []byte
	Length int // wire length; larger than len(Data) for a truncated frame
	Note   string
}

// builder accumulates frames.
type builder struct {
	rng    *rand.Rand
	frames []Frame
	ipID   uint16
	err    error
}

func (b *builder) add(note string, ls ...gopacket.SerializableLayer) {
	if b.err != nil {
		return
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		b.err = fmt.Errorf("serialize %s: %w", note, err)
		return
	}
	data := bytes.Clone(buf.Bytes())
	b.frames = append(b.frames, Frame{Data: data, Length: len(data), Note: note})
}

func (b *builder) payload(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(b.rng.UintN(256))
	}
	return p
}

func eth(src, dst net.HardwareAddr, t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: t}
}

func (b *builder) ip4(src, dst net.IP, proto layers.IPProtocol) *layers.IPv4 {
	b.ipID++
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: b.ipID, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: src, DstIP: dst}
}

func ip6(src, dst net.IP, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src, DstIP: dst}
}

func tcp(sport, dport layers.TCPPort, seq uint32, syn, ack, psh bool, nl gopacket.NetworkLayer) *layers.TCP {
	t := &layers.TCP{SrcPort: sport, DstPort: dport, Seq: seq, SYN: syn, ACK: ack, PSH: psh, Window: 64240}
	if ack {
		t.Ack = seq ^ 0x5a5a5a5a
	}
	if syn {
		t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	}
	_ = t.SetNetworkLayerForChecksum(nl)
	return t
}

func udp(sport, dport layers.UDPPort, nl gopacket.NetworkLayer) *layers.UDP {
	u := &layers.UDP{SrcPort: sport, DstPort: dport}
	_ = u.SetNetworkLayerForChecksum(nl)
	return u
}

func dnsQuery(id uint16, name string, qtype layers.DNSType) *layers.DNS {
	return &layers.DNS{ID: id, RD: true, QDCount: 1, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qtype, Class: layers.DNSClassIN}}}
}

func dnsAnswer(q *layers.DNS, ip net.IP) *layers.DNS {
	a := *q
	a.QR, a.RA, a.ANCount = true, true, 1
	t := layers.DNSTypeA
	if ip.To4() == nil {
		t = layers.DNSTypeAAAA
	}
	a.Answers = []layers.DNSResourceRecord{{Name: q.Questions[0].Name, Type: t, Class: layers.DNSClassIN, TTL: 300, IP: ip}}
	return &a
}

// Frames returns the sample frames in capture order.
func Frames() ([]Frame, error) {
	b := &builder{rng: rand.New(rand.NewPCG(2026, 1))}
	out := eth(macHost, macRouter, layers.EthernetTypeIPv4)
	in := eth(macRouter, macHost, layers.EthernetTypeIPv4)
	out6 := eth(macHost, macRouter, layers.EthernetTypeIPv6)
	in6 := eth(macRouter, macHost, layers.EthernetTypeIPv6)

	// ARP for the router, and the answer.
	b.add("arp who-has router", eth(macHost, macBcast, layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: macHost, SourceProtAddress: ip4Host,
		DstHwAddress: make([]byte, 6), DstProtAddress: ip4Router,
	})
	b.add("arp reply", eth(macRouter, macHost, layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPReply, SourceHwAddress: macRouter, SourceProtAddress: ip4Router,
		DstHwAddress: macHost, DstProtAddress: ip4Host,
	})

	// DNS over IPv4 and IPv6, queries and answers.
	names := []string{"example.com", "www.example.com", "api.example.net", "cdn.example.org"}
	for i, name := range names {
		q := dnsQuery(uint16(0x1000+i), name, layers.DNSTypeA)
		sport := layers.UDPPort(40000 + i)
		n := b.ip4(ip4Host, ip4DNS, layers.IPProtocolUDP)
		b.add("dns query "+name, out, n, udp(sport, 53, n), q)
		r := b.ip4(ip4DNS, ip4Host, layers.IPProtocolUDP)
		b.add("dns answer "+name, in, r, udp(53, sport, r), dnsAnswer(q, ip4Web))
	}
	for i, name := range names[:2] {
		q := dnsQuery(uint16(0x2000+i), name, layers.DNSTypeAAAA)
		sport := layers.UDPPort(41000 + i)
		n := ip6(ip6Host, ip6DNS, layers.IPProtocolUDP)
		b.add("dns6 query "+name, out6, n, udp(sport, 53, n), q)
		r := ip6(ip6DNS, ip6Host, layers.IPProtocolUDP)
		b.add("dns6 answer "+name, in6, r, udp(53, sport, r), dnsAnswer(q, ip6Web))
	}

	// TCP flows over IPv4: handshake, request, response, for web and ssh.
	type flow struct {
		dport layers.TCPPort
		data  int
	}
	flows := []flow{{80, 3}, {443, 4}, {80, 2}, {443, 3}, {22, 4}, {443, 2}, {80, 1}, {22, 2}, {443, 3}, {8080, 2}}
	for i, f := range flows {
		sport := layers.TCPPort(50000 + i)
		seq := uint32(1000 * (i + 1))
		n := b.ip4(ip4Host, ip4Web, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp syn :%d", f.dport), out, n, tcp(sport, f.dport, seq, true, false, false, n))
		r := b.ip4(ip4Web, ip4Host, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp syn-ack :%d", f.dport), in, r, tcp(f.dport, sport, seq+77, true, true, false, r))
		n = b.ip4(ip4Host, ip4Web, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp ack :%d", f.dport), out, n, tcp(sport, f.dport, seq+1, false, true, false, n))
		for k := 0; k < f.data; k++ {
			n = b.ip4(ip4Host, ip4Web, layers.IPProtocolTCP)
			b.add(fmt.Sprintf("tcp data :%d", f.dport), out, n, tcp(sport, f.dport, seq+1+uint32(k*100), false, true, true, n), b.payload(100))
			r = b.ip4(ip4Web, ip4Host, layers.IPProtocolTCP)
			b.add(fmt.Sprintf("tcp data from :%d", f.dport), in, r, tcp(f.dport, sport, seq+78+uint32(k*300), false, true, true, r), b.payload(300))
		}
	}

	// TCP over IPv6.
	for i, dport := range []layers.TCPPort{443, 80, 22, 443} {
		sport := layers.TCPPort(51000 + i)
		seq := uint32(7000 * (i + 1))
		n := ip6(ip6Host, ip6Web, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp6 syn :%d", dport), out6, n, tcp(sport, dport, seq, true, false, false, n))
		r := ip6(ip6Web, ip6Host, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp6 syn-ack :%d", dport), in6, r, tcp(dport, sport, seq+5, true, true, false, r))
		n = ip6(ip6Host, ip6Web, layers.IPProtocolTCP)
		b.add(fmt.Sprintf("tcp6 data :%d", dport), out6, n, tcp(sport, dport, seq+1, false, true, true, n), b.payload(200))
	}

	// QUIC-like UDP 443: long-header initial packets and short-header data.
	for i := 0; i < 6; i++ {
		sport := layers.UDPPort(52000 + i%2)
		p := b.payload(120)
		if i < 2 {
			p[0] = 0xc3 // long header, initial
		} else {
			p[0] = 0x43 // short header
		}
		n := b.ip4(ip4Host, ip4Web, layers.IPProtocolUDP)
		b.add("quic to :443", out, n, udp(sport, 443, n), p)
	}
	for i := 0; i < 2; i++ {
		p := b.payload(200)
		p[0] = 0x41
		n := ip6(ip6Host, ip6Web, layers.IPProtocolUDP)
		b.add("quic6 to :443", out6, n, udp(53000, 443, n), p)
	}

	// ICMP and ICMPv6 echo.
	for i := 0; i < 3; i++ {
		n := b.ip4(ip4Host, ip4Router, layers.IPProtocolICMPv4)
		b.add("icmp echo request", out, n, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: uint16(i)}, b.payload(56))
		r := b.ip4(ip4Router, ip4Host, layers.IPProtocolICMPv4)
		b.add("icmp echo reply", in, r, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: uint16(i)}, b.payload(56))
	}
	for i := 0; i < 2; i++ {
		n := ip6(ip6Host, ip6Web, layers.IPProtocolICMPv6)
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		_ = ic.SetNetworkLayerForChecksum(n)
		b.add("icmp6 echo request", out6, n, ic, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: uint16(i)}, b.payload(56))
	}

	// An 802.1Q-tagged flow from a peer on VLAN 100 (priority 3): a SYN to
	// port 80, its data, and an ARP request.
	tag := func(t layers.EthernetType) []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{
			eth(macPeer, macHost, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{Priority: 3, VLANIdentifier: 100, Type: t},
		}
	}
	n := b.ip4(ip4Peer, ip4Host, layers.IPProtocolTCP)
	b.add("vlan 100 tcp syn :80", append(tag(layers.EthernetTypeIPv4), n, tcp(50100, 80, 99, true, false, false, n))...)
	n = b.ip4(ip4Peer, ip4Host, layers.IPProtocolTCP)
	b.add("vlan 100 tcp data :80", append(tag(layers.EthernetTypeIPv4), n, tcp(50100, 80, 100, false, true, true, n), b.payload(64))...)
	b.add("vlan 100 arp who-has", append(tag(layers.EthernetTypeARP), &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: macPeer, SourceProtAddress: ip4Peer,
		DstHwAddress: make([]byte, 6), DstProtAddress: ip4Host,
	})...)

	// A spanning-tree BPDU: 802.3 length field and LLC, no EtherType.
	b.add("stp bpdu", &layers.Ethernet{SrcMAC: macRouter, DstMAC: macSTP, EthernetType: layers.EthernetTypeLLC, Length: 38},
		&layers.LLC{DSAP: 0x42, SSAP: 0x42, Control: 0x03}, gopacket.Payload(make([]byte, 35)))

	// An HTTP request cut by the snap length inside the TCP header.
	n = b.ip4(ip4Host, ip4Web, layers.IPProtocolTCP)
	b.add("tcp data :80, cut by the snap length", out, n, tcp(50002, 80, 3100, false, true, true, n), b.payload(400))
	if b.err != nil {
		return nil, b.err
	}
	last := &b.frames[len(b.frames)-1]
	last.Data = last.Data[:TruncatedLen]
	return b.frames, nil
}

// Write writes the sample capture as a pcap file with microsecond
// timestamps.
func Write(w io.Writer) error {
	frames, err := Frames()
	if err != nil {
		return err
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return err
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{
			Timestamp:     Start.Add(time.Duration(i) * time.Millisecond),
			CaptureLength: len(f.Data),
			Length:        f.Length,
		}
		if err := pw.WritePacket(ci, f.Data); err != nil {
			return fmt.Errorf("frame %d: %w", i+1, err)
		}
	}
	return nil
}
