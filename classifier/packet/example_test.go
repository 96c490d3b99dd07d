package packet_test

import (
	"fmt"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// ethFrame is a 60-byte broadcast ARP frame with an 802.1Q tag (VLAN 10,
// priority 5).
var ethFrame = append([]byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source
	0x81, 0x00, 0xa0, 0x0a, // 802.1Q tag: TCI 0xa00a
	0x08, 0x06, // EtherType: ARP
}, make([]byte, 42)...)

func ExamplePacket_SetFrame() {
	p := packet.New(1500) // keep one per worker: SetFrame reuses its buffer
	if err := p.SetFrame(ethFrame); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("len %d protocol %#04x mac_len %d vlan offloaded %v\n", p.Len(), p.Protocol, p.MACLen(), p.VLANPresent)
	// Output:
	// len 60 protocol 0x8100 mac_len 14 vlan offloaded false
}

func ExamplePacket_Receive() {
	dev := packet.EthernetDevice(3, [6]byte{0x02, 0, 0, 0, 0, 0x02})
	var p packet.Packet
	if err := p.Receive(ethFrame, dev); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("len %d protocol %#04x pkt_type %v ifindex %d\n", p.Len(), p.Protocol, p.PktType, p.Ifindex)
	fmt.Printf("vlan %v tpid %#04x tci %#04x wire_len %d\n", p.VLANPresent, p.VLANProto, p.VLANTCI, p.WireLen)
	// Output:
	// len 56 protocol 0x0806 pkt_type broadcast ifindex 3
	// vlan true tpid 0x8100 tci 0xa00a wire_len 42
}

func ExampleDevice_PktType() {
	veth := packet.EthernetDevice(2, [6]byte{0x02, 0, 0, 0, 0, 0x02})
	for _, dst := range [][6]byte{
		{0x02, 0, 0, 0, 0, 0x02},
		packet.BroadcastMAC,
		{0x01, 0x00, 0x5e, 0, 0, 1},
		{0x02, 0, 0, 0, 0, 0x09},
	} {
		fmt.Println(veth.PktType(dst), packet.LoopbackDevice.PktType(dst))
	}
	// Output:
	// host otherhost
	// broadcast multicast
	// multicast multicast
	// otherhost otherhost
}

func ExamplePacket_ReceiveL3() {
	// An IPv4 header as a TUN device hands it to tc ingress: no MAC header.
	ipv4 := append([]byte{0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, make([]byte, 8)...)
	tun := packet.Device{Ifindex: 7, Type: packet.ARPHRDNone}
	var p packet.Packet
	if err := p.ReceiveL3(ipv4, tun); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("len %d protocol %#04x mac_len %d network at %d ifindex %d\n", p.Len(), p.Protocol, p.MACLen(), p.NetworkOffset(), p.Ifindex)
	// Output:
	// len 28 protocol 0x0800 mac_len 0 network at 0 ifindex 7
}

func ExamplePacket_UntagVLAN() {
	p := packet.New(len(ethFrame))
	if err := p.SetFrame(ethFrame); err != nil { // as BPF_PROG_TEST_RUN: the tag stays
		fmt.Println(err)
		return
	}
	fmt.Printf("before: len %d protocol %#04x\n", p.Len(), p.Protocol)
	if err := p.UntagVLAN(); err != nil { // as the receive path: the tag is offloaded
		fmt.Println(err)
		return
	}
	fmt.Printf("after: len %d protocol %#04x vlan id %d priority %d\n", p.Len(), p.Protocol, p.VLANTCI&0xfff, p.VLANTCI>>13)
	// Output:
	// before: len 60 protocol 0x8100
	// after: len 56 protocol 0x0806 vlan id 10 priority 5
}
