package gopacketadapter_test

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/packet/gopacketadapter"
)

func ExampleFromGopacket() {
	// A UDP datagram on VLAN 42, built with gopacket.
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
		ip, udp, gopacket.Payload("hello"))
	src := gopacket.NewPacket(buf.Bytes(), layers.LayerTypeEthernet, gopacket.Default)

	// Hand it to tc ingress of a device with address 02:00:00:00:00:02.
	var p packet.Packet
	dev := packet.EthernetDevice(4, [6]byte{2, 0, 0, 0, 0, 2})
	if err := gopacketadapter.FromGopacket(&p, src, gopacketadapter.Options{Path: gopacketadapter.Receive, Device: dev}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("len %d protocol %#04x pkt_type %v ifindex %d vlan %d\n", p.Len(), p.Protocol, p.PktType, p.Ifindex, p.VLANTCI&0xfff)

	// And back: the tag returns to the frame.
	back := gopacketadapter.ToGopacket(&p, gopacket.Default)
	fmt.Println(back.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q).VLANIdentifier, len(back.Data()))
	// Output:
	// len 56 protocol 0x0800 pkt_type host ifindex 4 vlan 42
	// 42 60
}
