package action

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindVlan = "vlan"

// VlanAction is what a vlan action does (tc_vlan v_action).
type VlanAction int32

// vlan actions.
const (
	VlanPop     VlanAction = uapi.TCA_VLAN_ACT_POP
	VlanPush    VlanAction = uapi.TCA_VLAN_ACT_PUSH
	VlanModify  VlanAction = uapi.TCA_VLAN_ACT_MODIFY
	VlanPopEth  VlanAction = uapi.TCA_VLAN_ACT_POP_ETH
	VlanPushEth VlanAction = uapi.TCA_VLAN_ACT_PUSH_ETH
)

// String returns tc's word for the action.
func (v VlanAction) String() string {
	switch v {
	case VlanPop:
		return "pop"
	case VlanPush:
		return "push"
	case VlanModify:
		return "modify"
	case VlanPopEth:
		return "pop_eth"
	case VlanPushEth:
		return "push_eth"
	}
	return fmt.Sprintf("%d", int32(v))
}

// Vlan is the spec of a VLAN action (kind "vlan", act_vlan.c). tc's
// default verdict is Pipe.
type Vlan struct {
	Params
	Action VlanAction
	// ID is the VLAN id for push and modify (required, below 4095).
	ID uint16
	// Protocol is the tag protocol, 0x8100 (the default when 0) or 0x88A8.
	Protocol uint16
	// SetPriority sends Priority (the PCP, 0..7).
	SetPriority bool
	Priority    uint8
	// Dst and Src are the addresses push_eth writes.
	Dst, Src net.HardwareAddr
}

// Kind returns "vlan".
func (*Vlan) Kind() string { return kindVlan }

func (v *Vlan) options(e *encoder) {
	b := putGen(nil, v.gen())
	e.bytes(uapi.TCA_VLAN_PARMS, binary.LittleEndian.AppendUint32(b, uint32(v.Action)))
	if v.Action == VlanPush || v.Action == VlanModify {
		e.u16(uapi.TCA_VLAN_PUSH_VLAN_ID, v.ID)
		if v.Protocol != 0 {
			e.be16(uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL, v.Protocol)
		}
		if v.SetPriority {
			e.u8(uapi.TCA_VLAN_PUSH_VLAN_PRIORITY, v.Priority)
		}
	}
	if v.Dst != nil {
		e.bytes(uapi.TCA_VLAN_PUSH_ETH_DST, v.Dst)
	}
	if v.Src != nil {
		e.bytes(uapi.TCA_VLAN_PUSH_ETH_SRC, v.Src)
	}
}

type vlanParams struct {
	action     VlanAction
	vid        uint16
	proto      uint16
	prio       uint8
	prioExists bool
	dst, src   [6]byte
}

type vlanAction struct {
	Common
	p atomic.Pointer[vlanParams]
}

var vlanPolicy = []pol{
	uapi.TCA_VLAN_PARMS:              polLen(uapi.SizeofTcVlan),
	uapi.TCA_VLAN_PUSH_VLAN_ID:       polU16,
	uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL: polU16,
	uapi.TCA_VLAN_PUSH_VLAN_PRIORITY: polU8,
	// NLA_POLICY_ETH_ADDR is an exact length, strictly checked for the
	// attributes from PUSH_ETH_DST on (strict_start_type).
	uapi.TCA_VLAN_PUSH_ETH_DST: {exact: uapi.ETH_ALEN},
	uapi.TCA_VLAN_PUSH_ETH_SRC: {exact: uapi.ETH_ALEN},
}

func init() { kinds[kindVlan] = &kindOps{id: uapi.TCA_ID_VLAN, offload: true, init: vlanInit} }

// vlanInit is tcf_vlan_init.
func vlanInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_VLAN_MAX, vlanPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_VLAN_PARMS) {
		return nil, errno(syscall.EINVAL, "")
	}
	d := tb.data(uapi.TCA_VLAN_PARMS)
	parm := getGen(d)
	p := &vlanParams{action: VlanAction(binary.LittleEndian.Uint32(d[20:]))}
	index := parm.index
	a, exists, err := x.checkAlloc(kindVlan, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists && f.bind {
		return a, nil
	}
	switch p.action {
	case VlanPop, VlanPopEth:
	case VlanPush, VlanModify:
		if !tb.has(uapi.TCA_VLAN_PUSH_VLAN_ID) {
			return nil, errno(syscall.EINVAL, "")
		}
		p.vid = tb.u16(uapi.TCA_VLAN_PUSH_VLAN_ID)
		if p.vid >= uapi.VLAN_VID_MASK {
			return nil, errno(syscall.ERANGE, "")
		}
		p.proto = uapi.ETH_P_8021Q
		if tb.has(uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL) {
			p.proto = tb.be16(uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL)
			if p.proto != uapi.ETH_P_8021Q && p.proto != uapi.ETH_P_8021AD {
				return nil, errno(syscall.EPROTONOSUPPORT, "")
			}
		}
		if tb.has(uapi.TCA_VLAN_PUSH_VLAN_PRIORITY) {
			p.prioExists = true
			p.prio = tb.u8(uapi.TCA_VLAN_PUSH_VLAN_PRIORITY)
		}
	case VlanPushEth:
		if !tb.has(uapi.TCA_VLAN_PUSH_ETH_DST) || !tb.has(uapi.TCA_VLAN_PUSH_ETH_SRC) {
			return nil, errno(syscall.EINVAL, "")
		}
		copy(p.dst[:], tb.data(uapi.TCA_VLAN_PUSH_ETH_DST))
		copy(p.src[:], tb.data(uapi.TCA_VLAN_PUSH_ETH_SRC))
	default:
		return nil, errno(syscall.EINVAL, "")
	}
	p.prioExists = p.prioExists || p.action == VlanPush
	if exists && !f.replace {
		return nil, errno(syscall.EEXIST, "")
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	if exists {
		v := a.(*vlanAction)
		x.commits = append(x.commits, func() {
			v.setCtrl(parm.action)
			v.p.Store(p)
		})
		return v, nil
	}
	v := &vlanAction{}
	f.newCommon(&v.Common, kindVlan, index)
	v.setCtrl(parm.action)
	v.p.Store(p)
	x.created = append(x.created, v)
	return v, nil
}

func isVlanProto(t uint16) bool { return t == uapi.ETH_P_8021Q || t == uapi.ETH_P_8021AD }

// postpull is skb_postpull_rcsum: take bytes leaving the checksummed
// area out of a CHECKSUM_COMPLETE sum.
func postpull(pkt *packet.Packet, b []byte) {
	switch pkt.Checksum {
	case packet.ChecksumComplete:
		pkt.Csum = uint32(^csum.Partial(b, ^csum.Wsum(pkt.Csum)))
	case packet.ChecksumPartial:
		// skb_checksum_start_offset below 0 cannot happen while the
		// checksum start lies in the frame.
	}
}

// postpush is skb_postpush_rcsum: add bytes entering the checksummed
// area to a CHECKSUM_COMPLETE sum.
func postpush(pkt *packet.Packet, b []byte) {
	if pkt.Checksum == packet.ChecksumComplete {
		pkt.Csum = uint32(csum.Partial(b, csum.Wsum(pkt.Csum)))
	}
}

// vlanPopFrame is __skb_vlan_pop: remove the in-frame tag after the MAC
// addresses; the frame must start at its MAC header.
func vlanPopFrame(pkt *packet.Packet) (uint16, error) {
	if pkt.MACOffset() != 0 {
		return 0, syscall.EINVAL
	}
	if pkt.Len() < uapi.ETH_HLEN+uapi.VLAN_HLEN {
		return 0, syscall.ENOMEM
	}
	b := pkt.Bytes()
	postpull(pkt, b[2*uapi.ETH_ALEN:2*uapi.ETH_ALEN+uapi.VLAN_HLEN])
	tci := binary.BigEndian.Uint16(b[14:])
	copy(b[uapi.VLAN_HLEN:], b[:2*uapi.ETH_ALEN])
	proto := binary.BigEndian.Uint16(b[16:])
	switch {
	case proto >= 0x0600:
		pkt.Protocol = proto
	case len(b) >= 20 && b[18] == 0xff && b[19] == 0xff:
		pkt.Protocol = 0x0001 // ETH_P_802_3
	default:
		pkt.Protocol = 0x0004 // ETH_P_802_2
	}
	nh := pkt.NetworkOffset()
	if err := pkt.Pull(uapi.VLAN_HLEN); err != nil {
		return 0, syscall.ENOMEM
	}
	_ = pkt.SetMACOffset(0)
	if nh-uapi.VLAN_HLEN < uapi.ETH_HLEN {
		_ = pkt.SetNetworkOffset(uapi.ETH_HLEN)
	}
	return tci, nil
}

// vlanPop is skb_vlan_pop: the offloaded tag goes first; the next in-frame
// tag, if any, becomes the offloaded one.
func vlanPop(pkt *packet.Packet) error {
	if pkt.VLANPresent {
		pkt.VLANPresent, pkt.VLANTCI, pkt.VLANProto = false, 0, 0
	} else {
		if !isVlanProto(pkt.Protocol) {
			return nil
		}
		if _, err := vlanPopFrame(pkt); err != nil {
			return err
		}
	}
	if !isVlanProto(pkt.Protocol) {
		return nil
	}
	proto := pkt.Protocol
	tci, err := vlanPopFrame(pkt)
	if err != nil {
		return err
	}
	pkt.VLANPresent, pkt.VLANProto, pkt.VLANTCI = true, proto, tci
	return nil
}

// vlanPush is skb_vlan_push: an offloaded tag moves into the frame and
// the new tag becomes the offloaded one.
func vlanPush(pkt *packet.Packet, proto, tci uint16) error {
	if pkt.VLANPresent {
		if pkt.MACOffset() != 0 {
			return syscall.EINVAL
		}
		if pkt.Len() < 2*uapi.ETH_ALEN {
			return syscall.ENOMEM
		}
		if err := pkt.Push(uapi.VLAN_HLEN); err != nil {
			return err
		}
		b := pkt.Bytes()
		copy(b, b[uapi.VLAN_HLEN:uapi.VLAN_HLEN+2*uapi.ETH_ALEN])
		binary.BigEndian.PutUint16(b[12:], pkt.VLANProto)
		binary.BigEndian.PutUint16(b[14:], pkt.VLANTCI)
		_ = pkt.SetMACOffset(0)
		pkt.Protocol = pkt.VLANProto
		postpush(pkt, b[2*uapi.ETH_ALEN:2*uapi.ETH_ALEN+uapi.VLAN_HLEN])
	}
	pkt.VLANPresent, pkt.VLANProto, pkt.VLANTCI = true, proto, tci
	return nil
}

// ethPop is skb_eth_pop.
func ethPop(pkt *packet.Packet) error {
	if pkt.Len() < uapi.ETH_HLEN || pkt.VLANPresent || isVlanProto(pkt.Protocol) || pkt.NetworkOffset() < uapi.ETH_HLEN {
		return syscall.EPROTO
	}
	postpull(pkt, pkt.Bytes()[:uapi.ETH_HLEN])
	if err := pkt.Pull(uapi.ETH_HLEN); err != nil {
		return syscall.EPROTO
	}
	_ = pkt.SetMACOffset(0)
	return nil
}

// ethPush is skb_eth_push.
func ethPush(pkt *packet.Packet, dst, src *[6]byte) error {
	if pkt.NetworkOffset() != 0 || pkt.VLANPresent {
		return syscall.EPROTO
	}
	if err := pkt.Push(uapi.ETH_HLEN); err != nil {
		return err
	}
	_ = pkt.SetMACOffset(0)
	b := pkt.Bytes()
	copy(b, dst[:])
	copy(b[6:], src[:])
	binary.BigEndian.PutUint16(b[12:], pkt.Protocol)
	postpush(pkt, b[:uapi.ETH_HLEN])
	return nil
}

// Act is tcf_vlan_act. The packet model keeps the frame at its MAC header
// in both directions, which is where the kernel puts data for the
// duration of the action.
func (v *vlanAction) Act(pkt *packet.Packet, res *Result) Verdict {
	v.touch(res)
	v.count(pkt, res)
	action := v.Verdict()
	p := v.p.Load()
	// At ingress the kernel pushes the MAC header back for the duration
	// of the action (skb_push_rcsum) and pulls the new one afterwards
	// (skb_pull_rcsum): a CHECKSUM_COMPLETE sum follows both.
	ingress := pkt.Direction == packet.Ingress
	if ingress {
		postpush(pkt, pkt.Bytes()[:pkt.MACLen()])
	}
	err := v.do(pkt, p)
	if ingress && pkt.MACLen() <= pkt.Len() {
		postpull(pkt, pkt.Bytes()[:pkt.MACLen()])
	}
	if err != nil {
		v.drop(res)
		return Shot
	}
	return action
}

// do performs the configured VLAN operation.
func (v *vlanAction) do(pkt *packet.Packet, p *vlanParams) error {
	var err error
	switch p.action {
	case VlanPop:
		err = vlanPop(pkt)
	case VlanPush:
		err = vlanPush(pkt, p.proto, p.vid|uint16(p.prio)<<uapi.VLAN_PRIO_SHIFT)
	case VlanModify:
		if !pkt.VLANPresent && !isVlanProto(pkt.Protocol) {
			return nil
		}
		var tci uint16
		if pkt.VLANPresent {
			tci = pkt.VLANTCI
			pkt.VLANPresent, pkt.VLANTCI, pkt.VLANProto = false, 0, 0
		} else if tci, err = vlanPopFrame(pkt); err != nil {
			break
		}
		tci = tci&^uapi.VLAN_VID_MASK | p.vid
		if p.prioExists {
			tci &^= uapi.VLAN_PRIO_MASK
			tci |= uint16(p.prio) << uapi.VLAN_PRIO_SHIFT
		}
		pkt.VLANPresent, pkt.VLANProto, pkt.VLANTCI = true, p.proto, tci
	case VlanPopEth:
		err = ethPop(pkt)
	case VlanPushEth:
		err = ethPush(pkt, &p.dst, &p.src)
	}
	return err
}

func (v *vlanAction) dumpOptions(e *encoder, bind, ref int32) {
	p := v.p.Load()
	b := putGen(nil, tcGen{index: v.index, action: v.Verdict(), refcnt: v.refcnt - ref, bindcnt: v.bindcnt - bind})
	e.bytes(uapi.TCA_VLAN_PARMS, binary.LittleEndian.AppendUint32(b, uint32(p.action)))
	if p.action == VlanPush || p.action == VlanModify {
		e.u16(uapi.TCA_VLAN_PUSH_VLAN_ID, p.vid)
		e.be16(uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL, p.proto)
		if p.prioExists {
			e.u8(uapi.TCA_VLAN_PUSH_VLAN_PRIORITY, p.prio)
		}
	}
	if p.action == VlanPushEth {
		e.bytes(uapi.TCA_VLAN_PUSH_ETH_DST, p.dst[:])
		e.bytes(uapi.TCA_VLAN_PUSH_ETH_SRC, p.src[:])
	}
	e.tm(uapi.TCA_VLAN_TM, &v.Common)
}

// format is iproute2's print_vlan.
func (v *vlanAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	p := v.p.Load()
	fmt.Fprintf(w, "vlan  %s", p.action)
	switch p.action {
	case VlanPush, VlanModify:
		fmt.Fprintf(w, " id %d", p.vid)
		proto := "802.1Q"
		if p.proto == uapi.ETH_P_8021AD {
			proto = "802.1ad"
		}
		fmt.Fprintf(w, " protocol %s", proto)
		if p.prioExists {
			fmt.Fprintf(w, " priority %d", p.prio)
		}
	case VlanPushEth:
		fmt.Fprintf(w, " dst_mac %s src_mac %s", net.HardwareAddr(p.dst[:]), net.HardwareAddr(p.src[:]))
	}
	fmt.Fprintf(w, " %s\n", ctrlString(v.Verdict()))
	formatGen(w, &v.Common, bind, ref, stats, "\t ")
}
