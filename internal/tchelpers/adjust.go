package tchelpers

import (
	"math/bits"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// bpf_skb_adjust_room (net/core/filter.c): room added or removed after
// the MAC header (BPF_ADJ_ROOM_MAC) or after the network header
// (BPF_ADJ_ROOM_NET), with the encapsulation and decapsulation flags'
// effect on the protocol and header offsets. The packet model has no
// inner headers, so their offsets are not kept; packet.Packet.Encapsulated
// is skb->encapsulation.

// skb_adjust_room modes and flags.
const (
	BPF_ADJ_ROOM_NET = 0
	BPF_ADJ_ROOM_MAC = 1

	BPF_F_ADJ_ROOM_FIXED_GSO     = 1 << 0
	BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 = 1 << 1
	BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 = 1 << 2
	BPF_F_ADJ_ROOM_ENCAP_L4_GRE  = 1 << 3
	BPF_F_ADJ_ROOM_ENCAP_L4_UDP  = 1 << 4
	BPF_F_ADJ_ROOM_NO_CSUM_RESET = 1 << 5
	BPF_F_ADJ_ROOM_ENCAP_L2_ETH  = 1 << 6
	BPF_F_ADJ_ROOM_DECAP_L3_IPV4 = 1 << 7
	BPF_F_ADJ_ROOM_DECAP_L3_IPV6 = 1 << 8
	BPF_ADJ_ROOM_ENCAP_L2_SHIFT  = 56
	adjRoomEncapL3Mask           = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6
	adjRoomDecapL3Mask           = BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6
	adjRoomMask                  = BPF_F_ADJ_ROOM_FIXED_GSO | adjRoomEncapL3Mask | BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | 0xff<<BPF_ADJ_ROOM_ENCAP_L2_SHIFT | adjRoomDecapL3Mask
	ethPIP                       = 0x0800
	ethPIPv6                     = 0x86dd
)

// netBaseLen is bpf_skb_net_base_len.
func netBaseLen(p *packet.Packet) int {
	switch p.Protocol {
	case ethPIP:
		return 20
	case ethPIPv6:
		return 40
	}
	return 0
}

// skbAdjustRoom is bpf_skb_adjust_room(skb, len_diff, mode, flags).
func skbAdjustRoom(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	diff, mode, flags := int32(a[1]), uint32(a[2]), a[3]
	abs := uint32(diff)
	shrink := diff < 0
	if shrink {
		abs = uint32(-int64(diff))
	}
	lenMin := netBaseLen(p)
	if flags&^uint64(adjRoomMask|BPF_F_ADJ_ROOM_NO_CSUM_RESET) != 0 {
		return neg(syscall.EINVAL), nil
	}
	if abs > 0xfff {
		return neg(syscall.EFAULT), nil
	}
	if p.Protocol != ethPIP && p.Protocol != ethPIPv6 {
		return neg(enotsupp), nil
	}
	off := p.NetworkOffset() - p.MACOffset()
	switch mode {
	case BPF_ADJ_ROOM_NET:
		off += netBaseLen(p)
	case BPF_ADJ_ROOM_MAC:
	default:
		return neg(enotsupp), nil
	}
	if flags&adjRoomDecapL3Mask != 0 {
		if !shrink {
			return neg(syscall.EINVAL), nil
		}
		switch flags & adjRoomDecapL3Mask {
		case BPF_F_ADJ_ROOM_DECAP_L3_IPV4:
			lenMin = 20
		case BPF_F_ADJ_ROOM_DECAP_L3_IPV6:
			lenMin = 40
		default:
			return neg(syscall.EINVAL), nil
		}
	}
	cur := p.Len() - p.NetworkOffset()
	if (shrink && (int(abs) >= cur || cur-int(abs) < lenMin)) || (!shrink && p.Len()+int(abs) > MaxLen && p.GSOSize == 0) {
		return neg(enotsupp), nil
	}
	var e syscall.Errno
	if shrink {
		e = netShrink(p, off, int(abs), flags)
	} else {
		e = netGrow(p, off, int(abs), flags)
	}
	if e != 0 {
		return neg(e), nil
	}
	if flags&BPF_F_ADJ_ROOM_NO_CSUM_RESET == 0 && p.Checksum == packet.ChecksumUnnecessary {
		p.Checksum, p.CsumLevel = packet.ChecksumNone, 0
	}
	return 0, nil
}

// netGrow is bpf_skb_net_grow for a packet that is not GSO.
func netGrow(p *packet.Packet, off, n int, flags uint64) syscall.Errno {
	innerMAC := int(flags >> BPF_ADJ_ROOM_ENCAP_L2_SHIFT)
	encap := flags&adjRoomEncapL3Mask != 0
	if p.GSOSize != 0 {
		return enotsupp
	}
	macLen := 0
	if encap {
		if flags&adjRoomEncapL3Mask == adjRoomEncapL3Mask {
			return syscall.EINVAL
		}
		if flags&BPF_F_ADJ_ROOM_ENCAP_L4_GRE != 0 && flags&BPF_F_ADJ_ROOM_ENCAP_L4_UDP != 0 {
			return syscall.EINVAL
		}
		if flags&BPF_F_ADJ_ROOM_ENCAP_L2_ETH != 0 && innerMAC < ethHLen {
			return syscall.EINVAL
		}
		if p.Encapsulated {
			return syscall.EALREADY
		}
		macLen = p.NetworkOffset() - p.MACOffset()
		if innerMAC > n {
			return syscall.EINVAL
		}
	}
	if e := hdrPush(p, off, n); e != 0 {
		return e
	}
	if encap {
		p.Encapsulated = true
		_ = p.SetNetworkOffset(macLen)
		if flags&(BPF_F_ADJ_ROOM_ENCAP_L4_GRE|BPF_F_ADJ_ROOM_ENCAP_L4_UDP) != 0 {
			nh := 20
			if flags&BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 != 0 {
				nh = 40
			}
			_ = p.SetTransportOffset(macLen + nh)
		}
		switch {
		case p.Protocol == ethPIP && flags&BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 != 0:
			p.Protocol = ethPIPv6
		case p.Protocol == ethPIPv6 && flags&BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 != 0:
			p.Protocol = ethPIP
		}
	}
	return 0
}

// netShrink is bpf_skb_net_shrink for a packet that is not GSO.
func netShrink(p *packet.Packet, off, n int, flags uint64) syscall.Errno {
	if flags&^uint64(BPF_F_ADJ_ROOM_FIXED_GSO|adjRoomDecapL3Mask|BPF_F_ADJ_ROOM_NO_CSUM_RESET) != 0 {
		return syscall.EINVAL
	}
	if p.GSOSize != 0 {
		return enotsupp
	}
	if e := hdrPop(p, off, n); e != 0 {
		return e
	}
	switch flags & adjRoomDecapL3Mask {
	case BPF_F_ADJ_ROOM_DECAP_L3_IPV4:
		p.Protocol = ethPIP
	case BPF_F_ADJ_ROOM_DECAP_L3_IPV6:
		p.Protocol = ethPIPv6
	}
	return 0
}

// hdrPush is bpf_skb_net_hdr_push: n zero bytes inserted at off, the MAC
// and network headers keeping their offsets from data, the transport
// header its bytes (unless it was the network header).
func hdrPush(p *packet.Packet, off, n int) syscall.Errno {
	mac, net, trans := p.MACOffset(), p.NetworkOffset(), p.TransportOffset()
	_ = p.SetLinearLen(p.Len())
	if p.Push(n) != nil {
		return syscall.ENOMEM
	}
	b := p.Data()
	copy(b[:off], b[n:n+off])
	clear(b[off : off+n])
	_ = p.SetMACOffset(mac)
	_ = p.SetNetworkOffset(net)
	if trans == net {
		_ = p.SetTransportOffset(net)
	}
	return 0
}

// hdrPop is bpf_skb_net_hdr_pop: the n bytes at off removed.
func hdrPop(p *packet.Packet, off, n int) syscall.Errno {
	if !makeWritable(p, uint64(off+n)) {
		return syscall.ENOMEM
	}
	mac, net, trans := p.MACOffset(), p.NetworkOffset(), p.TransportOffset()
	b := p.Data()
	postpullRcsum(p, b[off:off+n], uint32(off))
	copy(b[n:n+off], b[:off])
	_ = p.Pull(n)
	_ = p.SetMACOffset(mac)
	_ = p.SetNetworkOffset(net)
	if trans == net {
		_ = p.SetTransportOffset(net)
	}
	return 0
}

// GSO types bpf_skb_change_proto translates.
const (
	skbGSOTCPv4 = 1 << 0
	skbGSOTCPv6 = 1 << 4
)

// skbChangeProto is bpf_skb_change_proto(skb, proto, flags): IPv4 to IPv6
// makes 20 bytes of room after the MAC header, IPv6 to IPv4 removes them;
// the program writes the new header. Nothing else is translated.
func skbChangeProto(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		return neg(syscall.EINVAL), nil
	}
	to := bits.ReverseBytes16(uint16(a[1]))
	off := p.NetworkOffset() - p.MACOffset()
	var e syscall.Errno
	switch {
	case p.Protocol == ethPIP && to == ethPIPv6:
		e = hdrPush(p, off, 20)
		if e == 0 && p.GSOType&skbGSOTCPv4 != 0 {
			p.GSOType = p.GSOType&^skbGSOTCPv4 | skbGSOTCPv6
		}
	case p.Protocol == ethPIPv6 && to == ethPIP:
		e = hdrPop(p, off, 20)
		if e == 0 && p.GSOType&skbGSOTCPv6 != 0 {
			p.GSOType = p.GSOType&^skbGSOTCPv6 | skbGSOTCPv4
		}
	default:
		return neg(enotsupp), nil
	}
	if e != 0 {
		return neg(e), nil
	}
	p.Protocol = to
	p.Hash, p.HashKind = 0, 0
	return 0, nil
}
