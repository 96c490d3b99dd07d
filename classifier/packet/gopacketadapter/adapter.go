package gopacketadapter

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Path says which kernel path a frame takes into the packet model.
type Path uint8

// Paths.
const (
	// AsCaptured keeps the frame exactly as captured, as
	// BPF_PROG_TEST_RUN hands it to a program: packet.SetFrame (or
	// packet.SetL3 for raw IP), in-frame VLAN tags stay in the frame.
	AsCaptured Path = iota
	// Receive hands the frame to tc ingress as the kernel's receive path
	// does (packet.Receive): pkt_type from the destination address and
	// the device, the outer 802.1Q/802.1ad tag moved into the offload
	// fields, ifindex and ingress ifindex set.
	Receive
	// Transmit hands the frame to tc egress as the transmit path does
	// (packet.Transmit).
	Transmit
)

// String returns "as-captured", "receive" or "transmit".
func (p Path) String() string {
	switch p {
	case AsCaptured:
		return "as-captured"
	case Receive:
		return "receive"
	case Transmit:
		return "transmit"
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// Options say how FromGopacket maps a gopacket packet onto a
// packet.Packet. The zero value keeps the frame as captured.
type Options struct {
	// Path is the kernel path the frame takes.
	Path Path
	// Device is the device the frame passes for Receive and Transmit. When
	// its Ifindex is 0, the capture's CaptureInfo.InterfaceIndex (when
	// positive) is used instead. When its Type is 0 it stands for an
	// Ethernet device (ARPHRD_ETHER, broadcast ff:ff:ff:ff:ff:ff, the
	// address it is given) for Ethernet frames, and for an ARPHRD_NONE
	// device for bare IP packets.
	Device packet.Device
}

// Errors FromGopacket returns besides the packet package's own.
var (
	// ErrEmpty: the gopacket packet holds no bytes.
	ErrEmpty = fmt.Errorf("gopacketadapter: empty packet: %w", syscall.EINVAL)
	// ErrLinkType: the packet's first layer is neither Ethernet nor
	// IPv4/IPv6, so there is no frame the model can hold as the kernel
	// would (Linux cooked captures, for one, carry no MAC header).
	// A frame too short for its first header is refused the same way,
	// since gopacket then reports a decode failure as its first layer.
	ErrLinkType = fmt.Errorf("gopacketadapter: first layer is neither Ethernet nor IP, or did not decode: %w", syscall.EPROTONOSUPPORT)
)

// FromGopacket resets dst to hold the frame of src and maps the metadata
// gopacket has:
//
//   - the frame: src.Data(), from the Ethernet header when the first layer
//     is Ethernet, or a bare IPv4/IPv6 packet (raw-IP captures, TUN) when
//     the first layer is IP, in which case the MAC header length is 0;
//   - 802.1Q/802.1ad tags: with Path Receive the outer tag (gopacket's
//     first Dot1Q layer) moves into VLANPresent, VLANProto and VLANTCI as
//     the kernel's skb_vlan_untag moves it; otherwise tags stay in the
//     frame;
//   - CaptureInfo.InterfaceIndex: the ifindex when opts.Device.Ifindex is
//     0 (AF_PACKET sources report the kernel's ifindex there; pcapng
//     readers report the file's interface number);
//   - CaptureInfo.Timestamp: Tstamp in nanoseconds, TstampType realtime.
//
// A frame captured short of its wire length is taken as captured. dst
// reuses its buffer, so a Packet kept per worker costs no allocation per
// frame beyond what gopacket's own decoding does.
func FromGopacket(dst *packet.Packet, src gopacket.Packet, opts Options) error {
	if opts.Path > Transmit {
		return fmt.Errorf("gopacketadapter: unknown path %v: %w", opts.Path, syscall.EINVAL)
	}
	data := src.Data()
	if len(data) == 0 {
		return ErrEmpty
	}
	ci := src.Metadata().CaptureInfo
	dev := opts.Device
	if dev.Ifindex == 0 && ci.InterfaceIndex > 0 {
		dev.Ifindex = uint32(ci.InterfaceIndex)
	}
	var err error
	switch linkOf(src) {
	case layers.LayerTypeEthernet:
		if dev.Type == 0 {
			dev.Type, dev.Broadcast = packet.ARPHRDEther, packet.BroadcastMAC
		}
		switch opts.Path {
		case Receive:
			err = dst.Receive(data, dev)
		case Transmit:
			err = dst.Transmit(data, dev)
		default:
			err = dst.SetFrame(data)
			dst.Ifindex = dev.Ifindex
		}
	case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
		if dev.Type == 0 {
			dev.Type = packet.ARPHRDNone
		}
		switch opts.Path {
		case Receive:
			err = dst.ReceiveL3(data, dev)
		case Transmit:
			err = dst.TransmitL3(data, dev)
		default:
			err = dst.SetL3(data)
			dst.Ifindex = dev.Ifindex
		}
	default:
		return ErrLinkType
	}
	if err != nil {
		return fmt.Errorf("gopacketadapter: %w", err)
	}
	if !ci.Timestamp.IsZero() {
		dst.Tstamp, dst.TstampType = uint64(ci.Timestamp.UnixNano()), packet.TstampRealtime
	}
	return nil
}

// linkOf returns the type of src's first layer as the decoder saw it:
// Ethernet, IPv4, IPv6, or something else.
func linkOf(src gopacket.Packet) gopacket.LayerType {
	if l := src.LinkLayer(); l != nil {
		return l.LayerType()
	}
	ls := src.Layers()
	if len(ls) == 0 {
		return gopacket.LayerTypeZero
	}
	return ls[0].LayerType()
}

// ToGopacket decodes the frame p holds as a gopacket packet: an offloaded
// VLAN tag is written back into the frame after the MAC addresses (as
// libpcap does for AF_PACKET captures), a frame with a MAC header decodes
// from Ethernet and a bare IP packet from IPv4 or IPv6 by Protocol, and the
// packet's CaptureInfo carries the length, Ifindex as InterfaceIndex, and
// Tstamp as Timestamp when it is a realtime stamp. The frame is copied
// unless opts.NoCopy is set and no tag had to be inserted, in which case
// the gopacket packet aliases p's buffer until p changes.
func ToGopacket(p *packet.Packet, opts gopacket.DecodeOptions) gopacket.Packet {
	frame := p.Bytes()
	ethernet := p.MACLen() == 14 && p.MACOffset() == 0
	if ethernet && p.VLANPresent && len(frame) >= 12 {
		tagged := make([]byte, len(frame)+4)
		copy(tagged, frame[:12])
		binary.BigEndian.PutUint16(tagged[12:], p.VLANProto)
		binary.BigEndian.PutUint16(tagged[14:], p.VLANTCI)
		copy(tagged[16:], frame[12:])
		frame = tagged
		opts.NoCopy = true // already a private copy
	}
	var first gopacket.Decoder = gopacket.LayerTypePayload
	switch {
	case ethernet:
		first = layers.LayerTypeEthernet
	case p.Protocol == 0x0800:
		first = layers.LayerTypeIPv4
	case p.Protocol == 0x86DD:
		first = layers.LayerTypeIPv6
	}
	pk := gopacket.NewPacket(frame, first, opts)
	ci := gopacket.CaptureInfo{CaptureLength: len(frame), Length: len(frame), InterfaceIndex: int(p.Ifindex)}
	if p.Tstamp != 0 && p.TstampType == packet.TstampRealtime {
		ci.Timestamp = time.Unix(0, int64(p.Tstamp)).UTC()
	}
	pk.Metadata().CaptureInfo = ci
	return pk
}
