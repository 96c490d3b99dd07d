package cbpfvm

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// SKF_AD_PAY_OFFSET: the kernel's skb_get_poff (net/core/flow_dissector.c),
// the basic-keys flow dissection with no flags followed by
// __skb_get_poff. Only the parts of __skb_flow_dissect that move the
// header offset or end the dissection are reproduced; the keys the basic
// dissector does not collect change nothing here. No BPF flow dissector
// program and no DSA tagging are modelled.

// EtherTypes and IP protocols the dissector follows.
const (
	ethIPv4     = 0x0800
	ethARP      = 0x0806
	ethTEB      = 0x6558
	ethRARP     = 0x8035
	ethVLAN     = 0x8100
	ethIPv6     = 0x86DD
	ethMPLSUC   = 0x8847
	ethMPLSMC   = 0x8848
	ethPPPSes   = 0x8864
	ethTIPC     = 0x88CA
	ethQinQ     = 0x88A8
	ethFCoE     = 0x8906
	ethBatman   = 0x4305
	ethCFM      = 0x8902
	ethPTP      = 0x88F7 // ETH_P_1588
	ptpHdrLen   = 34     // struct ptp_header
	ipHop       = 0
	ipICMP      = 1
	ipIGMP      = 2
	ipIPIP      = 4
	ipTCP       = 6
	ipUDP       = 17
	ipDCCP      = 33
	ipIPv6      = 41
	ipRouting   = 43
	ipFragment  = 44
	ipGRE       = 47
	ipICMPv6    = 58
	ipDest      = 60
	ipSCTP      = 132
	ipUDPLite   = 136
	ipMPLS      = 137
	pppIP       = 0x21
	pppIPv6     = 0x57
	pppMPLSUC   = 0x281
	pppMPLSMC   = 0x283
	fcoeHdrLen  = 38
	batmanHdr   = 10 + 14 // batadv_unicast_packet + ethhdr
	maxFlowHdrs = 15      // MAX_FLOW_DISSECT_HDRS
)

// dissection is the state of one flow dissection.
type dissection struct {
	pkt      *packet.Packet
	f        frame
	hlen     int // linear length (skb_headlen)
	frag     bool
	fragHead bool
}

// at returns n bytes at offset off from skb->data, as __skb_header_pointer
// does for an skb (linear or paged), or nil.
func (d *dissection) at(off, n int) []byte {
	if off > d.f.len-n || d.f.data+off < 0 {
		return nil
	}
	i := d.f.data + off
	return d.f.buf[i : i+n]
}

// PayloadOffset returns SKF_AD_PAY_OFFSET for pkt: the offset from
// skb->data of the first byte after the transport header as the kernel's
// flow dissector finds it, or 0 when dissection fails.
func PayloadOffset(pkt *packet.Packet) uint32 {
	nh := pkt.NetworkOffset()
	if nh == -1 {
		return 0
	}
	d := dissection{pkt: pkt, f: frameOf(pkt), hlen: pkt.LinearLen()}
	thoff, ipProto, ok := d.dissect(nh)
	if !ok {
		return 0
	}
	return d.poff(thoff, ipProto)
}

// dissect follows headers from the network header and returns the
// transport offset (key_control->thoff), the last IP protocol and whether
// the dissection succeeded.
func (d *dissection) dissect(nhoff int) (uint32, uint8, bool) {
	proto := d.pkt.Protocol
	offloadedVLAN := vlanPresent(d.pkt) != 0
	if offloadedVLAN {
		proto = d.pkt.VLANProto
	}
	var (
		ipProto uint8
		vlans   int
		hdrs    int
		good    bool
	)
	again := func() bool { hdrs++; return hdrs <= maxFlowHdrs }
	finish := func() (uint32, uint8, bool) {
		th := uint16(nhoff)
		if l := uint16(d.f.len); l < th {
			th = l
		}
		return uint32(th), ipProto, good
	}

protoAgain:
	switch proto {
	case ethIPv4:
		h := d.at(nhoff, 20)
		if h == nil || h[0]&0x0f < 5 {
			return finish()
		}
		nhoff += int(h[0]&0x0f) * 4
		ipProto = h[9]
		if fo := binary.BigEndian.Uint16(h[6:]); fo&0x3fff != 0 { // ip_is_fragment
			d.frag = true
			if fo&0x1fff != 0 {
				good = true
				return finish()
			}
			d.fragHead = true
			good = true
			return finish() // no FLOW_DISSECTOR_F_PARSE_1ST_FRAG
		}
	case ethIPv6:
		h := d.at(nhoff, 40)
		if h == nil {
			return finish()
		}
		ipProto = h[6]
		nhoff += 40
	case ethVLAN, ethQinQ:
		if vlans == 0 && offloadedVLAN {
			proto = d.pkt.Protocol
		} else {
			h := d.at(nhoff, 4)
			if h == nil {
				return finish()
			}
			proto = binary.BigEndian.Uint16(h[2:])
			nhoff += 4
		}
		vlans++
		if again() {
			goto protoAgain
		}
		good = true
		return finish()
	case ethPPPSes:
		h := d.at(nhoff, 8)
		if h == nil || h[0] != 0x11 || h[1] != 0 { // ver 1, type 1, code 0
			return finish()
		}
		pp := binary.BigEndian.Uint16(h[6:]) // never compressed here
		nhoff += 8
		switch {
		case pp == pppIP:
			proto = ethIPv4
		case pp == pppIPv6:
			proto = ethIPv6
		case pp == pppMPLSUC:
			proto = ethMPLSUC
		case pp == pppMPLSMC:
			proto = ethMPLSMC
		case pp&0x0101 == 0x0001:
			good = true
			return finish()
		default:
			return finish()
		}
		if again() {
			goto protoAgain
		}
		good = true
		return finish()
	case ethTIPC:
		if d.at(nhoff, 16) == nil { // struct tipc_basic_hdr
			return finish()
		}
		good = true
		return finish()
	case ethMPLSUC, ethMPLSMC:
		nhoff += 4
		good = true
		return finish()
	case ethFCoE:
		if d.hlen-nhoff < fcoeHdrLen {
			return finish()
		}
		nhoff += fcoeHdrLen
		good = true
		return finish()
	case ethPTP:
		if d.at(nhoff, ptpHdrLen) == nil {
			return finish()
		}
		nhoff += ptpHdrLen
		good = true
		return finish()
	case ethARP, ethRARP, ethCFM:
		good = true
		return finish()
	case ethBatman:
		h := d.at(nhoff, batmanHdr)
		if h == nil || h[1] != 15 || h[0] != 0x40 { // BATADV_COMPAT_VERSION, BATADV_UNICAST
			return finish()
		}
		proto = binary.BigEndian.Uint16(h[batmanHdr-2:])
		nhoff += batmanHdr
		if again() {
			goto protoAgain
		}
		good = true
		return finish()
	default:
		return finish()
	}

ipProtoAgain:
	switch ipProto {
	case ipGRE:
		var ok, encap bool
		proto, nhoff, ok, encap = d.gre(proto, nhoff)
		if !ok {
			return finish()
		}
		if encap && again() {
			goto protoAgain
		}
	case ipHop, ipRouting, ipDest:
		if proto != ethIPv6 {
			break
		}
		h := d.at(nhoff, 2)
		if h == nil {
			return finish()
		}
		ipProto = h[0]
		nhoff += (int(h[1]) + 1) << 3
		if again() {
			goto ipProtoAgain
		}
	case ipFragment:
		if proto != ethIPv6 {
			break
		}
		h := d.at(nhoff, 8)
		if h == nil {
			return finish()
		}
		d.frag = true
		nhoff += 8
		ipProto = h[0]
		if binary.BigEndian.Uint16(h[2:])&0xfff8 == 0 {
			d.fragHead = true
		}
	case ipIPIP:
		proto = ethIPv4
		if again() {
			goto protoAgain
		}
	case ipIPv6:
		proto = ethIPv6
		if again() {
			goto protoAgain
		}
	case ipMPLS:
		proto = ethMPLSUC
		if again() {
			goto protoAgain
		}
	}
	good = true
	return finish()
}

// gre follows a GRE header (__skb_flow_dissect_gre) and returns the inner
// protocol and offset, whether the header was readable, and whether the
// dissection goes on inside it.
func (d *dissection) gre(proto uint16, nhoff int) (uint16, int, bool, bool) {
	h := d.at(nhoff, 4)
	if h == nil {
		return proto, nhoff, false, false
	}
	flags := binary.BigEndian.Uint16(h)
	const (
		greCsum    = 0x8000
		greRouting = 0x4000
		greKey     = 0x2000
		greSeq     = 0x1000
		greAck     = 0x0080
		greVersion = 0x0007
		greProtoPP = 0x880B
	)
	if flags&greRouting != 0 {
		return proto, nhoff, true, false
	}
	ver := flags & greVersion
	if ver > 1 {
		return proto, nhoff, true, false
	}
	inner := binary.BigEndian.Uint16(h[2:])
	if ver == 1 && !(inner == greProtoPP && flags&greKey != 0) {
		return inner, nhoff, true, false
	}
	off := 4
	if flags&greCsum != 0 {
		off += 4
	}
	if flags&greKey != 0 {
		if d.at(nhoff+off, 4) == nil {
			return inner, nhoff, false, false
		}
		off += 4
	}
	if flags&greSeq != 0 {
		off += 4
	}
	if ver == 0 {
		if inner == ethTEB {
			eth := d.at(nhoff+off, 14)
			if eth == nil {
				return inner, nhoff, false, false
			}
			inner = binary.BigEndian.Uint16(eth[12:])
			off += 14
		}
	} else {
		if flags&greAck != 0 {
			off += 4
		}
		ppp := d.at(nhoff+off, 4)
		if ppp == nil {
			return inner, nhoff, false, false
		}
		switch binary.BigEndian.Uint16(ppp[2:]) {
		case pppIP:
			inner = ethIPv4
		case pppIPv6:
			inner = ethIPv6
		}
		off += 4
	}
	return inner, nhoff + off, true, true
}

// poff is __skb_get_poff: the transport offset plus the transport header
// length for the protocols the kernel knows.
func (d *dissection) poff(thoff uint32, ipProto uint8) uint32 {
	if d.frag && !d.fragHead {
		return thoff
	}
	switch ipProto {
	case ipTCP:
		h := d.at(int(thoff)+12, 1)
		if h == nil {
			return thoff
		}
		return thoff + max(20, uint32(h[0]&0xf0)>>2)
	case ipUDP, ipUDPLite:
		return thoff + 8
	case ipICMP, ipICMPv6, ipIGMP:
		return thoff + 8
	case ipDCCP:
		return thoff + 12
	case ipSCTP:
		return thoff + 12
	}
	return thoff
}
