package classifier

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TCMsg is struct tcmsg, the header of every tc netlink message.
type TCMsg struct {
	Family  uint8
	Ifindex int32
	Handle  uint32
	Parent  uint32
	// Info holds a filter's priority in its upper 16 bits and its protocol
	// (EtherType, network byte order) in its lower 16 bits.
	Info uint32
}

// Where returns the priority and protocol of Info with the given chain.
func (t TCMsg) Where(chain uint32) Where {
	p := uint16(t.Info)
	return Where{Chain: chain, Prio: uint16(t.Info >> 16), Protocol: p>>8 | p<<8}
}

// Info builds tcm_info for a filter at prio matching protocol (host order).
func Info(prio, protocol uint16) uint32 {
	return uint32(prio)<<16 | uint32(protocol>>8|protocol<<8)
}

// Message is one rtnetlink tc message: its type (RTM_*), flags (NLM_F_*),
// header and attribute stream.
type Message struct {
	Type  uint16
	Flags uint16
	TCMsg TCMsg
	// Attrs is the attribute stream after the header.
	Attrs []byte
}

// ParseMessage decodes the body of an rtnetlink tc message (the bytes
// after struct nlmsghdr). A body shorter than struct tcmsg is EINVAL.
func ParseMessage(typ, flags uint16, body []byte) (Message, error) {
	if len(body) < uapi.SizeofTcmsg {
		return Message{}, &Error{Op: "parse", Msg: fmt.Sprintf("message body of %d bytes is shorter than struct tcmsg", len(body)), Errno: syscall.EINVAL}
	}
	return Message{Type: typ, Flags: flags, TCMsg: TCMsg{
		Family:  body[0],
		Ifindex: int32(binary.LittleEndian.Uint32(body[4:])),
		Handle:  binary.LittleEndian.Uint32(body[8:]),
		Parent:  binary.LittleEndian.Uint32(body[12:]),
		Info:    binary.LittleEndian.Uint32(body[16:]),
	}, Attrs: body[uapi.SizeofTcmsg:]}, nil
}

// Body encodes the message body: the header in host order, then Attrs.
func (m Message) Body() []byte {
	b := make([]byte, uapi.SizeofTcmsg, uapi.SizeofTcmsg+len(m.Attrs))
	b[0] = m.TCMsg.Family
	binary.LittleEndian.PutUint32(b[4:], uint32(m.TCMsg.Ifindex))
	binary.LittleEndian.PutUint32(b[8:], m.TCMsg.Handle)
	binary.LittleEndian.PutUint32(b[12:], m.TCMsg.Parent)
	binary.LittleEndian.PutUint32(b[16:], m.TCMsg.Info)
	return append(b, m.Attrs...)
}

// rtmTCAPolicy is rtm_tca_policy (net/sched/sch_api.c).
var rtmTCAPolicy = []nlattr.Policy{
	uapi.TCA_KIND:           {Type: nlattr.String},
	uapi.TCA_RATE:           {Type: nlattr.Binary, Len: 2},
	uapi.TCA_STAB:           {Type: nlattr.Nested},
	uapi.TCA_DUMP_INVISIBLE: {Type: nlattr.Flag},
	uapi.TCA_CHAIN:          {Type: nlattr.U32},
	uapi.TCA_INGRESS_BLOCK:  {Type: nlattr.U32},
	uapi.TCA_EGRESS_BLOCK:   {Type: nlattr.U32},
}

const extackPolicy = "Attribute failed policy validation"

func parseTCA(op string, attrs []byte) (nlattr.Table, error) {
	tb, err := nlattr.Parse(attrs, uapi.TCA_MAX, rtmTCAPolicy)
	if err != nil {
		return nil, &Error{Op: op, Msg: "attribute failed policy validation", Extack: extackPolicy, Errno: errnoOf(err, syscall.EINVAL), Err: err}
	}
	return tb, nil
}

func kindOf(tb nlattr.Table) kindArg {
	if !tb.Has(uapi.TCA_KIND) {
		return kindArg{}
	}
	return kindArg{present: true, raw: tb[uapi.TCA_KIND].Data}
}

func chainOf(tb nlattr.Table) uint32 {
	if tb.Has(uapi.TCA_CHAIN) {
		return tb.Uint32(uapi.TCA_CHAIN)
	}
	return 0
}

// Request carries out one RTM_NEWTFILTER, RTM_DELTFILTER or RTM_GETTFILTER
// request as the kernel's tc_new_tfilter, tc_del_tfilter and
// tc_get_tfilter do, returning the reply messages (one for a get, none
// otherwise) or the kernel's error with its extack text. A get with
// NLM_F_DUMP is a dump (see Dump). The request's
// tcm_ifindex and tcm_parent only select the block, which is the caller's
// business; tcm_info gives the priority and protocol, TCA_CHAIN the chain,
// TCA_KIND the kind, and TCA_OPTIONS and TCA_RATE reach cls_bpf.
func (b *Block) Request(m Message) ([]Message, error) {
	switch m.Type {
	case uapi.RTM_NEWTFILTER:
		tb, err := parseTCA("change", m.Attrs)
		if err != nil {
			return nil, err
		}
		flags := ChangeFlags(m.Flags) & (Create | Excl)
		req := Request{Handle: m.TCMsg.Handle, Flags: flags, Ingress: b.ingress()}
		if tb.Has(uapi.TCA_OPTIONS) {
			req.Options = tb[uapi.TCA_OPTIONS].Data
			if req.Options == nil {
				req.Options = []byte{}
			}
		}
		if tb.Has(uapi.TCA_RATE) {
			req.Rate = tb[uapi.TCA_RATE].Data
		}
		_, _, err = b.newFilter(m.TCMsg.Where(chainOf(tb)), kindOf(tb), flags, func(c *Chain) (*Filter, error) {
			old, _ := c.Get(req.Handle)
			f, err := c.ChangeNetlink(req)
			if err == nil && old != nil {
				b.putGotos(old.actions)
			}
			return f, err
		})
		return nil, err
	case uapi.RTM_DELTFILTER:
		tb, err := parseTCA("delete", m.Attrs)
		if err != nil {
			return nil, err
		}
		return nil, b.del(m.TCMsg.Where(chainOf(tb)), m.TCMsg.Handle, kindOf(tb))
	case uapi.RTM_GETTFILTER:
		if m.Flags&uapi.NLM_F_DUMP == uapi.NLM_F_DUMP {
			return b.Dump(m)
		}
		tb, err := parseTCA("get", m.Attrs)
		if err != nil {
			return nil, err
		}
		chain := chainOf(tb)
		p, f, err := b.get(m.TCMsg.Where(chain), m.TCMsg.Handle, kindOf(tb))
		if err != nil {
			return nil, err
		}
		out, err := b.fill(p, f, m.Flags)
		if err != nil {
			return nil, err
		}
		return []Message{out}, nil
	}
	return nil, &Error{Op: "request", Msg: fmt.Sprintf("message type %d is not a filter request", m.Type), Errno: syscall.EOPNOTSUPP}
}

func (b *Block) ingress() bool {
	return b.cfg.Parent&0xFFFF == uapi.TC_H_MIN_INGRESS
}

// fill is tcf_fill_node: the RTM_NEWTFILTER message for filter f of
// classifier p, or the classifier's header message when f is nil.
func (b *Block) fill(p *Proto, f *Filter, flags uint16) (Message, error) {
	m := Message{Type: uapi.RTM_NEWTFILTER, Flags: flags, TCMsg: TCMsg{
		Ifindex: b.cfg.Ifindex,
		Parent:  b.cfg.Parent,
		Info:    Info(p.where.Prio, p.where.Protocol),
	}}
	if b.cfg.Ifindex == 0 && b.cfg.Index != 0 {
		m.TCMsg.Ifindex = -1 // TCM_IFINDEX_MAGIC_BLOCK
		m.TCMsg.Parent = b.cfg.Index
	}
	m.Attrs = nlattr.AppendString(nil, uapi.TCA_KIND, Kind)
	m.Attrs = nlattr.AppendUint32(m.Attrs, uapi.TCA_CHAIN, p.where.Chain)
	if f != nil {
		m.TCMsg.Handle = f.handle
		var err error
		if m.Attrs, err = f.AppendOptions(m.Attrs); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// dumpPolicy is tcf_tfilter_dump_policy.
var dumpPolicy = []nlattr.Policy{
	uapi.TCA_CHAIN:      {Type: nlattr.U32},
	uapi.TCA_DUMP_FLAGS: {Type: nlattr.Unspec, Len: 8},
}

// Dump answers an RTM_GETTFILTER dump request (NLM_F_DUMP) as
// tc_dump_tfilter does: for each chain holding classifiers, in creation
// order (a chain held only by "goto chain" actions is left out), and each
// classifier in priority order, a header message (handle 0, TCA_KIND and
// TCA_CHAIN) and then one message per filter in list order, each flagged
// NLM_F_MULTI. A TCA_CHAIN attribute limits the dump to that chain, and a
// non-zero priority or protocol in tcm_info to those classifiers. Hardware
// statistics are requested for each filter first, as cls_bpf_dump does.
func (b *Block) Dump(req Message) ([]Message, error) {
	tb, err := nlattr.Parse(req.Attrs, uapi.TCA_MAX, dumpPolicy)
	if err != nil {
		return nil, &Error{Op: "dump", Msg: "attribute failed policy validation", Extack: extackPolicy, Errno: errnoOf(err, syscall.EINVAL), Err: err}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Message
	for _, c := range b.chains {
		if tb.Has(uapi.TCA_CHAIN) && tb.Uint32(uapi.TCA_CHAIN) != c.index {
			continue
		}
		for _, p := range c.protos {
			if prio := req.TCMsg.Info >> 16; prio != 0 && prio != uint32(p.where.Prio) {
				continue
			}
			if proto := req.TCMsg.Info & 0xFFFF; proto != 0 && proto != Info(0, p.where.Protocol) {
				continue
			}
			m, err := b.fill(p, nil, uapi.NLM_F_MULTI)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
			for _, f := range p.cls.Filters() {
				p.cls.updateStats(f)
				m, err := b.fill(p, f, uapi.NLM_F_MULTI)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
		}
	}
	return out, nil
}
