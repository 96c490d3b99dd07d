package action

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindSkbedit = "skbedit"

// Skbedit is the spec of an skb editing action (kind "skbedit",
// act_skbedit.c): it sets the priority, queue mapping, mark and packet type.
// At least one setting is required. tc's default verdict is Pipe.
type Skbedit struct {
	Params
	SetPriority bool
	Priority    uint32
	// InheritDSField sets the priority from the packet's DSCP.
	InheritDSField bool
	// SetQueueMapping selects transmit queue QueueMapping; with HashQueue
	// the queue is QueueMapping + hash % (QueueMappingMax-QueueMapping+1)
	// (TXQ_SKBHASH).
	SetQueueMapping bool
	QueueMapping    uint16
	HashQueue       bool
	QueueMappingMax uint16
	// SetMark sets mark := (mark &^ Mask) | (Mark & Mask); Mask is all
	// ones unless SetMask.
	SetMark bool
	Mark    uint32
	SetMask bool
	Mask    uint32
	// SetPtype sets the packet type (at most packet.OtherHost).
	SetPtype bool
	Ptype    uint16
}

// Kind returns "skbedit".
func (*Skbedit) Kind() string { return kindSkbedit }

func (s *Skbedit) options(e *encoder) {
	e.bytes(uapi.TCA_SKBEDIT_PARMS, putGen(nil, s.gen()))
	if s.SetPriority {
		e.u32(uapi.TCA_SKBEDIT_PRIORITY, s.Priority)
	}
	if s.SetQueueMapping {
		e.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, s.QueueMapping)
	}
	if s.SetMark {
		e.u32(uapi.TCA_SKBEDIT_MARK, s.Mark)
	}
	if s.SetPtype {
		e.u16(uapi.TCA_SKBEDIT_PTYPE, s.Ptype)
	}
	if s.SetMask {
		e.u32(uapi.TCA_SKBEDIT_MASK, s.Mask)
	}
	var fl uint64
	if s.InheritDSField {
		fl |= uapi.SKBEDIT_F_INHERITDSFIELD
	}
	if s.HashQueue {
		fl |= uapi.SKBEDIT_F_TXQ_SKBHASH
		e.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX, s.QueueMappingMax)
	}
	if fl != 0 {
		e.u64(uapi.TCA_SKBEDIT_FLAGS, fl)
	}
}

type skbeditParams struct {
	flags        uint32
	priority     uint32
	queueMapping uint16
	mappingMod   uint16
	mark, mask   uint32
	ptype        uint16
}

type skbeditAction struct {
	Common
	p   atomic.Pointer[skbeditParams]
	fwd Forwarder
}

var skbeditPolicy = []pol{
	uapi.TCA_SKBEDIT_PARMS:             polLen(uapi.SizeofTcSkbedit),
	uapi.TCA_SKBEDIT_PRIORITY:          polLen(4),
	uapi.TCA_SKBEDIT_QUEUE_MAPPING:     polLen(2),
	uapi.TCA_SKBEDIT_MARK:              polLen(4),
	uapi.TCA_SKBEDIT_PTYPE:             polLen(2),
	uapi.TCA_SKBEDIT_MASK:              polLen(4),
	uapi.TCA_SKBEDIT_FLAGS:             polLen(8),
	uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX: polLen(2),
}

func init() { kinds[kindSkbedit] = &kindOps{id: uapi.TCA_ID_SKBEDIT, offload: true, init: skbeditInit} }

// skbeditInit is tcf_skbedit_init.
func skbeditInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_SKBEDIT_MAX, skbeditPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_SKBEDIT_PARMS) {
		return nil, errno(syscall.EINVAL, "")
	}
	p := &skbeditParams{mappingMod: 1, mask: 0xffffffff}
	if tb.has(uapi.TCA_SKBEDIT_PRIORITY) {
		p.flags |= uapi.SKBEDIT_F_PRIORITY
		p.priority = tb.u32(uapi.TCA_SKBEDIT_PRIORITY)
	}
	if tb.has(uapi.TCA_SKBEDIT_QUEUE_MAPPING) {
		if f.filter != nil && f.filter.Ingress && f.user&SkipSW == 0 {
			return nil, errno(syscall.EOPNOTSUPP, `act_skbedit: "queue_mapping" option on receive side is hardware only, use skip_sw`)
		}
		p.flags |= uapi.SKBEDIT_F_QUEUE_MAPPING
		p.queueMapping = tb.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING)
	}
	if tb.has(uapi.TCA_SKBEDIT_PTYPE) {
		p.ptype = tb.u16(uapi.TCA_SKBEDIT_PTYPE)
		if p.ptype > uint16(packet.OtherHost) {
			return nil, errno(syscall.EINVAL, "")
		}
		p.flags |= uapi.SKBEDIT_F_PTYPE
	}
	if tb.has(uapi.TCA_SKBEDIT_MARK) {
		p.flags |= uapi.SKBEDIT_F_MARK
		p.mark = tb.u32(uapi.TCA_SKBEDIT_MARK)
	}
	if tb.has(uapi.TCA_SKBEDIT_MASK) {
		p.flags |= uapi.SKBEDIT_F_MASK
		p.mask = tb.u32(uapi.TCA_SKBEDIT_MASK)
	}
	if tb.has(uapi.TCA_SKBEDIT_FLAGS) {
		pure := tb.u64(uapi.TCA_SKBEDIT_FLAGS)
		if pure&uapi.SKBEDIT_F_TXQ_SKBHASH != 0 {
			if !tb.has(uapi.TCA_SKBEDIT_QUEUE_MAPPING) || !tb.has(uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX) {
				return nil, errno(syscall.EINVAL, "act_skbedit: Missing required range of queue_mapping.")
			}
			qmax := tb.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX)
			if qmax < p.queueMapping {
				return nil, errno(syscall.EINVAL, "act_skbedit: The range of queue_mapping is invalid, max < min.")
			}
			p.mappingMod = qmax - p.queueMapping + 1
			p.flags |= uapi.SKBEDIT_F_TXQ_SKBHASH
		}
		if pure&uapi.SKBEDIT_F_INHERITDSFIELD != 0 {
			p.flags |= uapi.SKBEDIT_F_INHERITDSFIELD
		}
	}
	parm := getGen(tb.data(uapi.TCA_SKBEDIT_PARMS))
	index := parm.index
	a, exists, err := x.checkAlloc(kindSkbedit, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists && f.bind {
		return a, nil
	}
	if p.flags == 0 {
		return nil, errno(syscall.EINVAL, "")
	}
	if exists && !f.replace {
		return nil, errno(syscall.EEXIST, "")
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	if p.flags&uapi.SKBEDIT_F_QUEUE_MAPPING == 0 {
		p.mappingMod = 0
	}
	if exists {
		s := a.(*skbeditAction)
		x.commits = append(x.commits, func() {
			s.setCtrl(parm.action)
			s.p.Store(p)
		})
		return s, nil
	}
	s := &skbeditAction{fwd: f.t.cfg.Forwarder}
	f.newCommon(&s.Common, kindSkbedit, index)
	s.setCtrl(parm.action)
	s.p.Store(p)
	x.created = append(x.created, s)
	return s, nil
}

// kdata is the offset of the kernel's skb->data in the frame while tc
// actions run: the network header at ingress, the MAC header at egress.
func kdata(pkt *packet.Packet) int {
	if pkt.Direction == packet.Ingress {
		return pkt.MACLen()
	}
	return 0
}

// vlanProtocol is vlan_get_protocol (skb_protocol(skb, true)): the
// protocol behind in-frame VLAN tags, looked up at mac_len (or 14) bytes
// past skb->data as the kernel does; 0 when a tag cannot be read or tags
// nest deeper than 8.
func vlanProtocol(pkt *packet.Packet) uint16 {
	t := pkt.Protocol
	if t != uapi.ETH_P_8021Q && t != uapi.ETH_P_8021AD {
		return t
	}
	b := pkt.Bytes()[kdata(pkt):]
	depth := pkt.MACLen()
	if depth == 0 {
		depth = uapi.ETH_HLEN
	}
	parse := 8
	for t == uapi.ETH_P_8021Q || t == uapi.ETH_P_8021AD {
		parse--
		if depth+4 > len(b) || parse == 0 {
			return 0
		}
		t = binary.BigEndian.Uint16(b[depth+2:])
		depth += uapi.VLAN_HLEN
	}
	return t
}

// Act is tcf_skbedit_act.
func (s *skbeditAction) Act(pkt *packet.Packet, res *Result) Verdict {
	s.touch(res)
	s.count(pkt, res)
	p := s.p.Load()
	action := s.Verdict()
	if p.flags&uapi.SKBEDIT_F_PRIORITY != 0 {
		pkt.Priority = p.priority
	}
	if p.flags&uapi.SKBEDIT_F_INHERITDSFIELD != 0 {
		nh := pkt.NetworkOffset()
		avail := pkt.Len() - kdata(pkt)
		wlen := nh - kdata(pkt)
		b := pkt.Bytes()
		switch vlanProtocol(pkt) {
		case uapi.ETH_P_IP:
			if nh < 0 || wlen+20 > avail {
				s.drop(res)
				return Shot
			}
			pkt.Priority = uint32(b[nh+1] >> 2)
		case uapi.ETH_P_IPV6:
			if nh < 0 || wlen+40 > avail {
				s.drop(res)
				return Shot
			}
			ds := uint8(binary.BigEndian.Uint16(b[nh:]) >> 4)
			pkt.Priority = uint32(ds >> 2)
		}
	}
	if p.flags&uapi.SKBEDIT_F_QUEUE_MAPPING != 0 && s.txQueues(pkt) > uint32(p.queueMapping) {
		q := p.queueMapping
		if p.flags&uapi.SKBEDIT_F_TXQ_SKBHASH != 0 {
			q += uint16(pkt.Hash % uint32(p.mappingMod))
		}
		if uint32(q) >= s.txQueues(pkt) {
			q = 0 // netdev_cap_txqueue
		}
		pkt.QueueMapping = q
	}
	if p.flags&uapi.SKBEDIT_F_MARK != 0 {
		pkt.Mark &^= p.mask
		pkt.Mark |= p.mark & p.mask
	}
	if p.flags&uapi.SKBEDIT_F_PTYPE != 0 {
		pkt.PktType = packet.Type(p.ptype)
	}
	return action
}

// txQueues is the current device's real_num_tx_queues, from the
// Forwarder's device information; 1 when unknown.
func (s *skbeditAction) txQueues(pkt *packet.Packet) uint32 {
	if s.fwd != nil {
		if st, ok := s.fwd.Device(pkt.Ifindex); ok && st.TxQueues > 0 {
			return st.TxQueues
		}
	}
	return 1
}

func (s *skbeditAction) dumpOptions(e *encoder, bind, ref int32) {
	p := s.p.Load()
	e.bytes(uapi.TCA_SKBEDIT_PARMS, putGen(nil, tcGen{index: s.index, action: s.Verdict(), refcnt: s.refcnt - ref, bindcnt: s.bindcnt - bind}))
	if p.flags&uapi.SKBEDIT_F_PRIORITY != 0 {
		e.u32(uapi.TCA_SKBEDIT_PRIORITY, p.priority)
	}
	if p.flags&uapi.SKBEDIT_F_QUEUE_MAPPING != 0 {
		e.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, p.queueMapping)
	}
	if p.flags&uapi.SKBEDIT_F_MARK != 0 {
		e.u32(uapi.TCA_SKBEDIT_MARK, p.mark)
	}
	if p.flags&uapi.SKBEDIT_F_PTYPE != 0 {
		e.u16(uapi.TCA_SKBEDIT_PTYPE, p.ptype)
	}
	if p.flags&uapi.SKBEDIT_F_MASK != 0 {
		e.u32(uapi.TCA_SKBEDIT_MASK, p.mask)
	}
	var pure uint64
	if p.flags&uapi.SKBEDIT_F_INHERITDSFIELD != 0 {
		pure |= uapi.SKBEDIT_F_INHERITDSFIELD
	}
	if p.flags&uapi.SKBEDIT_F_TXQ_SKBHASH != 0 {
		e.u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX, p.queueMapping+p.mappingMod-1)
		pure |= uapi.SKBEDIT_F_TXQ_SKBHASH
	}
	if pure != 0 {
		e.u64(uapi.TCA_SKBEDIT_FLAGS, pure)
	}
	e.tm(uapi.TCA_SKBEDIT_TM, &s.Common)
}

var ptypeNames = [...]string{"host", "broadcast", "multicast", "otherhost"}

// format is iproute2's print_skbedit.
func (s *skbeditAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	p := s.p.Load()
	w.WriteString("skbedit ")
	if p.flags&uapi.SKBEDIT_F_QUEUE_MAPPING != 0 {
		fmt.Fprintf(w, "queue_mapping %d", p.queueMapping)
	}
	if p.flags&uapi.SKBEDIT_F_PRIORITY != 0 {
		fmt.Fprintf(w, " priority %s", classidString(p.priority))
	}
	if p.flags&uapi.SKBEDIT_F_MARK != 0 {
		fmt.Fprintf(w, " mark %d", p.mark)
	}
	if p.flags&uapi.SKBEDIT_F_MASK != 0 {
		fmt.Fprintf(w, "/%#x", p.mask)
	}
	if p.flags&uapi.SKBEDIT_F_PTYPE != 0 {
		if int(p.ptype) < len(ptypeNames) {
			fmt.Fprintf(w, " ptype %s", ptypeNames[p.ptype])
		} else {
			fmt.Fprintf(w, " ptype %d", p.ptype)
		}
	}
	if p.flags&uapi.SKBEDIT_F_INHERITDSFIELD != 0 {
		w.WriteString(" inheritdsfield")
	}
	fmt.Fprintf(w, " %s\n", ctrlString(s.Verdict()))
	formatGen(w, &s.Common, bind, ref, stats, "\t ")
}

// classidString is iproute2's sprint_tc_classid.
func classidString(h uint32) string {
	switch {
	case h == uapi.TC_H_ROOT:
		return "root"
	case h == uapi.TC_H_UNSPEC:
		return "none"
	case h&uapi.TC_H_MAJ_MASK == 0:
		return fmt.Sprintf(":%x", h&uapi.TC_H_MIN_MASK)
	case h&uapi.TC_H_MIN_MASK == 0:
		return fmt.Sprintf("%x:", h>>16)
	}
	return fmt.Sprintf("%x:%x", h>>16, h&uapi.TC_H_MIN_MASK)
}
