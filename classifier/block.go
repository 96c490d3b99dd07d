package classifier

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/uapi"
	"github.com/clsbpf/clsbpf/offload"
)

// Limits of the block walk and of chain indexes (net/sched/cls_api.c).
const (
	// MaxChain is the largest chain index (TC_ACT_EXT_VAL_MASK).
	MaxChain = uapi.TC_ACT_EXT_VAL_MASK
	// MaxReclassify is how many times one packet may restart
	// classification (RECLASSIFY or "goto chain") before it is dropped
	// (__tcf_classify's max_reclassify_loop).
	MaxReclassify = 16
	// ProtocolAll is ETH_P_ALL: a classifier for every protocol.
	ProtocolAll = uapi.ETH_P_ALL
	// autoPrioStart is where automatic priorities start (TC_H_MAKE(0xC0000000, 0)).
	autoPrioStart = 0xC0000000
	// autoPrioSearch is the priority an automatic allocation searches
	// from (TC_H_MAKE(0x80000000, 0)).
	autoPrioSearch = 0x80000000
)

// Extended-ack messages of net/sched/cls_api.c for the block level,
// verbatim.
const (
	extackPrioZero        = "Invalid filter command with priority of zero"
	extackKindTooLong     = "Specified TC filter name too long"
	extackChainLimit      = "Specified chain index exceeds upper limit"
	extackAutoPrioInUse   = "Lowest ID from auto-alloc range already in use"
	extackProtoMismatch   = "Protocol mismatch for filter with specified priority"
	extackKindAndProto    = "Filter kind and protocol must be specified"
	extackNoClassifier    = "TC classifier not found"
	extackKindMismatch    = "Specified filter kind does not match existing one"
	extackFlushWithFields = "Cannot flush filters with protocol, handle or kind set"
	extackNoChain         = "Cannot find specified filter chain"
	extackNoProto         = "Filter with specified priority/protocol not found"
)

// Kind is the classifier kind this package implements ("bpf").
const Kind = "bpf"

// BlockConfig configures a Block.
type BlockConfig struct {
	// Config holds the hooks every classifier of the block uses; its
	// Offload is the block's set of bound devices.
	Config
	// Index is the block index of a shared block (tcm_block_index), 0 for
	// a qdisc's own block.
	Index uint32
	// Ifindex and Parent are the tcm_ifindex and tcm_parent of the
	// messages the block dumps (the qdisc's device and the filters'
	// parent, such as 0xFFFFFFF2 for clsact ingress). A Parent whose minor
	// is 0xFFF2 makes the block an ingress one for its actions
	// (TCA_ACT_FLAGS_AT_INGRESS). With Ifindex 0 and a non-zero Index,
	// dumps carry TCM_IFINDEX_MAGIC_BLOCK and the block index.
	Ifindex int32
	Parent  uint32
}

// Where places a classifier in a block: its chain, its priority (the user
// value, 1..0xFFFF; 0 asks Change for an automatic one) and the EtherType
// it matches in host order (ProtocolAll for every protocol; 0 only to look
// one up without checking the protocol).
type Where struct {
	Chain    uint32
	Prio     uint16
	Protocol uint16
}

// Proto is one classifier of a chain (the kernel's tcf_proto): a cls_bpf
// instance at a priority, for a protocol. It is safe for concurrent use;
// its filters are changed through the Block.
type Proto struct {
	where Where
	cls   *Chain
}

// Where returns the classifier's chain, priority and protocol.
func (p *Proto) Where() Where { return p.where }

// Kind is the classifier kind, "bpf".
func (p *Proto) Kind() string { return Kind }

// Filters returns the classifier's filters in list order.
func (p *Proto) Filters() []*Filter { return p.cls.Filters() }

// Get returns the filter with handle h.
func (p *Proto) Get(h uint32) (*Filter, bool) { return p.cls.Get(h) }

// Classify runs this classifier alone on pkt (cls_bpf_classify).
func (p *Proto) Classify(pkt *packet.Packet) Result { return p.cls.Classify(pkt) }

// blockChain is one chain of a block on the control side (tcf_chain).
type blockChain struct {
	index  uint32
	protos []*Proto // ascending priority
	// actRefs counts the actions whose "goto chain" holds the chain
	// (action_refcnt); a chain held by actions only is not dumped.
	actRefs int
}

// blockSnapshot is one published state of the block's chains and
// classifiers; it is never changed after publication.
type blockSnapshot struct {
	chain0 []*Proto
	chains map[uint32][]*Proto
}

// Block is a tc filter block (the kernel's tcf_block): chains 0 to
// MaxChain, each an ordered list of classifiers (Proto) by priority, each
// classifier a cls_bpf instance with its filters. Classify walks it as the
// kernel's tcf_classify does.
//
// Copy-on-write at two levels: the chains and their classifiers form one
// immutable snapshot published through an atomic pointer (a change that
// adds or removes a classifier publishes a new one), and each classifier's
// filter list is its own snapshot, as for a Chain. Classify loads the
// block snapshot once and each classifier's list as it reaches it, takes
// no lock and allocates nothing. A classifier is published only after its
// first filter is in place, and removed once it has none. Writers are
// serialized by one mutex (the RTNL stand-in). A Block is safe for
// concurrent use.
type Block struct {
	snap atomic.Pointer[blockSnapshot]

	mu     sync.Mutex
	cfg    BlockConfig
	chains []*blockChain // creation order, as block->chain_list
}

var emptyBlockSnapshot = &blockSnapshot{}

// NewBlock returns an empty block.
func NewBlock(cfg BlockConfig) *Block {
	b := &Block{cfg: cfg}
	b.snap.Store(emptyBlockSnapshot)
	return b
}

func (b *Block) load() *blockSnapshot {
	if s := b.snap.Load(); s != nil {
		return s
	}
	return emptyBlockSnapshot
}

// Classify runs pkt through the block as tcf_classify does and returns
// the verdict and result:
//
//  1. Classifiers of chain 0 are tried in priority order; one whose
//     protocol is neither ProtocolAll nor the packet's is skipped. The
//     packet's protocol is pkt.Protocol, or pkt.VLANProto when an
//     offloaded VLAN tag is present (skb_protocol).
//  2. A classifier returning Reclassify restarts the walk at the first
//     classifier of chain 0; one returning "goto chain N" continues at the
//     first classifier of chain N (an empty or missing chain ends the walk
//     with Unspec). After MaxReclassify restarts, the next one drops the
//     packet: Shot.
//  3. Otherwise the first non-negative verdict is the answer; a negative
//     one goes on to the next classifier.
//  4. Running out of classifiers gives Unspec.
//
// The result's class fields are those the last filter that set them
// left, as the kernel's shared tcf_result is.
func (b *Block) Classify(pkt *packet.Packet) Result {
	s := b.load()
	proto := pkt.Protocol
	if pkt.VLANPresent {
		proto = pkt.VLANProto
	}
	res := Result{Verdict: action.Unspec}
	protos := s.chain0
	limit := 0
	for {
		restart := false
		var target []*Proto
		for _, p := range protos {
			if p.where.Protocol != proto && p.where.Protocol != ProtocolAll {
				continue
			}
			r := p.cls.Classify(pkt)
			if r.Filter != 0 {
				res.ClassID, res.Class, res.Filter = r.ClassID, r.Class, r.Filter
			}
			v := r.Verdict
			if v == action.Reclassify {
				restart, target = true, s.chain0
				break
			}
			if v.IsGotoChain() {
				restart, target = true, s.chains[v.ExtValue()]
				break
			}
			if v >= 0 {
				res.Verdict = v
				return res
			}
		}
		if !restart {
			res.Verdict = action.Unspec
			return res
		}
		if limit >= MaxReclassify {
			res.Verdict = action.Shot
			return res
		}
		limit++
		protos = target
	}
}

// Protos returns the classifiers of a chain in priority order, from one
// snapshot.
func (b *Block) Protos(chain uint32) []*Proto {
	return slices.Clone(b.load().chains[chain])
}

// Chains returns the indexes of the chains that hold classifiers, in the
// order the kernel dumps them (creation order).
func (b *Block) Chains() []uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []uint32
	for _, c := range b.chains {
		if len(c.protos) > 0 {
			out = append(out, c.index)
		}
	}
	return out
}

// Proto returns the classifier at w.Chain and w.Prio; ok is false when
// there is none or, with a non-zero w.Protocol, when it matches another
// protocol.
func (b *Block) Proto(w Where) (*Proto, bool) {
	for _, p := range b.load().chains[w.Chain] {
		if p.where.Prio == w.Prio && (w.Protocol == 0 || w.Protocol == p.where.Protocol) {
			return p, true
		}
	}
	return nil, false
}

// lookupChain returns the chain with the index, or nil.
func (b *Block) lookupChain(index uint32) *blockChain {
	for _, c := range b.chains {
		if c.index == index {
			return c
		}
	}
	return nil
}

// getChain returns the chain, creating it at the end of the list.
func (b *Block) getChain(index uint32) *blockChain {
	if c := b.lookupChain(index); c != nil {
		return c
	}
	c := &blockChain{index: index}
	b.chains = append(b.chains, c)
	return c
}

// prune drops chains nothing holds any more (their last reference went)
// and publishes the block.
func (b *Block) publish() {
	b.chains = slices.DeleteFunc(b.chains, func(c *blockChain) bool {
		return len(c.protos) == 0 && c.actRefs <= 0
	})
	s := &blockSnapshot{chains: make(map[uint32][]*Proto, len(b.chains))}
	for _, c := range b.chains {
		if len(c.protos) == 0 {
			continue
		}
		s.chains[c.index] = c.protos
		if c.index == 0 {
			s.chain0 = c.protos
		}
	}
	b.snap.Store(s)
}

// findProto is tcf_chain_tp_find: the position of the first classifier
// with a priority at or above prio (the 32-bit form, prio << 16), and that
// classifier if its priority is prio.
func findProto(c *blockChain, prio uint32, protocol uint16, allocate bool) (pos int, p *Proto, err *Error) {
	for i, tp := range c.protos {
		tprio := uint32(tp.where.Prio) << 16
		if tprio < prio {
			continue
		}
		if tprio == prio {
			if allocate {
				return i, nil, &Error{Op: "change", Msg: "automatic priority: the lowest one is in use", Extack: extackAutoPrioInUse, Errno: syscall.ENOSPC}
			}
			if tp.where.Protocol != protocol && protocol != 0 {
				return i, nil, &Error{Op: "change", Msg: fmt.Sprintf("priority %d holds protocol %#04x, not %#04x", tp.where.Prio, tp.where.Protocol, protocol), Extack: extackProtoMismatch, Errno: syscall.EINVAL}
			}
			return i, tp, nil
		}
		return i, nil, nil
	}
	return len(c.protos), nil, nil
}

// kindArg is the TCA_KIND of a request: absent, or its payload.
type kindArg struct {
	present bool
	raw     []byte
}

// tooLong is tcf_proto_check_kind: nla_strscpy into IFNAMSIZ fails.
func (k kindArg) tooLong() bool {
	if !k.present {
		return false
	}
	n := len(k.raw)
	if n > 0 && k.raw[n-1] == 0 {
		n--
	}
	return n >= uapi.IFNAMSIZ
}

// name is the kind as a C string (what the ops lookup sees).
func (k kindArg) name() string {
	b := k.raw
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// is is nla_strcmp(kind, s) == 0: trailing NULs ignored.
func (k kindArg) is(s string) bool {
	b := k.raw
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b) == s
}

// newFilter is tc_new_tfilter from the chain lookup on; change runs the
// classifier's change on the found or new classifier.
func (b *Block) newFilter(w Where, kind kindArg, flags ChangeFlags, change func(c *Chain) (*Filter, error)) (Where, *Filter, error) {
	prio := uint32(w.Prio) << 16
	allocate := false
	if prio == 0 {
		if flags&Create == 0 {
			return w, nil, &Error{Op: "change", Msg: "priority 0 without Create", Extack: extackPrioZero, Errno: syscall.ENOENT}
		}
		prio, allocate = autoPrioSearch, true
	}
	if kind.tooLong() {
		return w, nil, &Error{Op: "change", Msg: "kind longer than 15 bytes", Extack: extackKindTooLong, Errno: syscall.EINVAL}
	}
	if w.Chain > MaxChain {
		return w, nil, &Error{Op: "change", Msg: fmt.Sprintf("chain %d exceeds %d", w.Chain, MaxChain), Extack: extackChainLimit, Errno: syscall.EINVAL}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.publish()
	ch := b.getChain(w.Chain)
	pos, p, err := findProto(ch, prio, w.Protocol, allocate)
	if err != nil {
		return w, nil, err
	}
	created := false
	if p == nil {
		if !kind.present || w.Protocol == 0 {
			return w, nil, &Error{Op: "change", Msg: "a new classifier needs a kind and a protocol", Extack: extackKindAndProto, Errno: syscall.EINVAL}
		}
		if flags&Create == 0 {
			return w, nil, &Error{Op: "change", Msg: "no classifier at this priority and no Create flag", Extack: extackNeedCreate, Errno: syscall.ENOENT}
		}
		if allocate {
			prio = autoPrioStart
			if pos < len(ch.protos) {
				prio = uint32(ch.protos[pos].where.Prio)<<16 - 1
			}
			prio &= 0xFFFF0000
		}
		if kind.name() != Kind {
			return w, nil, &Error{Op: "change", Msg: fmt.Sprintf("classifier kind %q", kind.name()), Extack: extackNoClassifier, Errno: syscall.ENOENT}
		}
		w.Prio = uint16(prio >> 16)
		p = &Proto{where: w, cls: New(b.cfg.Config)}
		p.cls.id = offload.FilterID{Block: b.cfg.Index, Chain: w.Chain, Prio: w.Prio, Protocol: w.Protocol}
		created = true
	}
	w = p.where
	if kind.present && !kind.is(Kind) {
		return w, nil, &Error{Op: "change", Msg: fmt.Sprintf("classifier kind %q at priority %d is %q", kind.name(), w.Prio, Kind), Extack: extackKindMismatch, Errno: syscall.EINVAL}
	}
	f, ferr := change(p.cls)
	if ferr != nil {
		return w, nil, ferr
	}
	if created {
		ch.protos = slices.Insert(slices.Clone(ch.protos), pos, p)
	}
	b.holdGotos(f.actions)
	return w, f, nil
}

// GotoChainer is implemented by action chains that list the chains their
// "goto chain" verdicts name (Actions does). A Block holds those chains
// while the filter exists, as the kernel's actions hold theirs. Without
// it, the configured verdicts an OffloadActioner reports are used.
type GotoChainer interface {
	GotoChains() []uint32
}

func gotoChains(a ActionChain) []uint32 {
	if g, ok := a.(GotoChainer); ok {
		return g.GotoChains()
	}
	var out []uint32
	for _, v := range actionVerdicts(a) {
		if v.IsGotoChain() {
			out = append(out, v.ExtValue())
		}
	}
	return out
}

// holdGotos takes a chain reference for every "goto chain" of a filter's
// actions (tcf_action_goto_chain_init), creating missing chains at the end
// of the list.
func (b *Block) holdGotos(a ActionChain) {
	for _, c := range gotoChains(a) {
		b.getChain(c).actRefs++
	}
}

// putGotos drops the references holdGotos took (the actions were
// released).
func (b *Block) putGotos(a ActionChain) {
	for _, c := range gotoChains(a) {
		if ch := b.lookupChain(c); ch != nil {
			ch.actRefs--
		}
	}
}

// Change adds or replaces a filter in the classifier at w, with the
// checks, order and errors of tc_new_tfilter before cls_bpf_change's own
// (see Chain.Change):
//
//   - w.Prio 0: without Create ENOENT; with Create a priority is
//     allocated: 49152 for the first automatic classifier of the chain,
//     then one below the lowest automatic one (ENOSPC once 32768 is
//     taken);
//   - w.Chain above MaxChain: EINVAL;
//   - a classifier at w.Prio for another protocol: EINVAL (a Protocol of
//     0 matches any);
//   - no classifier at w.Prio: w.Protocol 0 is EINVAL, no Create ENOENT;
//     otherwise one is made, and removed again if the change fails.
//
// It returns where the filter went (with the allocated priority).
func (b *Block) Change(w Where, spec FilterSpec, flags ChangeFlags) (Where, *Filter, error) {
	return b.newFilter(w, kindArg{present: true, raw: []byte(Kind)}, flags, func(c *Chain) (*Filter, error) {
		old, _ := c.Get(spec.Handle)
		f, err := c.Change(spec, flags)
		if err == nil && old != nil {
			b.putGotos(old.actions)
		}
		return f, err
	})
}

// Delete removes filters as tc_del_tfilter does: w.Prio 0 flushes the
// whole chain (and needs w.Protocol 0 and handle 0); handle 0 removes the
// whole classifier at w.Prio; any other handle removes that filter, and
// the classifier with it when it was the last. Errors: ENOENT for a
// missing chain, classifier or handle, EINVAL for a chain index above
// MaxChain or a protocol mismatch.
func (b *Block) Delete(w Where, h uint32) error {
	return b.del(w, h, kindArg{})
}

func (b *Block) del(w Where, h uint32, kind kindArg) error {
	if w.Prio == 0 && (w.Protocol != 0 || h != 0 || kind.present) {
		return &Error{Op: "delete", Msg: "flush with a protocol, handle or kind", Extack: extackFlushWithFields, Errno: syscall.ENOENT}
	}
	if kind.tooLong() {
		return &Error{Op: "delete", Msg: "kind longer than 15 bytes", Extack: extackKindTooLong, Errno: syscall.EINVAL}
	}
	if w.Chain > MaxChain {
		return &Error{Op: "delete", Msg: fmt.Sprintf("chain %d exceeds %d", w.Chain, MaxChain), Extack: extackChainLimit, Errno: syscall.EINVAL}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.publish()
	ch := b.lookupChain(w.Chain)
	if ch == nil {
		if w.Prio == 0 {
			return nil
		}
		return &Error{Op: "delete", Msg: fmt.Sprintf("no chain %d", w.Chain), Extack: extackNoChain, Errno: syscall.ENOENT}
	}
	if w.Prio == 0 {
		for _, p := range ch.protos {
			b.destroyProto(p)
		}
		ch.protos = nil
		return nil
	}
	pos, p, err := findProto(ch, uint32(w.Prio)<<16, w.Protocol, false)
	if err != nil {
		err.Op = "delete"
		return err
	}
	if p == nil {
		return &Error{Op: "delete", Msg: fmt.Sprintf("no classifier at priority %d", w.Prio), Extack: extackNoProto, Errno: syscall.ENOENT}
	}
	if kind.present && !kind.is(Kind) {
		return &Error{Op: "delete", Msg: fmt.Sprintf("classifier kind %q", kind.name()), Extack: extackKindMismatch, Errno: syscall.EINVAL}
	}
	if h == 0 {
		b.destroyProto(p)
		ch.protos = slices.Delete(slices.Clone(ch.protos), pos, pos+1)
		return nil
	}
	f, ok := p.cls.Get(h)
	if !ok {
		return &Error{Op: "delete", Msg: "no filter with handle " + hexs(h), Extack: extackHandleNotFound, Errno: syscall.ENOENT}
	}
	last, derr := p.cls.Delete(h)
	if derr != nil {
		return derr
	}
	b.putGotos(f.actions)
	if last {
		ch.protos = slices.Delete(slices.Clone(ch.protos), pos, pos+1)
	}
	return nil
}

// destroyProto removes every filter of a classifier (tcf_proto_destroy).
func (b *Block) destroyProto(p *Proto) {
	for _, f := range p.cls.Filters() {
		b.putGotos(f.actions)
	}
	p.cls.Destroy(true)
}

// Get returns the filter with handle h in the classifier at w, with the
// errors of tc_get_tfilter: ENOENT for priority 0, a missing classifier or
// handle; EINVAL for a missing chain, a chain above MaxChain or a protocol
// mismatch.
func (b *Block) Get(w Where, h uint32) (*Filter, error) {
	_, f, err := b.get(w, h, kindArg{})
	return f, err
}

func (b *Block) get(w Where, h uint32, kind kindArg) (*Proto, *Filter, error) {
	if w.Prio == 0 {
		return nil, nil, &Error{Op: "get", Msg: "priority 0", Extack: extackPrioZero, Errno: syscall.ENOENT}
	}
	if kind.tooLong() {
		return nil, nil, &Error{Op: "get", Msg: "kind longer than 15 bytes", Extack: extackKindTooLong, Errno: syscall.EINVAL}
	}
	if w.Chain > MaxChain {
		return nil, nil, &Error{Op: "get", Msg: fmt.Sprintf("chain %d exceeds %d", w.Chain, MaxChain), Extack: extackChainLimit, Errno: syscall.EINVAL}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.lookupChain(w.Chain)
	if ch == nil {
		return nil, nil, &Error{Op: "get", Msg: fmt.Sprintf("no chain %d", w.Chain), Extack: extackNoChain, Errno: syscall.EINVAL}
	}
	_, p, err := findProto(ch, uint32(w.Prio)<<16, w.Protocol, false)
	if err != nil {
		err.Op = "get"
		return nil, nil, err
	}
	if p == nil {
		return nil, nil, &Error{Op: "get", Msg: fmt.Sprintf("no classifier at priority %d", w.Prio), Extack: extackNoProto, Errno: syscall.ENOENT}
	}
	if kind.present && !kind.is(Kind) {
		return nil, nil, &Error{Op: "get", Msg: fmt.Sprintf("classifier kind %q", kind.name()), Extack: extackKindMismatch, Errno: syscall.EINVAL}
	}
	f, ok := p.cls.Get(h)
	if !ok {
		return nil, nil, &Error{Op: "get", Msg: "no filter with handle " + hexs(h), Extack: extackHandleNotFound, Errno: syscall.ENOENT}
	}
	p.cls.updateStats(f)
	return p, f, nil
}

// BindClass rebinds the filters of every classifier whose classid is
// classID, as the owning qdisc does when it creates (cookie != 0) or
// deletes (cookie 0) that class (tcf_node_bind for each classifier).
func (b *Block) BindClass(classID handle.Handle, cookie uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.chains {
		for _, p := range c.protos {
			p.cls.BindClass(classID, cookie)
		}
	}
}

// Bind binds the block to dev, as a qdisc on a new device does
// (tcf_block_offload_bind): every filter without SkipHW is offered to the
// device (re-offload), and counts as in hardware once more when taken. A
// device with a driver but without HW_TC, or with no driver at all, cannot
// join a block that has filters in hardware: EOPNOTSUPP. A SKIP_SW filter
// the device refuses makes the bind fail with that error, and the device
// is left as it was.
func (b *Block) Bind(dev *offload.Device) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Offload == nil {
		return &Error{Op: "bind", Msg: "the block has no offload.Block to bind devices to", Errno: syscall.EOPNOTSUPP}
	}
	inUse := false
	var protos []*Proto
	for _, c := range b.chains {
		for _, p := range c.protos {
			inUse = inUse || p.cls.inHWAny()
			protos = append(protos, p)
		}
	}
	if dev.Offloader != nil && !dev.HWTC && inUse {
		return &Error{Op: "bind", Msg: "device " + dev.Name + " has offload disabled", Extack: "Bind to offloaded block failed as dev has offload disabled", Errno: syscall.EOPNOTSUPP}
	}
	if dev.Offloader == nil {
		if inUse {
			return &Error{Op: "bind", Msg: "device " + dev.Name + " cannot offload and the block has filters in hardware", Errno: syscall.EOPNOTSUPP}
		}
		return b.cfg.Offload.Attach(dev)
	}
	took := make([][]uint32, len(protos))
	for i, p := range protos {
		var err error
		if took[i], err = p.cls.reoffload(dev, true, nil); err != nil {
			for j, q := range protos[:i] {
				if len(took[j]) > 0 {
					_, _ = q.cls.reoffload(dev, false, took[j])
				}
			}
			return err
		}
	}
	return b.cfg.Offload.Attach(dev)
}

// Unbind removes dev from the block: every filter without SkipHW is
// destroyed on the device and counts as in hardware once less.
func (b *Block) Unbind(dev *offload.Device) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Offload == nil {
		return &Error{Op: "unbind", Msg: "the block has no offload.Block", Errno: syscall.ENOENT}
	}
	if err := b.cfg.Offload.Detach(dev); err != nil {
		return err
	}
	if dev.Offloader == nil {
		return nil
	}
	for _, c := range b.chains {
		for _, p := range c.protos {
			_, _ = p.cls.reoffload(dev, false, nil)
		}
	}
	return nil
}
