package classifier

import (
	"sync"
	"sync/atomic"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
	"github.com/clsbpf/clsbpf/offload"
)

// NewActionParser returns the ActionParser that builds filters' actions
// in table t with package action (tcf_exts_validate): TCA_BPF_POLICE makes
// a legacy police action, and wins over TCA_BPF_ACT, whose numbered action
// nests create actions or bind to existing ones by index. The request's
// Ingress and TCA_RATE become the actions' filter context.
func NewActionParser(t *action.Table) ActionParser { return actionParser{t} }

type actionParser struct{ t *action.Table }

func (p actionParser) ParseActions(req ActionRequest) (ActionChain, error) {
	fc := action.FilterContext{Ingress: req.Ingress, RateEstimator: req.Rate != nil}
	if req.Police != nil {
		c, err := p.t.ParsePolice(req.Police, fc)
		if err != nil {
			return nil, err
		}
		return &Actions{c: c, police: true}, nil
	}
	c, err := p.t.ParseChain(req.Act, fc)
	if err != nil {
		return nil, err
	}
	return &Actions{c: c}, nil
}

// Actions is a filter's action chain from package action, as Classify
// runs it (tcf_exts_exec), a dump writes it (TCA_BPF_ACT) and offload
// drivers see it. Make one with NewActions for FilterSpec.Actions; the
// netlink form gets one from NewActionParser.
type Actions struct {
	c      *action.Chain
	police bool

	hwBytes, hwPackets, hwDrops atomic.Uint64
	hwLastUse                   atomic.Int64
}

// NewActions wraps an action chain built with action.Table.NewChain or
// ParseChain for a FilterSpec. The filter owns it from then on and
// releases it when it goes.
func NewActions(c *action.Chain) *Actions { return &Actions{c: c} }

// Chain is the wrapped action chain.
func (a *Actions) Chain() *action.Chain { return a.c }

// Exec runs the actions with the filter's result as tcf_action_exec does:
// the verdict is the chain's, and the class is what the actions leave. A
// "goto chain N" verdict reaches Block.Classify, which continues in chain
// N. Exec allocates nothing.
func (a *Actions) Exec(pkt *packet.Packet, res Result) Result {
	// action.Chain.Run takes the result by pointer and hands it to each
	// action through an interface, so a local would escape to the heap:
	// results are recycled instead.
	ar := actionResults.Get().(*action.Result)
	*ar = action.Result{ClassID: uint32(res.ClassID), Hardware: res.Hardware}
	res.Verdict = a.c.Run(pkt, ar)
	res.ClassID = handle.Handle(ar.ClassID)
	actionResults.Put(ar)
	return res
}

var actionResults = sync.Pool{New: func() any { return new(action.Result) }}

// Release gives the actions back to their table (tcf_exts_destroy).
func (a *Actions) Release() { a.c.Release() }

// AppendAttrs appends the TCA_BPF_ACT attribute (TCA_BPF_POLICE for a
// legacy police action) as tcf_exts_dump writes it, with no NLA_F_NESTED.
func (a *Actions) AppendAttrs(b []byte) ([]byte, error) {
	if a.c.Len() == 0 {
		return b, nil
	}
	typ := uint16(uapi.TCA_BPF_ACT)
	if a.police {
		typ = uapi.TCA_BPF_POLICE
	}
	return nlattr.Append(b, typ, a.c.Dump()), nil
}

// OffloadActions describes the actions to offload drivers.
func (a *Actions) OffloadActions() []offload.Action {
	acts := a.c.Actions()
	out := make([]offload.Action, len(acts))
	for i, x := range acts {
		out[i] = offload.Action{Kind: x.Kind(), Index: x.Index(), Verdict: int32(x.Gen().Verdict())}
	}
	return out
}

// GotoChains lists the chains the actions' "goto chain" verdicts name, for
// the block that holds those chains.
func (a *Actions) GotoChains() []uint32 { return a.c.GotoChains() }

// hwStatsChain is the method an action chain offers to take hardware
// counters into every action's statistics.
type hwStatsChain interface {
	UpdateHWStats(bytes, packets, drops uint64, lastUse int64)
}

// UpdateHWStats merges the counters hardware reported for the filter into
// the actions' statistics when the action chain takes them, and keeps
// their running totals (HWCounters) in any case.
func (a *Actions) UpdateHWStats(c offload.Counters) {
	a.hwBytes.Add(c.Bytes)
	a.hwPackets.Add(c.Packets)
	a.hwDrops.Add(c.Drops)
	for {
		cur := a.hwLastUse.Load()
		if c.LastUse <= cur || a.hwLastUse.CompareAndSwap(cur, c.LastUse) {
			break
		}
	}
	if u, ok := any(a.c).(hwStatsChain); ok {
		u.UpdateHWStats(c.Bytes, c.Packets, c.Drops, c.LastUse)
	}
}

// HWCounters are the totals hardware has reported for the filter.
func (a *Actions) HWCounters() offload.Counters {
	return offload.Counters{Bytes: a.hwBytes.Load(), Packets: a.hwPackets.Load(), Drops: a.hwDrops.Load(), LastUse: a.hwLastUse.Load()}
}
