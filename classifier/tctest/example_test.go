package tctest_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/tctest"
	"github.com/clsbpf/clsbpf/handle"
)

// printTB stands in for the *testing.T of a test in these examples: it
// prints what a test would report.
type printTB struct{ testing.TB }

func (printTB) Helper() {}

func (printTB) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (printTB) Error(args ...any) { fmt.Println(args...) }

func (printTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func Example() {
	var t printTB // a test's *testing.T

	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(t, coll, "firewall")
	pkt := tctest.Packet(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.UDP{SrcPort: 40000, DstPort: 53},
	)
	want := tctest.ContextOf(pkt)
	want.Mark = 0x53
	want.Priority = 1 // wrong on purpose: the program leaves it alone

	tctest.EqualVerdict(t, tctest.Run(t, prog, pkt), action.Shot) // wrong on purpose
	tctest.EqualContext(t, pkt, want)
	tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), uint32(2), uint64(1))
	// Output:
	// verdict: got 0 (TC_ACT_OK), want 2 (TC_ACT_SHOT)
	// context (struct __sk_buff) differs:
	// priority: got 0x0, want 0x1
}

func ExampleEqualFrame() {
	var t printTB // a test's *testing.T

	want := tctest.Serialize(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1},
		gopacket.Payload("ping"),
	)
	pkt := tctest.Frame(t, want)
	pkt.Bytes()[22]-- // a program lowered the TTL without fixing the checksum

	tctest.EqualFrame(t, pkt, want)
	// Output:
	// frame: 1 of 60 bytes differ, the first at offset 22 (0x16)
	// got (60 bytes):
	//   0000  02 00 00 00 00 02 02 00  00 00 00 01 08 00 45 00
	//   0010  00 20 00 00 00 00 3f 01  66 db 0a 00 00 01 0a 00
	//                           ^^
	//   0020  00 02 08 00 19 2d 00 01  00 01 70 69 6e 67 00 00
	//   0030  00 00 00 00 00 00 00 00  00 00 00 00
	// want (60 bytes):
	//   0000  02 00 00 00 00 02 02 00  00 00 00 01 08 00 45 00
	//   0010  00 20 00 00 00 00 40 01  66 db 0a 00 00 01 0a 00
	//                           ^^
	//   0020  00 02 08 00 19 2d 00 01  00 01 70 69 6e 67 00 00
	//   0030  00 00 00 00 00 00 00 00  00 00 00 00
	// got, decoded:
	//   Ethernet	{Contents=[..14..] Payload=[..46..] SrcMAC=02:00:00:00:00:01 DstMAC=02:00:00:00:00:02 EthernetType=IPv4 Length=0}
	//   IPv4	{Contents=[..20..] Payload=[..12..] Version=4 IHL=5 TOS=0 Length=32 Id=0 Flags= FragOffset=0 TTL=63 Protocol=ICMPv4 Checksum=26331 SrcIP=10.0.0.1 DstIP=10.0.0.2 Options=[] Padding=[]}
	//   ICMPv4	{Contents=[..8..] Payload=[112, 105, 110, 103] TypeCode=EchoRequest Checksum=6445 Id=1 Seq=1}
	//   Payload	4 byte(s)
	// want, decoded:
	//   Ethernet	{Contents=[..14..] Payload=[..46..] SrcMAC=02:00:00:00:00:01 DstMAC=02:00:00:00:00:02 EthernetType=IPv4 Length=0}
	//   IPv4	{Contents=[..20..] Payload=[..12..] Version=4 IHL=5 TOS=0 Length=32 Id=0 Flags= FragOffset=0 TTL=64 Protocol=ICMPv4 Checksum=26331 SrcIP=10.0.0.1 DstIP=10.0.0.2 Options=[] Padding=[]}
	//   ICMPv4	{Contents=[..8..] Payload=[112, 105, 110, 103] TypeCode=EchoRequest Checksum=6445 Id=1 Seq=1}
	//   Payload	4 byte(s)
}

func ExampleBytecode() {
	var t printTB // a test's *testing.T

	// ldh [12]; jeq #0x806, L2, L3; L2: ret #0x10001; L3: ret #0
	prog := tctest.Bytecode(t, "4,40 0 0 12,21 0 1 2054,6 0 0 65537,6 0 0 0")
	arp := tctest.Frame(t, append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...))

	tctest.EqualClassID(t, tctest.Run(t, prog, arp), handle.Make(1, 2)) // wrong on purpose
	// Output:
	// classid: got 1:1 (0x10001), want 1:2 (0x10002)
}

func ExampleHexDiff() {
	fmt.Print(tctest.HexDiff([]byte("tc cls_bpf"), []byte("tc act_bpf")))
	// Output:
	//   0000  74 63 20 63 6c 73 5f 62  70 66
	//                  ^^ ^^ ^^
}

func ExampleChain() {
	var t printTB // a test's *testing.T

	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	// tc filter add ... bpf bytecode '...' classid 1:1 (ARP to class 1:1)
	// tc filter add ... bpf da obj firewall.o sec tc
	chain := tctest.Chain(t,
		classifier.FilterSpec{Program: tctest.Bytecode(t, "4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0"), ClassID: handle.Make(1, 1)},
		classifier.FilterSpec{Program: tctest.ProgramOf(t, coll, "firewall"), DirectAction: true},
	)
	telnet := tctest.Packet(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.TCP{SrcPort: 40000, DstPort: 23, SYN: true},
	)
	res := chain.Classify(telnet)
	fmt.Println(res.Verdict)
	tctest.EqualVerdict(t, res.Verdict, action.Shot)
	tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), uint32(1), uint64(1))
	// Output:
	// drop
}
