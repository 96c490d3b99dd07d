package tchelpers

import (
	"encoding/binary"
	"math/bits"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// The helpers that change the packet's size and layout (net/core/filter.c
// bpf_skb_vlan_push/pop, bpf_skb_change_tail/head/type and net/core/skbuff.c
// skb_vlan_push/pop).

// MaxLen is BPF_SKB_MAX_LEN (SKB_MAX_ALLOC on x86-64 with 4 KiB pages):
// the largest packet bpf_skb_change_tail and bpf_skb_change_head make.
const MaxLen = 16064

// EtherTypes of VLAN tags and the 802.3 stand-ins (host order).
const (
	ethP8021Q  = 0x8100
	ethP8021AD = 0x88a8
	ethP8023   = 0x0001
	ethP8022   = 0x0004
	vlanHLen   = 4
	ethHLen    = 14
)

func ethTypeVLAN(proto uint16) bool { return proto == ethP8021Q || proto == ethP8021AD }

// vlanInsert is __vlan_insert_tag for a 14-byte MAC header at data: the
// tag goes between the addresses and the EtherType.
func vlanInsert(p *packet.Packet, proto, tci uint16) syscall.Errno {
	net := p.NetworkOffset()
	if err := p.Push(vlanHLen); err != nil {
		return syscall.ENOMEM
	}
	if p.LinearLen() < ethHLen+vlanHLen {
		return syscall.ENOMEM
	}
	b := p.Data()
	copy(b[0:12], b[vlanHLen:vlanHLen+12])
	binary.BigEndian.PutUint16(b[12:], proto)
	binary.BigEndian.PutUint16(b[14:], tci)
	_ = p.SetMACOffset(0)
	postpushRcsum(p, b[12:16], 12)
	if net >= 0 {
		_ = p.SetNetworkOffset(net) // network_header -= VLAN_HLEN, relative to the new data
	}
	return 0
}

// skbVlanPush is bpf_skb_vlan_push(skb, vlan_proto, vlan_tci): an
// offloaded tag already present moves into the frame, the new one becomes
// the offloaded tag.
func skbVlanPush(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	proto := bits.ReverseBytes16(uint16(a[1]))
	if !ethTypeVLAN(proto) {
		proto = ethP8021Q
	}
	if p.VLANPresent {
		if p.MACOffset() != 0 {
			return neg(syscall.EINVAL), nil
		}
		if e := vlanInsert(p, p.VLANProto, p.VLANTCI); e != 0 {
			return neg(e), nil
		}
		p.Protocol = p.VLANProto
	}
	p.VLANPresent, p.VLANProto, p.VLANTCI = true, proto, uint16(a[2])
	return 0, nil
}

// vlanPopData is __skb_vlan_pop: the tag after the MAC addresses leaves
// the frame and Protocol becomes the encapsulated one.
func vlanPopData(p *packet.Packet) (tci uint16, e syscall.Errno) {
	if p.MACOffset() != 0 {
		return 0, syscall.EINVAL
	}
	if !makeWritable(p, ethHLen+vlanHLen) {
		return 0, syscall.ENOMEM
	}
	b := p.Data()
	postpullRcsum(p, b[12:16], 12)
	tci = binary.BigEndian.Uint16(b[14:])
	encap := binary.BigEndian.Uint16(b[16:])
	switch {
	case encap >= 0x600:
		p.Protocol = encap
	case len(b) >= 20 && b[18] == 0xff && b[19] == 0xff:
		p.Protocol = ethP8023
	default:
		p.Protocol = ethP8022
	}
	copy(b[vlanHLen:vlanHLen+12], b[0:12])
	net := p.NetworkOffset()
	_ = p.Pull(vlanHLen)
	_ = p.SetMACOffset(0)
	if net-vlanHLen < ethHLen {
		_ = p.SetNetworkOffset(ethHLen)
	}
	return tci, 0
}

// skbVlanPop is bpf_skb_vlan_pop(skb): the offloaded tag goes; if the
// frame then starts with another tag, that one becomes the offloaded tag.
func skbVlanPop(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	if p.VLANPresent {
		p.VLANPresent, p.VLANProto, p.VLANTCI = false, 0, 0
	} else {
		if !ethTypeVLAN(p.Protocol) {
			return 0, nil
		}
		if _, e := vlanPopData(p); e != 0 {
			return neg(e), nil
		}
	}
	if !ethTypeVLAN(p.Protocol) {
		return 0, nil
	}
	proto := p.Protocol
	tci, e := vlanPopData(p)
	if e != 0 {
		return neg(e), nil
	}
	p.VLANPresent, p.VLANProto, p.VLANTCI = true, proto, tci
	return 0, nil
}

// minLen is __bpf_skb_min_len: the packet may not shrink into its
// transport header (or the checksum a CHECKSUM_PARTIAL packet still needs).
func minLen(p *packet.Packet) int {
	n := p.NetworkOffset()
	if t := p.TransportOffset(); t != -1 {
		n = t
	}
	if p.Checksum == packet.ChecksumPartial {
		_, data, _, _ := p.Buffer()
		n = int(p.CsumStart) - data + int(p.CsumOffset) + 2
	}
	return n
}

// skbChangeTail is bpf_skb_change_tail(skb, len, flags): grow (zero
// filled) or trim the packet to len bytes.
func skbChangeTail(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	n := uint32(a[1])
	if a[2] != 0 || n > MaxLen || int64(n) < int64(minLen(p)) {
		return neg(syscall.EINVAL), nil
	}
	if p.Encapsulated {
		return neg(enotsupp), nil
	}
	old := p.Len()
	_ = p.SetLinearLen(old)
	switch {
	case int(n) > old:
		if p.Put(int(n)-old) != nil {
			return neg(syscall.ENOMEM), nil
		}
	case int(n) < old:
		if p.Checksum == packet.ChecksumComplete {
			// pskb_trim_rcsum: subtract the bytes cut off.
			p.Csum = uint32(blockAdd(csum.Wsum(p.Csum), ^csum.Partial(p.Bytes()[n:], 0), n))
		}
		_ = p.Trim(int(n))
	}
	if p.GSOSize != 0 {
		p.GSOSize, p.GSOSegs, p.GSOType = 0, 0, 0
	}
	return 0, nil
}

// skbChangeHead is bpf_skb_change_head(skb, head_room, flags): head_room
// zero bytes in front, which become the MAC header.
func skbChangeHead(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	room := uint32(a[1])
	newLen := uint32(p.Len()) + room
	if a[2] != 0 || (p.GSOSize == 0 && newLen > MaxLen) || newLen < uint32(p.Len()) {
		return neg(syscall.EINVAL), nil
	}
	_ = p.SetLinearLen(p.Len())
	if p.Push(int(room)) != nil {
		return neg(syscall.ENOMEM), nil
	}
	clear(p.Data()[:room])
	_ = p.SetMACOffset(0)
	return 0, nil
}

// skbChangeType is bpf_skb_change_type(skb, type): only host, broadcast,
// multicast and other-host, from and to.
func skbChangeType(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	t := uint32(a[1])
	if p.PktType > packet.OtherHost || t > uint32(packet.OtherHost) {
		return neg(syscall.EINVAL), nil
	}
	p.PktType = packet.Type(t)
	return 0, nil
}
