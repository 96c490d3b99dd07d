package action

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindCsum = "csum"

// CsumUpdate selects the checksums a csum action recomputes
// (TCA_CSUM_UPDATE_FLAG_*).
type CsumUpdate uint32

// Checksums csum recomputes.
const (
	CsumIPv4Header CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_IPV4HDR
	CsumICMP       CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_ICMP
	CsumIGMP       CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_IGMP
	CsumTCP        CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_TCP
	CsumUDP        CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_UDP
	CsumUDPLite    CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_UDPLITE
	CsumSCTP       CsumUpdate = uapi.TCA_CSUM_UPDATE_FLAG_SCTP
)

var csumNames = []struct {
	f    CsumUpdate
	name string
}{{CsumIPv4Header, "iph"}, {CsumICMP, "icmp"}, {CsumIGMP, "igmp"}, {CsumTCP, "tcp"}, {CsumUDP, "udp"}, {CsumUDPLite, "udplite"}, {CsumSCTP, "sctp"}}

// String lists the checksums as tc prints them ("iph, tcp, udp").
func (c CsumUpdate) String() string {
	var parts []string
	for _, n := range csumNames {
		if c&n.f != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ", ")
}

// Csum is the spec of a checksum-recomputing action (kind "csum",
// act_csum.c). tc's default verdict is OK.
type Csum struct {
	Params
	Update CsumUpdate
}

// Kind returns "csum".
func (*Csum) Kind() string { return kindCsum }

func (c *Csum) options(e *encoder) {
	b := putGen(nil, c.gen())
	e.bytes(uapi.TCA_CSUM_PARMS, binary.LittleEndian.AppendUint32(b, uint32(c.Update)))
}

type csumAction struct {
	Common
	update atomic.Uint32
}

var csumPolicy = []pol{uapi.TCA_CSUM_PARMS: polLen(uapi.SizeofTcCsum)}

func init() { kinds[kindCsum] = &kindOps{id: uapi.TCA_ID_CSUM, offload: true, init: csumInit} }

// csumInit is tcf_csum_init.
func csumInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_CSUM_MAX, csumPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_CSUM_PARMS) {
		return nil, errno(syscall.EINVAL, "")
	}
	d := tb.data(uapi.TCA_CSUM_PARMS)
	parm := getGen(d)
	flags := binary.LittleEndian.Uint32(d[20:])
	index := parm.index
	a, exists, err := x.checkAlloc(kindCsum, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists {
		if f.bind {
			return a, nil
		}
		if !f.replace {
			return nil, errno(syscall.EEXIST, "")
		}
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	if exists {
		c := a.(*csumAction)
		x.commits = append(x.commits, func() {
			c.setCtrl(parm.action)
			c.update.Store(flags)
		})
		return c, nil
	}
	c := &csumAction{}
	f.newCommon(&c.Common, kindCsum, index)
	c.setCtrl(parm.action)
	c.update.Store(flags)
	x.created = append(x.created, c)
	return c, nil
}

// GSO types the csum action looks at (SKB_GSO_*).
const (
	gsoTCPv4 = 1 << 0
	gsoTCPv6 = 1 << 4
	gsoSCTP  = 1 << 14
	gsoUDP   = 1 << 16
)

// csumWalk is the state of one tcf_csum_act run: the frame, the offset of
// the kernel's skb->data in it and of the network header.
type csumWalk struct {
	pkt  *packet.Packet
	b    []byte
	data int
	nh   int
}

// mayPull is pskb_may_pull: n bytes from skb->data exist.
func (w *csumWalk) mayPull(n int) bool { return n >= 0 && n <= len(w.b)-w.data }

// nextLayer is tcf_csum_skb_nextlayer: the offset of the header after ihl
// bytes of network headers, or -1.
func (w *csumWalk) nextLayer(ihl, ipl, jhl int) int {
	ntkoff := w.nh - w.data
	if !w.mayPull(ipl+ntkoff) || ipl < ihl+jhl {
		return -1
	}
	return w.nh + ihl
}

func (w *csumWalk) setNone(sum csum.Wsum) {
	w.pkt.Csum = uint32(sum)
	w.pkt.Checksum = packet.ChecksumNone
}

func (w *csumWalk) gso(t uint32) bool { return w.pkt.GSOSize != 0 && w.pkt.GSOType&t != 0 }

func (w *csumWalk) simple(ihl, ipl, hlen, off int) bool {
	h := w.nextLayer(ihl, ipl, hlen)
	if h < 0 {
		return false
	}
	csum.Store16(w.b[h+off:], 0)
	sum := csum.Partial(w.b[h:h+ipl-ihl], 0)
	w.pkt.Csum = uint32(sum)
	csum.Store16(w.b[h+off:], csum.Fold(sum))
	w.pkt.Checksum = packet.ChecksumNone
	return true
}

func (w *csumWalk) ipv6ICMP(ihl, ipl int) bool {
	h := w.nextLayer(ihl, ipl, 8)
	if h < 0 {
		return false
	}
	csum.Store16(w.b[h+2:], 0)
	sum := csum.Partial(w.b[h:h+ipl-ihl], 0)
	w.setNone(sum)
	csum.Store16(w.b[h+2:], csum.IPv6Magic(w.b[w.nh+8:], w.b[w.nh+24:], uint32(ipl-ihl), 58, sum))
	return true
}

func (w *csumWalk) tcp(ihl, ipl int, v6 bool) bool {
	if v6 && w.gso(gsoTCPv6) || !v6 && w.gso(gsoTCPv4) {
		return true
	}
	h := w.nextLayer(ihl, ipl, 20)
	if h < 0 {
		return false
	}
	csum.Store16(w.b[h+16:], 0)
	sum := csum.Partial(w.b[h:h+ipl-ihl], 0)
	w.setNone(sum)
	var c uint16
	if v6 {
		c = csum.IPv6Magic(w.b[w.nh+8:], w.b[w.nh+24:], uint32(ipl-ihl), 6, sum)
	} else {
		c = csum.TCPUDPMagic(csum.Load32(w.b[w.nh+12:]), csum.Load32(w.b[w.nh+16:]), uint32(ipl-ihl), 6, sum)
	}
	csum.Store16(w.b[h+16:], c)
	return true
}

func (w *csumWalk) udp(ihl, ipl int, lite, v6 bool) bool {
	if w.gso(gsoUDP) {
		return true
	}
	h := w.nextLayer(ihl, ipl, 8)
	if h < 0 {
		return false
	}
	ul := int(binary.BigEndian.Uint16(w.b[h+4:]))
	if !v6 && !lite && csum.Load16(w.b[h+6:]) == 0 {
		w.pkt.Checksum = packet.ChecksumNone
		return true
	}
	csum.Store16(w.b[h+6:], 0)
	var sum csum.Wsum
	switch {
	case lite && ul == 0:
		sum = csum.Partial(w.b[h:h+ipl-ihl], 0)
	case lite && ul >= 8 && ul <= ipl-ihl:
		sum = csum.Partial(w.b[h:h+ul], 0)
	case !lite && ul == ipl-ihl:
		sum = csum.Partial(w.b[h:h+ul], 0)
	default:
		return true // ignore_obscure_skb: the checksum stays zeroed
	}
	proto := uint8(17)
	if lite {
		proto = 136
	}
	var c uint16
	if v6 {
		c = csum.IPv6Magic(w.b[w.nh+8:], w.b[w.nh+24:], uint32(ul), proto, sum)
	} else {
		c = csum.TCPUDPMagic(csum.Load32(w.b[w.nh+12:]), csum.Load32(w.b[w.nh+16:]), uint32(ul), w.b[w.nh+9], sum)
	}
	if c == 0 {
		c = 0xffff // CSUM_MANGLED_0
	}
	csum.Store16(w.b[h+6:], c)
	w.setNone(sum)
	return true
}

func (w *csumWalk) sctp(ihl, ipl int) bool {
	if w.gso(gsoSCTP) {
		return true
	}
	h := w.nextLayer(ihl, ipl, 12)
	if h < 0 {
		return false
	}
	clear(w.b[h+8 : h+12])
	crc := csum.CRC32c(w.b[h:])
	binary.LittleEndian.PutUint32(w.b[h+8:], crc)
	w.pkt.Checksum = packet.ChecksumNone
	return true
}

// ipv4 is tcf_csum_ipv4.
func (w *csumWalk) ipv4(flags CsumUpdate) bool {
	ntkoff := w.nh - w.data
	if w.nh < 0 || !w.mayPull(20+ntkoff) {
		return false
	}
	iph := w.b[w.nh:]
	ihl := int(iph[0]&0x0f) * 4
	ipl := int(binary.BigEndian.Uint16(iph[2:]))
	proto := iph[9]
	if binary.BigEndian.Uint16(iph[6:])&0x1fff != 0 {
		proto = 0
	}
	ok := true
	switch proto {
	case 1:
		if flags&CsumICMP != 0 {
			ok = w.simple(ihl, ipl, 8, 2)
		}
	case 2:
		if flags&CsumIGMP != 0 {
			ok = w.simple(ihl, ipl, 8, 2)
		}
	case 6:
		if flags&CsumTCP != 0 {
			ok = w.tcp(ihl, ipl, false)
		}
	case 17:
		if flags&CsumUDP != 0 {
			ok = w.udp(ihl, ipl, false, false)
		}
	case 136:
		if flags&CsumUDPLite != 0 {
			ok = w.udp(ihl, ipl, true, false)
		}
	case 132:
		if flags&CsumSCTP != 0 {
			ok = w.sctp(ihl, ipl)
		}
	}
	if !ok {
		return false
	}
	if flags&CsumIPv4Header != 0 {
		csum.Store16(iph[10:], 0)
		var hdr [60]byte
		copy(hdr[:], iph)
		csum.Store16(iph[10:], csum.IPFast(hdr[:], int(iph[0]&0x0f)))
	}
	return true
}

// hopOpts is tcf_csum_ipv6_hopopts: a jumbo payload option replaces the
// payload length.
func hopOpts(xh []byte, pl *int) bool {
	off, n := 2, len(xh)-2
	for n > 1 {
		var optlen int
		switch xh[off] {
		case 0: // IPV6_TLV_PAD1
			optlen = 1
		case 0xc2: // IPV6_TLV_JUMBO
			optlen = int(xh[off+1]) + 2
			if optlen != 6 || n < 6 || off&3 != 2 {
				return false
			}
			*pl = int(binary.BigEndian.Uint32(xh[off+2:]))
			return true
		default:
			optlen = int(xh[off+1]) + 2
			if optlen > n {
				return true
			}
		}
		off += optlen
		n -= optlen
	}
	return true
}

// ipv6 is tcf_csum_ipv6.
func (w *csumWalk) ipv6(flags CsumUpdate) bool {
	ntkoff := w.nh - w.data
	hl := 40
	if w.nh < 0 || !w.mayPull(hl+ntkoff) {
		return false
	}
	pl := int(binary.BigEndian.Uint16(w.b[w.nh+4:]))
	next := w.b[w.nh+6]
	for {
		switch next {
		case 44: // NEXTHDR_FRAGMENT
			return true
		case 43, 0, 60: // routing, hop-by-hop, destination options
			if !w.mayPull(hl + 2 + ntkoff) {
				return false
			}
			ixhl := (int(w.b[w.nh+hl+1]) + 1) << 3
			if !w.mayPull(hl + ixhl + ntkoff) {
				return false
			}
			xh := w.b[w.nh+hl : w.nh+hl+ixhl]
			if next == 0 && !hopOpts(xh, &pl) {
				return false
			}
			next = xh[0]
			hl += ixhl
		case 58:
			if flags&CsumICMP != 0 {
				return w.ipv6ICMP(hl, pl+40)
			}
			return true
		case 6:
			if flags&CsumTCP != 0 {
				return w.tcp(hl, pl+40, true)
			}
			return true
		case 17:
			if flags&CsumUDP != 0 {
				return w.udp(hl, pl+40, false, true)
			}
			return true
		case 136:
			if flags&CsumUDPLite != 0 {
				return w.udp(hl, pl+40, true, true)
			}
			return true
		case 132:
			if flags&CsumSCTP != 0 {
				return w.sctp(hl, pl+40)
			}
			return true
		default:
			return true
		}
		if !w.mayPull(hl + 1 + ntkoff) {
			return true
		}
	}
}

// Act is tcf_csum_act: VLAN tags are walked (offloaded first, then in the
// frame), the selected checksums of the IPv4 or IPv6 packet recomputed;
// a packet that cannot be parsed is dropped.
func (c *csumAction) Act(pkt *packet.Packet, res *Result) Verdict {
	c.touch(res)
	c.count(pkt, res)
	action := c.Verdict()
	if action == Shot {
		c.drop(res)
		return Shot
	}
	flags := CsumUpdate(c.update.Load())
	w := csumWalk{pkt: pkt, b: pkt.Bytes(), data: kdata(pkt), nh: pkt.NetworkOffset()}
	data0 := w.data
	proto := pkt.Protocol
	orig := false
	tags := 0
	ok := true
loop:
	for {
		switch proto {
		case uapi.ETH_P_IP:
			ok = w.ipv4(flags)
			break loop
		case uapi.ETH_P_IPV6:
			ok = w.ipv6(flags)
			break loop
		case uapi.ETH_P_8021Q, uapi.ETH_P_8021AD:
			if pkt.VLANPresent && !orig {
				proto = pkt.Protocol
				orig = true
				continue
			}
			if w.data+uapi.VLAN_HLEN > len(w.b) {
				break loop
			}
			proto = binary.BigEndian.Uint16(w.b[w.data+2:])
			w.data += uapi.VLAN_HLEN
			w.nh = w.data
			tags++
		default:
			break loop
		}
	}
	if tags > 0 {
		_ = pkt.SetNetworkOffset(data0)
	}
	if !ok {
		c.drop(res)
		return Shot
	}
	return action
}

func (c *csumAction) dumpOptions(e *encoder, bind, ref int32) {
	b := putGen(nil, tcGen{index: c.index, action: c.Verdict(), refcnt: c.refcnt - ref, bindcnt: c.bindcnt - bind})
	e.bytes(uapi.TCA_CSUM_PARMS, binary.LittleEndian.AppendUint32(b, c.update.Load()))
	e.tm(uapi.TCA_CSUM_TM, &c.Common)
}

// format is iproute2's print_csum.
func (c *csumAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	u := CsumUpdate(c.update.Load())
	list := u.String()
	if list == "" {
		list = "?empty"
	}
	fmt.Fprintf(w, "csum (%s) action %s\n", list, ctrlString(c.Verdict()))
	formatGen(w, &c.Common, bind, ref, stats, "\t")
}
