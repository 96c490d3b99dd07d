package testingexample

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/tctest"
	"github.com/clsbpf/clsbpf/handle"
)

// Counter indexes of testdata/firewall.c.
const (
	passed = iota
	dropped
	marked
	rewritten
)

// stack returns Ethernet and IPv4 layers from 10.0.0.1 to 10.0.0.2 with l4
// on top.
func stack(proto layers.IPProtocol, l4 ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: proto,
		SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2),
	}
	return append([]gopacket.SerializableLayer{eth, ip}, l4...)
}

func tcp(dport layers.TCPPort) []gopacket.SerializableLayer {
	return stack(layers.IPProtocolTCP, &layers.TCP{SrcPort: 40000, DstPort: dport, SYN: true, Window: 512}, gopacket.Payload("hello"))
}

func udp(dport layers.UDPPort) []gopacket.SerializableLayer {
	return stack(layers.IPProtocolUDP, &layers.UDP{SrcPort: 40000, DstPort: dport}, gopacket.Payload("query"))
}

func TestFirewall(t *testing.T) {
	tests := []struct {
		name    string
		in      []gopacket.SerializableLayer
		verdict action.Verdict
		out     []gopacket.SerializableLayer // nil: the frame is unchanged
		mark    uint32
		counter uint32
	}{
		{name: "telnet is dropped", in: tcp(23), verdict: action.Shot, counter: dropped},
		{name: "http passes", in: tcp(80), verdict: action.OK, counter: passed},
		{name: "8080 is rewritten to 80", in: tcp(8080), verdict: action.OK, out: tcp(80), counter: rewritten},
		{name: "dns is marked", in: udp(53), verdict: action.OK, mark: 0x53, counter: marked},
		{name: "other udp passes", in: udp(123), verdict: action.OK, counter: passed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := tctest.LoadObject(t, "testdata/firewall.o")
			prog := tctest.ProgramOf(t, coll, "firewall")

			pkt := tctest.Packet(t, tt.in...)
			want := tctest.ContextOf(pkt)
			want.Mark = tt.mark
			wantFrame := tctest.Serialize(t, tt.in...)
			if tt.out != nil {
				wantFrame = tctest.Serialize(t, tt.out...)
			}

			tctest.EqualVerdict(t, tctest.Run(t, prog, pkt), tt.verdict)
			tctest.EqualFrame(t, pkt, wantFrame)
			tctest.EqualContext(t, pkt, want)
			tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), tt.counter, uint64(1))
		})
	}
}

// TestFirewallChain runs the program as `tc filter add ... bpf da obj
// firewall.o sec tc` does, in a block behind a classic filter in classid
// mode that sends ARP to class 1:1 and leaves the rest to the firewall.
func TestFirewallChain(t *testing.T) {
	coll := tctest.LoadObject(t, "testdata/firewall.o")
	block := tctest.Block(t,
		classifier.FilterSpec{
			// ldh [12]; jeq #0x806, L2, L3; L2: ret #-1; L3: ret #0
			Program: tctest.Bytecode(t, "4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0"),
			ClassID: handle.Make(1, 1),
		},
		classifier.FilterSpec{Program: tctest.ProgramOf(t, coll, "firewall"), DirectAction: true},
	)

	res := block.Classify(tctest.Packet(t, tcp(23)...))
	tctest.EqualVerdict(t, res.Verdict, action.Shot)

	arp := tctest.Packet(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2},
		},
	)
	res = block.Classify(arp)
	tctest.EqualVerdict(t, res.Verdict, action.OK)
	tctest.EqualClassID(t, res.ClassID, handle.Make(1, 1))
	tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), uint32(dropped), uint64(1))
	tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), uint32(passed), uint64(0))
}
