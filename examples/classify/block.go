package main

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// block is one tc filter chain (chain 0 of a qdisc or clsact hook): a list
// of classifier instances ordered by preference, each one cls_bpf instance
// (a classifier.Chain) for one preference and protocol, as cls_api's
// tcf_chain holds its tcf_protos.
type block struct {
	tps     []*proto // ascending preference
	actions *action.Table
	egress  bool // the hook: actions such as skbedit care
}

// proto is one tcf_proto: a preference, a protocol and its filters.
type proto struct {
	pref     uint16
	protocol uint16
	chain    *classifier.Chain
	filters  []*installed // in the order they were added
}

// installed is a filter as added: its spec, its place and its counters.
type installed struct {
	spec    filterSpec
	pref    uint16
	handle  uint32
	actions *action.Chain // nil without actions
	frames  uint64
	bytes   uint64
}

// add installs a filter as `tc filter add` does: a filter without a
// preference gets one below the lowest preference above 32768 in use, or
// 49152 when there is none (tc_new_tfilter and tcf_auto_prio), so among
// such filters the one added last is tried first; a preference already
// in use must come with the same protocol (or protocol 0, which joins it,
// while protocol 0 cannot start a new preference: tcf_chain_tp_find and
// tc_new_tfilter); within one preference the chain puts the newest filter
// first.
func (b *block) add(fs filterSpec) (*installed, error) {
	pref := fs.pref
	if pref == 0 {
		// tc_new_tfilter looks for the place of preference 0x8000 and
		// tcf_auto_prio takes one below the classifier found there, or
		// 0xC000 when there is none; finding 0x8000 itself is EINVAL.
		pref = 0xC000
		for _, tp := range b.tps {
			if tp.pref == 0x8000 {
				return nil, fmt.Errorf("automatic preference: pref 32768 is in use: %w", syscall.EINVAL)
			}
			if tp.pref > 0x8000 {
				pref = tp.pref - 1
				break
			}
		}
	}
	i, found := slices.BinarySearchFunc(b.tps, pref, func(t *proto, p uint16) int { return int(t.pref) - int(p) })
	var tp *proto
	switch {
	case found && fs.protocol == 0:
		// Protocol 0 joins whatever the preference holds.
		tp = b.tps[i]
	case found:
		tp = b.tps[i]
		if tp.protocol != fs.protocol {
			return nil, fmt.Errorf("pref %d already holds protocol %s, not %s: %w",
				pref, protocolName(tp.protocol), protocolName(fs.protocol), syscall.EINVAL)
		}
	case fs.protocol == 0:
		return nil, fmt.Errorf("filter kind and protocol must be specified: protocol 0 starts no new preference: %w", syscall.EINVAL)
	default:
		tp = &proto{pref: pref, protocol: fs.protocol, chain: classifier.New(classifier.Config{})}
	}
	prog, err := cbpf.LoadRaw(fs.raw)
	if err != nil {
		return nil, err
	}
	spec := classifier.FilterSpec{
		Handle:       fs.handle,
		Program:      prog,
		ClassID:      fs.classID,
		DirectAction: fs.direct,
		Flags:        fs.genFlags,
	}
	var chain *action.Chain
	if len(fs.actions) > 0 {
		if b.actions == nil {
			b.actions = newActionTable()
		}
		if chain, err = b.actions.NewChain(fs.actions, action.FilterContext{Ingress: !b.egress}); err != nil {
			return nil, err
		}
		spec.Actions = actionChain{chain}
	}
	f, err := tp.chain.Change(spec, classifier.Create|classifier.Excl)
	if err != nil {
		if chain != nil {
			chain.Release()
		}
		return nil, err
	}
	if !found {
		b.tps = slices.Insert(b.tps, i, tp)
	}
	in := &installed{spec: fs, pref: pref, handle: f.Handle(), actions: chain}
	tp.filters = append(tp.filters, in)
	return in, nil
}

// classify runs the block on pkt as tcf_classify does: each instance in
// preference order whose protocol is "all" or the packet's (the offloaded
// VLAN tag's TPID when one is present, as skb_protocol reads it), until one
// decides. It returns the decision and the filter that made it, or a
// Result with Verdict Unspec and nil when none did.
func (b *block) classify(pkt *packet.Packet) (classifier.Result, *installed) {
	proto := pkt.Protocol
	if pkt.VLANPresent {
		proto = pkt.VLANProto
	}
	for _, tp := range b.tps {
		if tp.protocol != ethPAll && tp.protocol != proto {
			continue
		}
		res := tp.chain.Classify(pkt)
		if !res.Decided() {
			continue
		}
		for _, in := range tp.filters {
			if in.handle == res.Filter {
				return res, in
			}
		}
		return res, nil
	}
	return classifier.Result{Verdict: action.Unspec}, nil
}

// filters lists the installed filters as `tc filter show` does: by
// preference, and within one preference in the chain's order (newest
// first).
func (b *block) filters() []*installed {
	var out []*installed
	for _, tp := range b.tps {
		for _, f := range tp.chain.Filters() {
			for _, in := range tp.filters {
				if in.handle == f.Handle() {
					out = append(out, in)
				}
			}
		}
	}
	return out
}

// buildBlock installs the specs in order; an error names the spec.
func buildBlock(specs []filterSpec, sources []string, egress bool) (*block, error) {
	b := &block{egress: egress}
	for i, fs := range specs {
		if _, err := b.add(fs); err != nil {
			var se *SpecError
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, &SpecError{Source: sources[i], Msg: "refused", Err: err}
		}
	}
	return b, nil
}
