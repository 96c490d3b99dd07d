package packet

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// Device is the network device a packet passes through, reduced to what the
// receive and transmit paths take from struct net_device: its ifindex, its
// ARPHRD_* type, and the two addresses eth_type_trans compares a frame's
// destination with.
type Device struct {
	// Ifindex is dev->ifindex.
	Ifindex uint32
	// Type is dev->type (ARPHRD_*), what classic SKF_AD_HATYPE reads.
	Type uint16
	// Addr is the device's hardware address (dev->dev_addr).
	Addr [6]byte
	// Broadcast is the device's broadcast address (dev->broadcast).
	Broadcast [6]byte
}

// BroadcastMAC is the Ethernet broadcast address ff:ff:ff:ff:ff:ff, the
// broadcast address ether_setup gives every Ethernet device.
var BroadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// LoopbackDevice is a network namespace's loopback device as the kernel
// makes it (loopback_setup): ifindex 1, ARPHRD_LOOPBACK, and an address and
// a broadcast address that are both all zero, so a frame to
// ff:ff:ff:ff:ff:ff counts as Multicast on it, not Broadcast.
// BPF_PROG_TEST_RUN computes pkt_type against this device when its context
// names no other.
var LoopbackDevice = Device{Ifindex: 1, Type: ARPHRDLoopback}

// EthernetDevice returns an Ethernet device (ARPHRD_ETHER, broadcast
// address ff:ff:ff:ff:ff:ff, as ether_setup makes one, for example a veth)
// with the given ifindex and hardware address.
func EthernetDevice(ifindex uint32, addr [6]byte) Device {
	return Device{Ifindex: ifindex, Type: ARPHRDEther, Addr: addr, Broadcast: BroadcastMAC}
}

// PktType returns the packet type eth_type_trans gives a frame with
// destination address dst received on d (eth_skb_pkt_type in
// include/linux/etherdevice.h): Host when dst is the device's own address,
// otherwise Broadcast when dst is a group address equal to the device's
// broadcast address, Multicast for any other group address (the low bit of
// the first byte set), and OtherHost for any other unicast address. The own
// address is compared first, so on the loopback device, whose address is
// all zero, dst 00:00:00:00:00:00 is Host.
func (d Device) PktType(dst [6]byte) Type {
	if dst == d.Addr {
		return Host
	}
	if dst[0]&1 != 0 {
		if dst == d.Broadcast {
			return Broadcast
		}
		return Multicast
	}
	return OtherHost
}

// Receive resets p to hold a copy of an Ethernet frame as the receive path
// hands it to tc ingress on dev (eth_type_trans, then
// __netif_receive_skb_core up to sch_handle_ingress):
//
//   - Protocol comes from the EtherType as in SetFrame, PktType from
//     dev.PktType of the destination address;
//   - Ifindex and IngressIfindex (skb_iif) are dev.Ifindex, DeviceType is
//     dev.Type, Direction is Ingress;
//   - an 802.1Q or 802.1ad tag moves into the offload fields (UntagVLAN);
//     an inner second tag stays in the frame;
//   - the transport header is set to the network header, as the receive
//     path resets an unset one;
//   - WireLen is the length after the MAC header, since the qdisc layer
//     records the packet length before tc pushes the MAC header back.
//
// Other metadata is zero and the frame is linear. It fails where the kernel
// would drop the frame: shorter than 14 bytes, or tagged and shorter than
// 20. The buffer is reused when large enough, so steady use allocates
// nothing.
func (p *Packet) Receive(frame []byte, dev Device) error {
	if len(frame) >= 14 && len(frame) < 20 {
		if t := binary.BigEndian.Uint16(frame[12:14]); t == TPID8021Q || t == TPID8021AD {
			// Refused before anything changes, as UntagVLAN would refuse
			// it after loading.
			return fmt.Errorf("receive: untag vlan: %d bytes, a tagged frame needs 20: %w", len(frame), ErrTruncated)
		}
	}
	if err := p.SetFrame(frame); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	p.Ifindex, p.IngressIfindex, p.DeviceType = dev.Ifindex, dev.Ifindex, dev.Type
	p.PktType = dev.PktType([6]byte(p.buf[p.data : p.data+6]))
	if p.Protocol == TPID8021Q || p.Protocol == TPID8021AD {
		if err := p.UntagVLAN(); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
	}
	p.transport = p.network
	p.WireLen = uint32(p.Len() - p.MACLen())
	return nil
}

// Transmit resets p to hold a copy of an Ethernet frame as the transmit
// path hands it to tc egress on dev (__dev_queue_xmit, sch_handle_egress):
// Protocol comes from the EtherType as in SetFrame, Ifindex is dev.Ifindex,
// DeviceType is dev.Type, IngressIfindex is 0 (locally generated),
// PktType is Host, Direction is Egress, in-frame VLAN tags stay in the
// frame, and WireLen is the whole frame length. Other metadata is zero and
// the frame is linear. It fails on a frame shorter than 14 bytes. The buffer
// is reused when large enough, so steady use allocates nothing.
func (p *Packet) Transmit(frame []byte, dev Device) error {
	if err := p.SetFrame(frame); err != nil {
		return fmt.Errorf("transmit: %w", err)
	}
	p.Direction = Egress
	p.Ifindex, p.DeviceType = dev.Ifindex, dev.Type
	p.WireLen = uint32(p.Len())
	return nil
}

// ReceiveL3 resets p to hold a copy of a bare IPv4 or IPv6 packet as an L3
// device's receive path hands it to tc ingress on dev: a TUN device without
// packet information (tun_get_user), and likewise WireGuard or netkit in L3
// mode. Protocol comes from the version nibble, there is no MAC header
// (MACLen 0, the MAC and network headers at data), PktType is Host,
// Ifindex and IngressIfindex are dev.Ifindex, DeviceType is dev.Type,
// Direction is Ingress and WireLen is the packet length. Like the TUN
// driver it refuses, with EINVAL, a packet whose version is neither 4 nor
// 6. Drivers that record the receive queue do so on their own (TUN records
// queue 0 as queue_mapping 1): set QueueMapping where it matters. The
// buffer is reused when large enough.
func (p *Packet) ReceiveL3(pkt []byte, dev Device) error {
	if len(pkt) > 0 && pkt[0]>>4 != 4 && pkt[0]>>4 != 6 {
		return fmt.Errorf("receive l3: IP version %d: %w", pkt[0]>>4, syscall.EINVAL)
	}
	if err := p.SetL3(pkt); err != nil {
		return fmt.Errorf("receive l3: %w", err)
	}
	p.Ifindex, p.IngressIfindex, p.DeviceType = dev.Ifindex, dev.Ifindex, dev.Type
	p.WireLen = uint32(p.Len())
	return nil
}

// TransmitL3 resets p to hold a copy of a bare IPv4 or IPv6 packet as the
// transmit path hands it to tc egress on an L3 device: as ReceiveL3, but
// Direction Egress and IngressIfindex 0, and any version is taken (the
// stack names skb->protocol; an unknown version leaves Protocol 0).
func (p *Packet) TransmitL3(pkt []byte, dev Device) error {
	if err := p.SetL3(pkt); err != nil {
		return fmt.Errorf("transmit l3: %w", err)
	}
	p.Direction = Egress
	p.Ifindex, p.DeviceType = dev.Ifindex, dev.Type
	p.WireLen = uint32(p.Len())
	return nil
}
