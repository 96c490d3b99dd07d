package packet

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// Sizes of the room kept around the frame and the largest frame a Packet
// holds.
const (
	// Headroom is the space kept in front of the frame (and its metadata)
	// when a buffer is made: room for a VLAN push, an encapsulation header or
	// skb_change_head without reallocating. The kernel keeps NET_SKB_PAD (64)
	// on receive; XDP programs get 256, which is what this model keeps.
	Headroom = 256
	// Tailroom is the space kept behind the frame when a buffer is made.
	Tailroom = 128
	// MaxLen is the largest frame (from the MAC header to the end) a Packet
	// holds: the largest IP packet plus a link-layer header with two VLAN
	// tags. Operations that would exceed it fail with EMSGSIZE.
	MaxLen = 0xFFFF + 22
	// MaxMetaLen is the largest metadata area in front of the frame
	// (data_meta), as the kernel bounds XDP metadata.
	MaxMetaLen = 255
)

// Direction says which tc hook a packet passes.
type Direction uint8

// Directions.
const (
	// Ingress is the receive side (clsact ingress, tcx ingress).
	Ingress Direction = iota
	// Egress is the transmit side (clsact egress, tcx egress, root qdiscs).
	Egress
)

// String returns "ingress" or "egress".
func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Type is the packet type, skb->pkt_type (PACKET_* in linux/if_packet.h).
type Type uint8

// Packet types.
const (
	Host      Type = 0 // PACKET_HOST: addressed to this host
	Broadcast Type = 1 // PACKET_BROADCAST
	Multicast Type = 2 // PACKET_MULTICAST
	OtherHost Type = 3 // PACKET_OTHERHOST: addressed to another host
	Outgoing  Type = 4 // PACKET_OUTGOING: sent by this host
	Loopback  Type = 5 // PACKET_LOOPBACK
)

// String returns the kernel's lower-case name of the type ("host",
// "broadcast", "multicast", "otherhost", "outgoing", "loopback"), or
// "Type(n)" for other values.
func (t Type) String() string {
	switch t {
	case Host:
		return "host"
	case Broadcast:
		return "broadcast"
	case Multicast:
		return "multicast"
	case OtherHost:
		return "otherhost"
	case Outgoing:
		return "outgoing"
	case Loopback:
		return "loopback"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ChecksumState is skb->ip_summed (CHECKSUM_* in linux/skbuff.h).
type ChecksumState uint8

// Checksum states.
const (
	ChecksumNone        ChecksumState = 0 // CHECKSUM_NONE: nothing verified
	ChecksumUnnecessary ChecksumState = 1 // CHECKSUM_UNNECESSARY: verified (CsumLevel+1 checksums)
	ChecksumComplete    ChecksumState = 2 // CHECKSUM_COMPLETE: Csum holds the sum of the packet from the network header
	ChecksumPartial     ChecksumState = 3 // CHECKSUM_PARTIAL: to be completed at CsumStart+CsumOffset
)

// HashKind tells how skb->hash was obtained.
type HashKind uint8

// Hash kinds; they combine as bits, as skb->l4_hash and skb->sw_hash do.
const (
	// HashL4 is set when the hash covers the 4-tuple (skb->l4_hash).
	HashL4 HashKind = 1 << iota
	// HashSoftware is set when software computed the hash (skb->sw_hash).
	HashSoftware
)

// TstampType is the meaning of Tstamp (skb->tstamp_type).
type TstampType uint8

// Timestamp types (BPF_SKB_TSTAMP_* / SKB_CLOCK_*).
const (
	TstampRealtime  TstampType = 0 // BPF_SKB_TSTAMP_UNSPEC: receive time, CLOCK_REALTIME
	TstampMonotonic TstampType = 1 // BPF_SKB_TSTAMP_DELIVERY_MONO: delivery time, CLOCK_MONOTONIC
	TstampTAI       TstampType = 2 // BPF_SKB_CLOCK_TAI: delivery time, CLOCK_TAI
)

// TunnelKey is the tunnel metadata attached to a packet (the kernel's
// ip_tunnel_info as bpf_skb_get_tunnel_key and bpf_skb_set_tunnel_key see
// it). Addresses are in network byte order as they appear on the wire.
type TunnelKey struct {
	Present  bool     // metadata is attached
	IPv6     bool     // addresses are IPv6
	ID       uint64   // tunnel id (VNI, GRE key), host order
	Remote   [16]byte // remote address: IPv4 in the first 4 bytes
	Local    [16]byte // local address: IPv4 in the first 4 bytes
	TOS      uint8    // outer TOS / traffic class
	TTL      uint8    // outer TTL / hop limit
	Label    uint32   // IPv6 flow label
	Flags    uint16   // TUNNEL_* flags (checksum, key, seq, DONT_FRAGMENT, ...)
	SrcPort  uint16   // outer UDP source port, host order
	DstPort  uint16   // outer UDP destination port, host order
	OptLen   uint8    // length of Options in use
	Options  [255]byte
	Transmit bool // the key is for transmit (set by bpf_skb_set_tunnel_key)
}

// ARPHRD values for Packet.DeviceType (linux/if_arp.h).
const (
	ARPHRDEther    = 1      // ARPHRD_ETHER
	ARPHRDLoopback = 772    // ARPHRD_LOOPBACK
	ARPHRDNone     = 0xFFFE // ARPHRD_NONE: L3 devices such as TUN and WireGuard
)

// Errors returned by buffer operations. Each wraps the errno the kernel's
// equivalent path returns.
var (
	// ErrTooLong: the frame would exceed MaxLen.
	ErrTooLong = fmt.Errorf("packet: frame longer than %d bytes: %w", MaxLen, syscall.EMSGSIZE)
	// ErrOutOfRange: an offset or length lies outside the frame.
	ErrOutOfRange = fmt.Errorf("packet: offset or length out of range: %w", syscall.EFAULT)
	// ErrTruncated: a frame too short for the header it must carry.
	ErrTruncated = fmt.Errorf("packet: frame too short: %w", syscall.EINVAL)
)

// Packet is one packet and its metadata, the stand-in for a struct sk_buff
// at a tc hook. The zero value is an empty packet with no buffer; SetFrame
// or SetL3 fills it. See the package documentation for the layout.
type Packet struct {
	buf  []byte // headroom | meta | frame | tailroom
	data int    // offset of skb->data in buf
	head int    // end of the linear part in buf (data_end)
	end  int    // end of the frame in buf
	meta int    // length of the metadata area right before data

	// Offsets relative to the start of buf; -1 when unset.
	mac       int
	network   int
	transport int

	// Direction is the hook the packet is at.
	Direction Direction
	// Protocol is skb->protocol as a host-order EtherType (0x0800 for IPv4).
	// The __sk_buff protocol field shows it in network order.
	Protocol uint16
	// PktType is skb->pkt_type.
	PktType Type
	// DeviceType is the ARPHRD_* type of the device (classic SKF_AD_HATYPE).
	DeviceType uint16
	// Ifindex is the current device (skb->dev->ifindex).
	Ifindex uint32
	// IngressIfindex is the device the packet arrived on (skb->skb_iif), 0
	// for locally generated packets.
	IngressIfindex uint32
	// Mark is skb->mark.
	Mark uint32
	// Priority is skb->priority.
	Priority uint32
	// QueueMapping is skb->queue_mapping.
	QueueMapping uint16

	// VLANPresent says an offloaded (accelerated) VLAN tag is attached; its
	// bytes are not in the frame.
	VLANPresent bool
	// VLANTCI is the offloaded tag's TCI (priority, DEI, VLAN id).
	VLANTCI uint16
	// VLANProto is the offloaded tag's TPID, host order (0x8100 or 0x88a8).
	VLANProto uint16

	// Hash is skb->hash, 0 when not computed.
	Hash uint32
	// HashKind tells how Hash was computed.
	HashKind HashKind

	// TCIndex is skb->tc_index.
	TCIndex uint16
	// TCClassID is qdisc_skb_cb(skb)->tc_classid, 16 bits as in the kernel.
	TCClassID uint16
	// SkipClassify is skb->tc_skip_classify: set on a packet re-inserted
	// by a redirect so that the next tc action list it meets lets it pass
	// unclassified (tcf_action_exec clears it and returns TC_ACT_OK).
	SkipClassify bool
	// CB is the qdisc control block scratch area (__sk_buff cb[0..4]).
	CB [5]uint32

	// Checksum is skb->ip_summed.
	Checksum ChecksumState
	// CsumLevel is skb->csum_level (extra verified checksums beyond the
	// first, for ChecksumUnnecessary).
	CsumLevel uint8
	// Csum is skb->csum: the checksum of the packet for ChecksumComplete.
	Csum uint32
	// CsumStart and CsumOffset locate the checksum to fill in for
	// ChecksumPartial (offsets from the start of the frame).
	CsumStart, CsumOffset uint16

	// GSOSize, GSOSegs and GSOType are the segmentation offload parameters
	// (skb_shinfo gso_size, gso_segs, gso_type).
	GSOSize uint16
	GSOSegs uint16
	GSOType uint32

	// Tstamp is skb->tstamp in nanoseconds; TstampType says which clock.
	Tstamp     uint64
	TstampType TstampType
	// HWTstamp is the hardware timestamp (skb_hwtstamps).
	HWTstamp uint64
	// WireLen is the length on the wire (qdisc_skb_cb pkt_len); 0 means
	// "the frame length" to the engines that read it.
	WireLen uint32
	// NapiID is skb->napi_id.
	NapiID uint32

	// CgroupClassID is the net_cls class of the sending socket
	// (bpf_get_cgroup_classid).
	CgroupClassID uint32
	// RouteRealm is the realm of the packet's route (bpf_get_route_realm).
	RouteRealm uint32
	// Tunnel is the attached tunnel metadata.
	Tunnel TunnelKey
	// Encapsulated is skb->encapsulation: a program added outer headers
	// with bpf_skb_adjust_room's encapsulation flags, so the headers the
	// packet records are the outer ones.
	Encapsulated bool

	// Slot is the execution slot that runs this packet, the stand-in for
	// the CPU: classic SKF_AD_CPU, bpf_get_smp_processor_id and per-CPU
	// maps read it. Whoever hands packets to goroutines sets it so that
	// no two concurrent runs share a slot.
	Slot uint32
}

// New returns an empty packet with a buffer large enough for a frame of
// frameLen bytes plus Headroom and Tailroom.
// A negative frameLen counts as 0 and one above MaxLen as MaxLen.
func New(frameLen int) *Packet {
	frameLen = min(max(frameLen, 0), MaxLen)
	p := &Packet{}
	p.grow(frameLen)
	p.resetOffsets()
	return p
}

// grow makes sure buf holds Headroom+MaxMetaLen+n+Tailroom bytes, keeping no
// content.
func (p *Packet) grow(n int) {
	need := Headroom + MaxMetaLen + n + Tailroom
	if cap(p.buf) < need {
		p.buf = make([]byte, need)
	}
	p.buf = p.buf[:cap(p.buf)]
}

func (p *Packet) resetOffsets() {
	p.data = Headroom + MaxMetaLen
	p.head, p.end, p.meta = p.data, p.data, 0
	p.mac, p.network, p.transport = -1, -1, -1
}

// resetMeta zeroes every metadata field but Slot and keeps the buffer.
func (p *Packet) resetMeta() {
	buf, slot := p.buf, p.Slot
	*p = Packet{buf: buf, Slot: slot}
}

// load copies frame into the buffer and resets all state.
func (p *Packet) load(frame []byte) error {
	if len(frame) > MaxLen {
		return ErrTooLong
	}
	p.resetMeta()
	p.grow(len(frame))
	p.resetOffsets()
	copy(p.buf[p.data:], frame)
	p.head = p.data + len(frame)
	p.end = p.head
	return nil
}

// SetFrame resets p to hold a copy of an Ethernet frame, starting at the
// destination MAC address, with every metadata field but Slot zeroed. It
// parses the link-layer header as eth_type_trans does: Protocol is the
// EtherType after the MAC addresses (ETH_P_802_3 or ETH_P_802_2 for 802.3
// length fields), the MAC header length is 14, and an in-frame
// 802.1Q/802.1ad tag stays in the frame (Protocol is then the tag's TPID),
// as it does for BPF_PROG_TEST_RUN; call UntagVLAN to move it into the
// offload fields as the receive path does. PktType is Host, DeviceType
// Ethernet, Direction Ingress, Ifindex 0 (no device). Receive and Transmit
// build the packet as the kernel's ingress and egress paths hand it to tc,
// with a device. The buffer is reused when large enough, so steady use
// allocates nothing; frame may alias p's own buffer.
func (p *Packet) SetFrame(frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("set frame: %d bytes, an Ethernet header needs 14: %w", len(frame), ErrTruncated)
	}
	if err := p.load(frame); err != nil {
		return err
	}
	p.DeviceType = ARPHRDEther
	p.mac = p.data
	p.network = p.data + 14
	p.Protocol = ethProtocol(p.buf[p.data:p.end])
	return nil
}

// ethProtocol mirrors eth_type_trans's choice of skb->protocol.
func ethProtocol(frame []byte) uint16 {
	t := binary.BigEndian.Uint16(frame[12:14])
	if t >= 0x0600 { // ETH_P_802_3_MIN
		return t
	}
	// 802.3 frame with a length field: raw IPX if the payload starts 0xFFFF,
	// else 802.2 LLC.
	if len(frame) >= 16 && frame[14] == 0xFF && frame[15] == 0xFF {
		return 0x0001 // ETH_P_802_3
	}
	return 0x0004 // ETH_P_802_2
}

// SetL3 resets p to hold a copy of a bare network-layer packet, as on an L3
// device (TUN, WireGuard, netkit in L3 mode): the MAC header length is 0 and
// Protocol comes from the IP version nibble (IPv4 0x0800, IPv6 0x86DD; other
// versions leave it 0). DeviceType is ARPHRD_NONE.
func (p *Packet) SetL3(pkt []byte) error {
	if len(pkt) < 1 {
		return fmt.Errorf("set l3: empty packet: %w", ErrTruncated)
	}
	if err := p.load(pkt); err != nil {
		return err
	}
	p.DeviceType = ARPHRDNone
	p.mac = p.data
	p.network = p.data
	switch p.buf[p.data] >> 4 {
	case 4:
		p.Protocol = 0x0800
	case 6:
		p.Protocol = 0x86DD
	}
	return nil
}

// Len is the frame length from data to the end, linear and paged parts
// together (skb->len).
func (p *Packet) Len() int { return p.end - p.data }

// LinearLen is the length of the linear part (skb_headlen): the bytes direct
// packet access reaches.
func (p *Packet) LinearLen() int { return p.head - p.data }

// SetLinearLen makes only the first n bytes of the frame linear, as in a
// non-linear skb whose tail sits in paged fragments. n must be between 0 and
// Len.
func (p *Packet) SetLinearLen(n int) error {
	if n < 0 || n > p.Len() {
		return fmt.Errorf("set linear length %d of %d: %w", n, p.Len(), ErrOutOfRange)
	}
	p.head = p.data + n
	return nil
}

// Data is the linear part of the frame, data to data_end. The slice aliases
// the packet's buffer and is valid until the next change of its layout.
func (p *Packet) Data() []byte { return p.buf[p.data:p.head:p.head] }

// Bytes is the whole frame, linear and paged parts. The slice aliases the
// packet's buffer and is valid until the next change of its layout.
func (p *Packet) Bytes() []byte { return p.buf[p.data:p.end:p.end] }

// Meta is the metadata area in front of the frame (data_meta to data).
func (p *Packet) Meta() []byte { return p.buf[p.data-p.meta : p.data : p.data] }

// SetMetaLen sets the metadata area to n bytes (0 to MaxMetaLen), zeroing
// bytes that become part of it.
func (p *Packet) SetMetaLen(n int) error {
	if n < 0 || n > MaxMetaLen || n > p.data {
		return fmt.Errorf("set metadata length %d: %w", n, syscall.EINVAL)
	}
	if n > p.meta {
		clear(p.buf[p.data-n : p.data-p.meta])
	}
	p.meta = n
	return nil
}

// Buffer is the whole backing buffer, headroom and tailroom included, with
// the offsets of data, the linear end and the frame end in it. Engines use
// it to serve packet pointers; it stays valid until the next change of the
// packet's layout.
func (p *Packet) Buffer() (buf []byte, data, linearEnd, end int) {
	return p.buf, p.data, p.head, p.end
}

// Headroom is the free space in front of the metadata area.
func (p *Packet) Headroom() int { return p.data - p.meta }

// Tailroom is the free space behind the frame.
func (p *Packet) Tailroom() int { return len(p.buf) - p.end }

// MACLen is the link-layer header length (skb->mac_len): the distance from
// the MAC header to the network header, 0 on L3 devices or when unset.
func (p *Packet) MACLen() int {
	if p.mac < 0 || p.network < 0 {
		return 0
	}
	return p.network - p.mac
}

// MACOffset is the MAC header's offset from data, or -1 when unset. A
// header before data has a negative offset (-14 after Pull(14) of an
// Ethernet header, as skb_mac_offset reads at the kernel's ingress), so -1
// is ambiguous only for a header exactly one byte before data.
func (p *Packet) MACOffset() int { return p.rel(p.mac) }

// NetworkOffset is the network header's offset from data, or -1 when unset;
// negative offsets are as for MACOffset.
func (p *Packet) NetworkOffset() int { return p.rel(p.network) }

// TransportOffset is the transport header's offset from data, or -1 when
// unset; negative offsets are as for MACOffset.
func (p *Packet) TransportOffset() int { return p.rel(p.transport) }

func (p *Packet) rel(off int) int {
	if off < 0 || p.buf == nil {
		return -1
	}
	return off - p.data
}

// SetNetworkOffset sets the network header to off bytes from data, which
// also fixes the MAC header length when a MAC header is set.
func (p *Packet) SetNetworkOffset(off int) error {
	if off < 0 || off > p.Len() {
		return fmt.Errorf("set network offset %d: %w", off, ErrOutOfRange)
	}
	p.network = p.data + off
	return nil
}

// SetMACOffset sets the MAC header to off bytes from data
// (skb_set_mac_header), or unsets it when off is -1. Actions that push or
// pop link-layer headers (VLAN tags, Ethernet headers) use it to keep the
// MAC header where the kernel keeps it.
func (p *Packet) SetMACOffset(off int) error {
	if off == -1 {
		p.mac = -1
		return nil
	}
	if off < 0 || off > p.Len() {
		return fmt.Errorf("set mac offset %d: %w", off, ErrOutOfRange)
	}
	p.mac = p.data + off
	return nil
}

// SetTransportOffset sets the transport header to off bytes from data, or
// unsets it when off is -1.
func (p *Packet) SetTransportOffset(off int) error {
	if off == -1 {
		p.transport = -1
		return nil
	}
	if off < 0 || off > p.Len() {
		return fmt.Errorf("set transport offset %d: %w", off, ErrOutOfRange)
	}
	p.transport = p.data + off
	return nil
}

// Push moves data n bytes towards the head, growing the frame at its front
// (skb_push). The new bytes are whatever the buffer held; callers write
// them. Header offsets keep their place in the buffer. The metadata area
// moves with data. When the headroom is too small the buffer is reallocated.
func (p *Packet) Push(n int) error {
	if n < 0 {
		return fmt.Errorf("push %d: %w", n, syscall.EINVAL)
	}
	if p.Len()+n > MaxLen {
		return ErrTooLong
	}
	p.initZero()
	if n > p.Headroom() {
		p.expand(n-p.Headroom()+Headroom, 0)
	}
	if p.meta > 0 {
		copy(p.buf[p.data-p.meta-n:], p.buf[p.data-p.meta:p.data])
	}
	p.data -= n
	return nil
}

// Pull moves data n bytes towards the tail, removing bytes from the front of
// the frame (skb_pull). It fails if n is more than the linear length.
func (p *Packet) Pull(n int) error {
	if n < 0 || n > p.LinearLen() {
		return fmt.Errorf("pull %d of %d linear bytes: %w", n, p.LinearLen(), ErrOutOfRange)
	}
	if p.meta > 0 {
		copy(p.buf[p.data-p.meta+n:], p.buf[p.data-p.meta:p.data])
	}
	p.data += n
	return nil
}

// Put grows the frame by n bytes at its end (skb_put), zeroing them; the new
// bytes are linear only when the whole frame was. When the tailroom is too
// small the buffer is reallocated.
func (p *Packet) Put(n int) error {
	if n < 0 {
		return fmt.Errorf("put %d: %w", n, syscall.EINVAL)
	}
	if p.Len()+n > MaxLen {
		return ErrTooLong
	}
	p.initZero()
	if n > p.Tailroom() {
		p.expand(0, n-p.Tailroom()+Tailroom)
	}
	linear := p.head == p.end
	clear(p.buf[p.end : p.end+n])
	p.end += n
	if linear {
		p.head = p.end
	}
	return nil
}

// Trim cuts the frame to n bytes (skb_trim / pskb_trim), shortening the
// linear part too when it reaches past n.
func (p *Packet) Trim(n int) error {
	if n < 0 || n > p.Len() {
		return fmt.Errorf("trim to %d of %d: %w", n, p.Len(), ErrOutOfRange)
	}
	p.end = p.data + n
	if p.head > p.end {
		p.head = p.end
	}
	return nil
}

// initZero gives a zero Packet an empty buffer and unset headers, so that
// growing one behaves as growing a packet from New(0).
func (p *Packet) initZero() {
	if p.buf == nil {
		p.grow(0)
		p.resetOffsets()
	}
}

// expand reallocates the buffer with front more bytes of headroom and back
// more bytes of tailroom, keeping content and offsets (pskb_expand_head).
func (p *Packet) expand(front, back int) {
	nb := make([]byte, len(p.buf)+front+back)
	copy(nb[front:], p.buf)
	p.buf = nb
	p.data += front
	p.head += front
	p.end += front
	for _, o := range []*int{&p.mac, &p.network, &p.transport} {
		if *o >= 0 {
			*o += front
		}
	}
}

// ErrNoVLAN is returned by UntagVLAN when the frame carries no 802.1Q or
// 802.1ad tag.
var ErrNoVLAN = fmt.Errorf("packet: frame carries no VLAN tag: %w", syscall.EINVAL)

// VLAN TPIDs (ETH_P_8021Q and ETH_P_8021AD), host order.
const (
	TPID8021Q  = 0x8100
	TPID8021AD = 0x88A8
)

// UntagVLAN moves an in-frame 802.1Q or 802.1ad tag into the offload fields
// (VLANPresent, VLANTCI, VLANProto), as the receive path's skb_vlan_untag
// does before tc ingress: the 4 tag bytes leave the frame, the MAC addresses
// and the metadata area move up by 4 bytes (skb_reorder_vlan_header),
// Protocol becomes the encapsulated EtherType (vlan_set_encap_proto: an
// 802.3 length field gives ETH_P_802_3 or ETH_P_802_2 as in SetFrame), the
// network header follows the 14-byte MAC header, and an unset transport
// header is set to the network header. Like the kernel's pskb_may_pull, it
// needs 6 bytes after the 14-byte header (Len at least 20) and makes them
// linear. Only the outer tag moves; a second, inner tag stays in the frame
// and Protocol is then its TPID.
//
// It fails with ErrNoVLAN when the frame has no tag, with ErrTruncated when
// it is shorter than 20 bytes (the kernel drops such a frame), with EEXIST
// when an offloaded tag is already present, and with EINVAL when the frame
// does not start at its MAC header.
func (p *Packet) UntagVLAN() error {
	if p.VLANPresent {
		return fmt.Errorf("untag vlan: a tag is already offloaded: %w", syscall.EEXIST)
	}
	if p.mac != p.data || p.MACLen() != 14 {
		return fmt.Errorf("untag vlan: frame does not start at a 14-byte MAC header: %w", syscall.EINVAL)
	}
	if p.Len() < 14+6 {
		return fmt.Errorf("untag vlan: %d bytes, a tagged frame needs 20: %w", p.Len(), ErrTruncated)
	}
	d := p.buf[p.data:p.end]
	tpid := binary.BigEndian.Uint16(d[12:14])
	if tpid != TPID8021Q && tpid != TPID8021AD {
		return fmt.Errorf("untag vlan: %w", ErrNoVLAN)
	}
	if p.head < p.data+20 {
		p.head = p.data + 20
	}
	p.VLANPresent, p.VLANProto, p.VLANTCI = true, tpid, binary.BigEndian.Uint16(d[14:16])
	copy(d[4:16], d[0:12])
	if p.meta > 0 {
		copy(p.buf[p.data-p.meta+4:], p.buf[p.data-p.meta:p.data])
	}
	p.data += 4
	p.mac = p.data
	p.network = p.data + 14
	if p.transport < 0 {
		p.transport = p.network
	}
	p.Protocol = ethProtocol(p.buf[p.data:p.end])
	return nil
}
