package classifier

import (
	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/handle"
)

// Result is what Classify returns: the verdict and the kernel's struct
// tcf_result as cls_bpf_classify leaves it.
//
// A non-negative Verdict is a decision (OK, Shot, Stolen, Trap, Redirect,
// or what an action chain returned); a negative one (Unspec) means no filter
// decided and the caller goes on with its next classifier. ClassID and
// Class are set by every filter that got as far as producing a class, even
// one whose verdict then let classification continue, exactly as the
// kernel's res is; callers look at them only for a decision.
type Result struct {
	// Verdict is the kernel's return value of cls_bpf_classify.
	Verdict action.Verdict
	// ClassID is res.classid: the class a qdisc (HTB, PRIO, ...) puts the
	// packet in, or whose minor becomes tc_index at a clsact hook.
	ClassID handle.Handle
	// Class is res.class: the cookie of the class the filter is bound to
	// (see ClassBinder), 0 when unbound.
	Class uint64
	// Filter is the handle of the last filter that set ClassID, 0 when
	// none did.
	Filter uint32
	// Hardware is set when that filter was an offloaded skip_sw filter
	// that the device the packet arrived on ran (offload.HardwareRunner):
	// its actions then ran on the device's behalf, and their counters are
	// left to the driver's statistics, as in the kernel, where such a
	// filter never runs in software.
	Hardware bool
}

// Decided reports whether a filter made a decision (Verdict >= 0).
func (r Result) Decided() bool { return r.Verdict >= 0 }
