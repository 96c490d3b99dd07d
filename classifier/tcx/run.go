package tcx

import (
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Verdict is a tcx program's return value as the datapath reads it
// (enum tcx_action_base, include/uapi/linux/bpf.h).
type Verdict int32

// The tcx verdicts.
const (
	// Next runs the next program, or falls through to the clsact chain
	// after the last (TCX_NEXT).
	Next Verdict = -1
	// Pass lets the packet go on; tc_index takes tc_classid (TCX_PASS).
	Pass Verdict = 0
	// Drop drops the packet (TCX_DROP).
	Drop Verdict = 2
	// Redirect performs the redirect the program recorded (TCX_REDIRECT).
	Redirect Verdict = 7
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Next:
		return "TCX_NEXT"
	case Pass:
		return "TCX_PASS"
	case Drop:
		return "TCX_DROP"
	case Redirect:
		return "TCX_REDIRECT"
	}
	return "TCX_UNKNOWN"
}

// Run runs the list on pkt as tcx_run does: each program in order until
// one returns something other than TCX_NEXT; that value, read by
// tcx_action_code, is the verdict: Pass (which copies tc_classid into
// tc_index), Drop and Redirect stand, anything else is Next. An empty
// list is Next. Run takes no lock and does not allocate.
func (l *List) Run(pkt *packet.Packet) Verdict {
	ret := int32(Next)
	for _, e := range l.snapshot() {
		ret = int32(e.prog.Run(pkt))
		if ret != int32(Next) {
			break
		}
	}
	switch Verdict(ret) {
	case Pass:
		pkt.TCIndex = pkt.TCClassID
		return Pass
	case Drop, Redirect:
		return Verdict(ret)
	}
	return Next
}

// Classifier is the clsact filter chain that runs after tcx on the same
// hook: *classifier.Block and *classifier.Chain satisfy it.
type Classifier interface {
	Classify(pkt *packet.Packet) classifier.Result
}

// Hook is one direction of a device's tc hook as sch_handle_ingress and
// sch_handle_egress (net/core/dev.c) run it: the tcx list first, then,
// when it ends in TCX_NEXT, the clsact chain.
type Hook struct {
	// TCX is the tcx attach list.
	TCX List
	// Chain is the clsact chain; nil when no clsact qdisc is installed.
	Chain Classifier
}

// HookResult is the outcome of Hook.Run.
type HookResult struct {
	// TCX is the tcx verdict; the chain ran only when it is Next.
	TCX Verdict
	// ChainRan says the chain ran, and Chain holds its result.
	ChainRan bool
	// Chain is the clsact chain's result.
	Chain classifier.Result
}

// Run runs the hook on pkt.
func (h *Hook) Run(pkt *packet.Packet) HookResult {
	v := h.TCX.Run(pkt)
	if v != Next || h.Chain == nil {
		return HookResult{TCX: v}
	}
	return HookResult{TCX: v, ChainRan: true, Chain: h.Chain.Classify(pkt)}
}
