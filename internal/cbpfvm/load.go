package cbpfvm

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Packet access shared by both engines: the run-time semantics of the
// kernel's bpf_skb_load_helper_{8,16,32} (net/core/filter.c), which the
// translated LD ABS/IND and LDX MSH call, and of the SKF_AD_* extensions
// (convert_bpf_extensions).

// frame is the packet as a run sees it: the backing buffer, where skb->data
// is in it, and the frame length (skb->len, paged part included).
type frame struct {
	buf  []byte
	data int
	len  int
}

func frameOf(pkt *packet.Packet) frame {
	buf, data, _, end := pkt.Buffer()
	return frame{buf: buf, data: data, len: end - data}
}

// resolve turns a classic load offset (the signed 32-bit k of LD ABS, X+k of
// LD IND) into an index into f.buf for a load of n bytes, or reports that
// the load fails. Non-negative offsets count from skb->data; [SKF_NET_OFF,
// -1] from the network header and [SKF_LL_OFF, SKF_NET_OFF) from the MAC
// header (bpf_skb_load_helper_convert_offset); anything lower always fails,
// as does an LL reference when no MAC header is recorded. The bytes must lie
// before the end of the packet; bytes in front of skb->data (the headroom up
// to the MAC header) are reachable through the header-relative forms.
func resolve(pkt *packet.Packet, f frame, off int32, n int) (int, bool) {
	var eff int
	switch {
	case off >= 0:
		eff = int(off)
	case off >= uapi.SKF_NET_OFF:
		nh := pkt.NetworkOffset()
		if nh == -1 {
			return 0, false
		}
		eff = int(off) - uapi.SKF_NET_OFF + nh
	case off >= uapi.SKF_LL_OFF:
		mh := pkt.MACOffset()
		if mh == -1 {
			return 0, false
		}
		eff = int(off) - uapi.SKF_LL_OFF + mh
	default:
		return 0, false
	}
	if eff > f.len-n || f.data+eff < 0 {
		return 0, false
	}
	return f.data + eff, true
}

// loadN reads n (1, 2 or 4) bytes big-endian at offset off; ok is false
// when the load fails, which ends the program with 0.
func loadN(pkt *packet.Packet, f frame, off int32, n int) (uint32, bool) {
	i, ok := resolve(pkt, f, off, n)
	if !ok {
		return 0, false
	}
	switch n {
	case 4:
		return binary.BigEndian.Uint32(f.buf[i:]), true
	case 2:
		return uint32(binary.BigEndian.Uint16(f.buf[i:])), true
	}
	return uint32(f.buf[i]), true
}

// nlattrHdrLen is sizeof(struct nlattr).
const nlattrHdrLen = 4

// nlattrAt reads the host-endian (little-endian) nla_len and nla_type at
// index i of b.
func nlattrAt(b []byte, i int) (length, typ uint16) {
	return binary.LittleEndian.Uint16(b[i:]), binary.LittleEndian.Uint16(b[i+2:])
}

// nlaFind walks the attributes in b[start:start+rem] as nla_find does and
// returns the offset (from start of b) of the first whose type, without the
// NLA_F_NESTED and NLA_F_NET_BYTEORDER bits, equals typ; 0 if none.
func nlaFind(b []byte, start, rem int, typ uint32) uint32 {
	pos := start
	for rem >= nlattrHdrLen {
		l, t := nlattrAt(b, pos)
		if int(l) < nlattrHdrLen || int(l) > rem {
			return 0
		}
		if uint32(t&0x3fff) == typ {
			return uint32(pos)
		}
		step := (int(l) + 3) &^ 3
		rem -= step
		pos += step
	}
	return 0
}

// ancNlattr is SKF_AD_NLATTR (bpf_skb_get_nlattr): search the netlink
// attributes starting at packet offset a for type x.
func ancNlattr(pkt *packet.Packet, f frame, a, x uint32) uint32 {
	d, ok := linearFrame(pkt, f)
	if !ok || a > uint32(len(d)-nlattrHdrLen) {
		return 0
	}
	return nlaFind(d, int(a), len(d)-int(a), x)
}

// ancNlattrNest is SKF_AD_NLATTR_NEST (bpf_skb_get_nlattr_nest): the
// attribute at packet offset a must be valid; search its payload for x.
func ancNlattrNest(pkt *packet.Packet, f frame, a, x uint32) uint32 {
	d, ok := linearFrame(pkt, f)
	if !ok || a > uint32(len(d)-nlattrHdrLen) {
		return 0
	}
	rem := len(d) - int(a)
	l, _ := nlattrAt(d, int(a))
	if int(l) < nlattrHdrLen || int(l) > rem {
		return 0
	}
	return nlaFind(d, int(a)+nlattrHdrLen, int(l)-nlattrHdrLen, x)
}

// linearFrame returns the frame from skb->data when the packet is entirely
// linear and at least one netlink header long, the preconditions of both
// netlink extensions.
func linearFrame(pkt *packet.Packet, f frame) ([]byte, bool) {
	if pkt.LinearLen() != f.len || f.len < nlattrHdrLen {
		return nil, false
	}
	return f.buf[f.data : f.data+f.len], true
}

// vlanPresent is SKF_AD_VLAN_TAG_PRESENT: the kernel tests skb->vlan_all
// (TPID and TCI together) for non-zero.
func vlanPresent(pkt *packet.Packet) uint32 {
	if pkt.VLANPresent || pkt.VLANTCI != 0 || pkt.VLANProto != 0 {
		return 1
	}
	return 0
}

// metaValue returns the value of the extension kinds that only read
// packet metadata. The others (netlink, XOR, random, payload offset) are
// handled by the engines.
func metaValue(kd kind, pkt *packet.Packet) uint32 {
	switch kd {
	case kAncProtocol:
		return uint32(pkt.Protocol)
	case kAncPktType:
		return uint32(pkt.PktType) & 7 // PKT_TYPE_MAX
	case kAncIfindex:
		return pkt.Ifindex
	case kAncMark:
		return pkt.Mark
	case kAncQueue:
		return uint32(pkt.QueueMapping)
	case kAncHatype:
		return uint32(pkt.DeviceType)
	case kAncRxhash:
		return pkt.Hash
	case kAncCPU:
		return pkt.Slot
	case kAncVlanTag:
		return uint32(pkt.VLANTCI)
	case kAncVlanPresent:
		return vlanPresent(pkt)
	case kAncVlanTPID:
		return uint32(pkt.VLANProto)
	}
	return 0
}
