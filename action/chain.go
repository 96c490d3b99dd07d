package action

import (
	"bytes"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// MaxActions is TCA_ACT_MAX_PRIO, the most actions one filter runs.
const MaxActions = uapi.TCA_ACT_MAX_PRIO

// FilterContext describes the filter a chain of actions is configured for
// (what tcf_exts_validate learns from its tcf_proto and request).
type FilterContext struct {
	// Ingress says the filter sits on an ingress (or clsact ingress)
	// hook: skbedit's queue_mapping is then hardware-only.
	Ingress bool
	// RateEstimator says the request carried a rate estimator (TCA_RATE),
	// which police's avrate needs.
	RateEstimator bool
}

// Chain is the ordered list of actions one filter runs (struct tcf_exts):
// at most MaxActions, executed by Run as tcf_action_exec does. A Chain is
// immutable once built and safe for concurrent Run calls; Release gives
// its actions back to the Table when the filter goes away.
type Chain struct {
	t        *Table
	actions  []Action
	bind     bool
	legacy   bool
	released bool
}

// Actions returns the chain's actions in execution order. The slice must
// not be modified.
func (c *Chain) Actions() []Action {
	if c == nil {
		return nil
	}
	return c.actions
}

// Len is the number of actions.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.actions)
}

// Release drops the chain's references on its actions (the filter's
// tcf_exts_destroy); an action nobody else holds leaves the table. A
// second Release does nothing.
func (c *Chain) Release() {
	if c == nil || c.t == nil {
		return
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.released {
		return
	}
	c.released = true
	for _, a := range c.actions {
		c.t.put(a, c.bind)
	}
}

// Run executes the chain on one packet as the kernel's tcf_exts_exec and
// tcf_action_exec (net/sched/act_api.c) do and returns the final verdict:
//
//   - an empty (or nil) chain returns OK and touches nothing;
//   - a packet marked SkipClassify has the mark cleared and gets OK;
//   - actions run in order; those flagged SkipSW are skipped;
//   - an action returning Repeat runs again, at most 32 runs, and a 32nd
//     Repeat ends the chain with OK;
//   - "jump N" restarts from the first action and skips N of them (so
//     execution resumes at index N counted from the first action); N of 0
//     or beyond the chain, or a 32nd jump, ends the chain with OK;
//   - "goto chain" records the action's configured target chain in res,
//     or ends with Shot when the action has none;
//   - any verdict but Pipe ends the chain; a final Pipe is returned as is.
//
// Run takes no lock and allocates nothing.
func (c *Chain) Run(pkt *packet.Packet, res *Result) Verdict {
	if c == nil || len(c.actions) == 0 {
		// tcf_exts_exec: no actions, OK, and the skip mark is kept.
		return OK
	}
	if pkt.SkipClassify {
		pkt.SkipClassify = false
		return OK
	}
	acts := c.actions
	n := uint32(len(acts))
	var jmp uint32
	jmpTTL := uapi.TC_ACT_JUMP_TTL
	ret := OK
	for restart := true; restart; {
		restart = false
		for i := range acts {
			a := acts[i]
			if jmp > 0 {
				jmp--
				continue
			}
			g := a.Gen()
			if g.flags&SkipSW != 0 {
				continue
			}
			ret = a.Act(pkt, res)
			for ttl := uapi.TC_ACT_REPEAT_TTL - 1; ret == Repeat; ttl-- {
				if ttl == 0 {
					return OK
				}
				ret = a.Act(pkt, res)
			}
			if ret.IsJump() {
				jmp = uint32(ret) & uapi.TC_ACT_MAX_PRIO_MASK
				if jmp == 0 || jmp > n {
					return OK
				}
				jmpTTL--
				if jmpTTL <= 0 {
					return OK
				}
				restart = true
				break
			} else if ret.IsGotoChain() {
				if !g.hasGoto.Load() {
					return Shot
				}
				res.Goto = true
				res.GotoChain = g.gotoChain.Load()
			}
			if ret != Pipe {
				return ret
			}
		}
	}
	return ret
}

// kindOps is what a kind contributes: its tc_action_ops id and init.
type kindOps struct {
	id   int
	init func(x *txn, opts []byte, hasOpts bool, f *initArgs) (Action, error)
	// offload says the kind has offload_act_setup (all but bpf).
	offload bool
}

// kinds is the registry of supported kinds (act_base).
var kinds = map[string]*kindOps{}

// Kinds returns the supported action kinds.
func Kinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	return out
}

// initArgs carries the flags tcf_action_init_1 hands a kind's init.
type initArgs struct {
	bind    bool // TCA_ACT_FLAGS_BIND: created for a filter
	replace bool // TCA_ACT_FLAGS_REPLACE: standalone replace
	police  bool // legacy TCA_BPF_POLICE
	user    Flags
	filter  *FilterContext // nil outside a filter (no tcf_proto)
	t       *Table
}

// checkCtrl is tcf_action_check_ctrlact: the verdict must be valid, and a
// goto chain needs a filter context.
func (f *initArgs) checkCtrl(v Verdict) error {
	if err := v.Validate(); err != nil {
		return &Error{Errno: syscall.EINVAL, Msg: "invalid control action"}
	}
	if v.IsGotoChain() && f.filter == nil {
		return &Error{Errno: syscall.EINVAL, Msg: "can't goto NULL proto/chain"}
	}
	return nil
}

// newCommon fills the common part of a created action (tcf_idr_create).
func (f *initArgs) newCommon(c *Common, kind string, index uint32) {
	c.init(kind, index, f.user, f.t.cfg.Clock)
	c.refcnt = 1
	if f.bind {
		c.bindcnt = 1
	}
}

var actionPolicy = []pol{
	uapi.TCA_ACT_KIND:     {Policy: nlattr.Policy{Type: nlattr.String}},
	uapi.TCA_ACT_INDEX:    polU32,
	uapi.TCA_ACT_COOKIE:   {Policy: nlattr.Policy{Type: nlattr.Binary, Len: uapi.TC_COOKIE_MAX_SIZE}},
	uapi.TCA_ACT_OPTIONS:  polNested,
	uapi.TCA_ACT_FLAGS:    {bitfield: uapi.TCA_ACT_FLAGS_NO_PERCPU_STATS | uapi.TCA_ACT_FLAGS_SKIP_HW | uapi.TCA_ACT_FLAGS_SKIP_SW},
	uapi.TCA_ACT_HW_STATS: {bitfield: uapi.TCA_ACT_HW_STATS_ANY},
}

// loadOps is tc_action_load_ops: the kind of one action nest.
func loadOps(nest []byte) (string, *kindOps, error) {
	tb, err := parse(nest, uapi.TCA_ACT_MAX, actionPolicy)
	if err != nil {
		return "", nil, err
	}
	if !tb.has(uapi.TCA_ACT_KIND) {
		return "", nil, errno(syscall.EINVAL, "TC action kind must be specified")
	}
	kind := tb.data(uapi.TCA_ACT_KIND)
	if n := len(kind); n > 0 && kind[n-1] == 0 {
		kind = kind[:n-1]
	}
	if len(kind) >= uapi.IFNAMSIZ {
		return "", nil, errno(syscall.EINVAL, "TC action name too long")
	}
	if i := bytes.IndexByte(kind, 0); i >= 0 {
		kind = kind[:i]
	}
	ops, ok := kinds[string(kind)]
	if !ok {
		return string(kind), nil, &Error{Kind: string(kind), Errno: syscall.ENOENT, Msg: "Failed to load TC action module"}
	}
	return string(kind), ops, nil
}

// init1 is tcf_action_init_1 for one (non-police) action nest.
func (x *txn) init1(nest []byte, ops *kindOps, f initArgs) (Action, error) {
	tb, err := parse(nest, uapi.TCA_ACT_MAX, actionPolicy)
	if err != nil {
		return nil, err
	}
	var cookie []byte
	if tb.has(uapi.TCA_ACT_COOKIE) {
		cookie = append([]byte{}, tb.data(uapi.TCA_ACT_COOKIE)...)
	}
	hwStats := uint8(uapi.TCA_ACT_HW_STATS_ANY)
	if tb.has(uapi.TCA_ACT_HW_STATS) {
		hwStats = uint8(tb.u32(uapi.TCA_ACT_HW_STATS))
	}
	if tb.has(uapi.TCA_ACT_FLAGS) {
		f.user = Flags(tb.u32(uapi.TCA_ACT_FLAGS))
		if f.user&SkipSW != 0 && f.user&SkipHW != 0 {
			return nil, errno(syscall.EINVAL, "")
		}
	}
	var opts []byte
	has := tb.has(uapi.TCA_ACT_OPTIONS)
	if has {
		opts = tb.data(uapi.TCA_ACT_OPTIONS)
	}
	a, err := ops.init(x, opts, has, &f)
	if err != nil {
		return nil, err
	}
	c := a.Gen()
	hasCookie := tb.has(uapi.TCA_ACT_COOKIE)
	x.commits = append(x.commits, func() {
		if hasCookie {
			c.cookie.Store(&cookie)
		}
		c.hwStats = hwStats
	})
	return a, nil
}

// initList is tcf_action_init: parse the numbered action nests of an
// action list (the payload of TCA_BPF_ACT or TCA_ACT_TAB) and create or
// bind each action.
func (x *txn) initList(list []byte, base initArgs) ([]Action, error) {
	tb, _ := parse(list, MaxActions+1, nil)
	if tb.has(MaxActions + 1) {
		return nil, &Error{Errno: syscall.EINVAL, Msg: fmt.Sprintf("Only %d actions supported per filter", MaxActions)}
	}
	type item struct {
		nest []byte
		kind string
		ops  *kindOps
	}
	var items []item
	for i := 1; i <= MaxActions && tb.has(i); i++ {
		kind, ops, err := loadOps(tb.data(i))
		if err != nil {
			e := wrapErr(err)
			e.Order, e.Kind = i, kind
			return nil, e
		}
		items = append(items, item{tb.data(i), kind, ops})
	}
	out := make([]Action, 0, len(items))
	for i, it := range items {
		a, err := x.init1(it.nest, it.ops, base)
		if err == nil {
			err = x.checkFlags(a, base)
		}
		if err != nil {
			e := wrapErr(err)
			e.Order, e.Kind = i+1, it.kind
			return nil, e
		}
		out = append(out, a)
	}
	return out, nil
}

// checkFlags applies the offload-flag rules tcf_action_init applies after
// each action. cls_bpf hands no filter flags, so in a filter any skip flag
// on the action is a mismatch. A standalone action that skips software
// must be in hardware, and there is none here.
func (x *txn) checkFlags(a Action, f initArgs) error {
	fl := a.Gen().flags
	if f.bind {
		if fl&(SkipSW|SkipHW) != 0 {
			return errno(syscall.EINVAL, "Mismatch between action and filter offload flags")
		}
		return nil
	}
	if fl&SkipSW != 0 && fl&SkipHW == 0 {
		if !offloadable(a) {
			return errno(syscall.EOPNOTSUPP, "")
		}
		return errno(syscall.EINVAL, "")
	}
	return nil
}

// offloadable is what flow_action_init and the kinds' offload_act_setup
// accept: an action a driver could be asked to run. A standalone action
// that skips software but is not offloadable fails with EOPNOTSUPP instead
// of EINVAL.
func offloadable(a Action) bool {
	v := a.Gen().Verdict()
	switch x := a.(type) {
	case *gactAction:
		return v == OK || v == Shot || v == Trap || v.IsGotoChain()
	case *mirredAction, *csumAction:
		return true
	case *vlanAction:
		act := x.p.Load().action
		return act == VlanPush || act == VlanPop || act == VlanModify
	case *skbeditAction:
		f := x.p.Load().flags
		return f == uapi.SKBEDIT_F_MARK || f == uapi.SKBEDIT_F_PTYPE || f == uapi.SKBEDIT_F_PRIORITY
	case *policeAction:
		ok := func(v Verdict) bool {
			return v == OK || v == Shot || v == Pipe || v == Unspec || v.IsGotoChain() || v.IsJump()
		}
		return ok(v) && ok(x.p.Load().result)
	}
	return false
}

// ParseChain builds a filter's action chain from the payload of a
// TCA_BPF_ACT attribute (numbered action nests 1..32, the first missing
// number ending the list), binding to existing actions by index and
// creating the others, exactly as tcf_exts_validate does. On error nothing
// changes in the table.
func (t *Table) ParseChain(list []byte, fc FilterContext) (*Chain, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.begin()
	acts, err := x.initList(list, initArgs{bind: true, filter: &fc, t: t})
	if err != nil {
		x.abort()
		return nil, err
	}
	x.commit()
	return &Chain{t: t, actions: acts, bind: true}, nil
}

// ParsePolice builds the one-action chain of a legacy TCA_BPF_POLICE
// attribute: its payload holds police options directly (TCA_POLICE_*).
func (t *Table) ParsePolice(opts []byte, fc FilterContext) (*Chain, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.begin()
	f := initArgs{bind: true, police: true, filter: &fc, t: t}
	a, err := kinds[kindPolice].init(x, opts, true, &f)
	if err != nil {
		x.abort()
		e := wrapErr(err)
		e.Kind = kindPolice
		return nil, e
	}
	a.Gen().legacy = true
	x.commit()
	return &Chain{t: t, actions: []Action{a}, bind: true, legacy: true}, nil
}

// NewChain builds a filter's action chain from Go specs: it encodes them
// as the TCA_BPF_ACT attribute tc would send and parses that, so a spec is
// validated exactly as its netlink form is.
func (t *Table) NewChain(specs []Spec, fc FilterContext) (*Chain, error) {
	return t.ParseChain(EncodeSpecs(specs), fc)
}

// AddAttrs creates standalone actions from the payload of a TCA_ACT_TAB
// attribute, as `tc actions add` (RTM_NEWACTION) does; replace is
// NLM_F_REPLACE. Without replace an existing index is EEXIST; with it the
// existing action takes the new parameters and keeps its counters.
func (t *Table) AddAttrs(tab []byte, replace bool) ([]Action, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.begin()
	acts, err := x.initList(tab, initArgs{replace: replace, t: t})
	if err != nil {
		x.abort()
		return nil, err
	}
	x.commit()
	// The request's own references go; creations keep theirs.
	for _, h := range x.held {
		t.put(h.a, h.bind)
	}
	return acts, nil
}

// AddMessage is AddAttrs for a whole RTM_NEWACTION message body after its
// struct tcamsg: it finds TCA_ACT_TAB among the root attributes.
func (t *Table) AddMessage(body []byte, replace bool) ([]Action, error) {
	tb, _ := parse(body, uapi.TCA_ROOT_EXT_WARN_MSG, nil)
	if !tb.has(uapi.TCA_ACT_TAB) {
		return nil, &Error{Errno: syscall.EINVAL, Msg: "Netlink action attributes missing"}
	}
	return t.AddAttrs(tb.data(uapi.TCA_ACT_TAB), replace)
}

// Add creates standalone actions from Go specs (AddAttrs of their
// encoding).
func (t *Table) Add(specs []Spec, replace bool) ([]Action, error) {
	return t.AddAttrs(EncodeSpecs(specs), replace)
}

// GotoChains returns the chain indexes the chain's actions may continue
// classification in ("goto chain N" verdicts, configured or as a gact
// fallback), in action order, for the block that must hold those chains
// (the kernel's tcf_chain_get_by_act).
func (c *Chain) GotoChains() []uint32 {
	if c == nil {
		return nil
	}
	var out []uint32
	for _, a := range c.actions {
		if g := a.Gen(); g.hasGoto.Load() {
			out = append(out, g.gotoChain.Load())
		}
	}
	return out
}
