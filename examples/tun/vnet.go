package main

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// dev is the input device as tc sees it: an L3 device (no Ethernet
// header).
var dev = packet.Device{Ifindex: 1, Type: packet.ARPHRDNone}

// VnetHdrLen is the size of struct virtio_net_hdr, the header a TUN
// device opened with IFF_VNET_HDR puts before every packet (the default
// TUNSETVNETHDRSZ).
const VnetHdrLen = 10

// virtio_net_hdr flags and GSO types (include/uapi/linux/virtio_net.h).
const (
	VnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	VnetFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID

	VnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	VnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	VnetGSOUDP   = 3    // VIRTIO_NET_HDR_GSO_UDP
	VnetGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	VnetGSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4
	VnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN
)

// skb GSO types (enum in include/linux/skbuff.h) that a virtio header
// maps to.
const (
	skbGSOTCPv4  = 1 << 0
	skbGSODodgy  = 1 << 1
	skbGSOTCPECN = 1 << 2
	skbGSOTCPv6  = 1 << 4
	skbGSOUDP    = 1 << 16
	skbGSOUDPL4  = 1 << 17
)

// VnetHdr is struct virtio_net_hdr, little-endian as a TUN device with
// the default TUNSETVNETLE setting uses it on little-endian hosts.
type VnetHdr struct {
	// Flags are VnetFlag* bits.
	Flags uint8
	// GSOType is a VnetGSO* type, with VnetGSOECN.
	GSOType uint8
	// HdrLen is the length of the headers (a hint).
	HdrLen uint16
	// GSOSize is the segment payload size.
	GSOSize uint16
	// CsumStart and CsumOffset locate the checksum to fill in, from
	// the start of the packet, for VnetFlagNeedsCsum.
	CsumStart  uint16
	CsumOffset uint16
}

// ParseVnetHdr reads the header at the start of b.
func ParseVnetHdr(b []byte) (VnetHdr, error) {
	if len(b) < VnetHdrLen {
		return VnetHdr{}, fmt.Errorf("virtio_net_hdr: %d bytes, need %d: %w", len(b), VnetHdrLen, syscall.EINVAL)
	}
	return VnetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
	}, nil
}

// Put writes the header into b[:VnetHdrLen].
func (h VnetHdr) Put(b []byte) {
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
}

// Apply sets the packet's checksum and segmentation state from the header
// as virtio_net_hdr_to_skb does when tun_get_user receives a packet with
// one (include/linux/virtio_net.h): NEEDS_CSUM makes the checksum partial
// at CsumStart+CsumOffset (refused, EINVAL, when that lies outside the
// packet or before the end of the IPv4 header, or the transport header
// does not fit); a GSO type sets gso_size and gso_type (with
// SKB_GSO_DODGY and gso_segs 0, to be recomputed) when the payload
// exceeds one segment, and is refused with a zero size or an unknown
// type. DATA_VALID is ignored, as tun_get_user ignores it.
func (h VnetHdr) Apply(pkt *packet.Packet) error {
	var gsoType uint32
	thlen := 0
	if h.GSOType != VnetGSONone {
		switch h.GSOType &^ VnetGSOECN {
		case VnetGSOTCPv4:
			gsoType, thlen = skbGSOTCPv4, 20
		case VnetGSOTCPv6:
			gsoType, thlen = skbGSOTCPv6, 20
		case VnetGSOUDP:
			gsoType, thlen = skbGSOUDP, 8
		case VnetGSOUDPL4:
			gsoType, thlen = skbGSOUDPL4, 8
		default:
			return fmt.Errorf("virtio_net_hdr: gso_type %#x: %w", h.GSOType, syscall.EINVAL)
		}
		if h.GSOType&VnetGSOECN != 0 {
			gsoType |= skbGSOTCPECN
		}
		if h.GSOSize == 0 {
			return fmt.Errorf("virtio_net_hdr: gso_size 0 with gso_type %#x: %w", h.GSOType, syscall.EINVAL)
		}
	}
	n := pkt.Len()
	pOff := 0
	if h.Flags&VnetFlagNeedsCsum != 0 {
		start, off := int(h.CsumStart), int(h.CsumOffset)
		if start+max(thlen, off+2) > n || start > n || start+off > n-2 {
			return fmt.Errorf("virtio_net_hdr: checksum at %d+%d outside a %d-byte packet: %w", start, off, n, syscall.EINVAL)
		}
		nhMin := 0
		if pkt.Protocol == 0x0800 {
			nhMin = 20
		}
		if start < nhMin {
			return fmt.Errorf("virtio_net_hdr: checksum start %d inside the IPv4 header: %w", start, syscall.EINVAL)
		}
		pkt.Checksum = packet.ChecksumPartial
		pkt.CsumStart, pkt.CsumOffset = uint16(start), uint16(off)
		pOff = start + thlen
	}
	if gsoType != 0 && n-pOff > int(h.GSOSize) {
		pkt.GSOSize = h.GSOSize
		pkt.GSOType = gsoType | skbGSODodgy
		pkt.GSOSegs = 0
	}
	return nil
}

// completeChecksum fills in a partial checksum as skb_checksum_help does:
// the one's-complement sum of b[start:] (whose checksum field holds the
// pseudo-header sum) is folded, complemented and stored at start+off.
func completeChecksum(b []byte, start, off int) {
	binary.BigEndian.PutUint16(b[start+off:], ^fold(sum(b[start:], 0)))
}

// sum adds b to s as 16-bit big-endian words (odd tail padded with 0).
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold folds a 32-bit sum to 16 bits.
func fold(s uint32) uint16 {
	for s > 0xFFFF {
		s = s&0xFFFF + s>>16
	}
	return uint16(s)
}

// rewriteIPv4UDP gives an IPv4/UDP packet new addresses and recomputes
// both checksums in full (so a partial checksum is completed on the way),
// as a router doing NAT would before handing the packet on. It refuses
// (EPROTONOSUPPORT) anything but an unfragmented IPv4/UDP packet.
func rewriteIPv4UDP(b []byte, src, dst [4]byte) error {
	if len(b) < 20 || b[0]>>4 != 4 {
		return fmt.Errorf("rewrite: not IPv4: %w", syscall.EPROTONOSUPPORT)
	}
	ihl := int(b[0]&0xF) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl+8 || total > len(b) || b[9] != 17 || binary.BigEndian.Uint16(b[6:])&0x3FFF != 0 {
		return fmt.Errorf("rewrite: not an unfragmented IPv4/UDP packet: %w", syscall.EPROTONOSUPPORT)
	}
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:], ^fold(sum(b[:ihl], 0)))
	udp := b[ihl:total]
	udp[6], udp[7] = 0, 0
	s := sum(b[12:20], 17+uint32(len(udp)))
	c := ^fold(sum(udp, s))
	if c == 0 {
		c = 0xFFFF // a computed zero is sent as all ones (RFC 768)
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return nil
}

// udpChecksumValid checks an IPv4/UDP packet's checksum (true for
// anything else).
func udpChecksumValid(b []byte) bool {
	if len(b) < 28 || b[0]>>4 != 4 || b[9] != 17 {
		return true
	}
	ihl := int(b[0]&0xF) * 4
	total := min(int(b[2])<<8|int(b[3]), len(b))
	if ihl+8 > total {
		return false
	}
	udp := b[ihl:total]
	return fold(sum(udp, sum(b[12:20], 17+uint32(len(udp))))) == 0xFFFF
}
