package classifier

import (
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"golang.org/x/net/bpf"
)

// Program is what a filter runs on a packet: a classic program
// (*cbpf.Program) or an eBPF SCHED_CLS program. Run returns the program's
// 32-bit return value, which the chain reads as a signed int as
// cls_bpf_classify does (0xFFFFFFFF is -1). Run must be safe for
// concurrent use on distinct packets and must not allocate if Classify is
// to stay allocation-free.
type Program interface {
	Run(pkt *packet.Packet) uint32
}

// ClassicProgram is a classic BPF program. Its instructions are what a
// dump reports as TCA_BPF_OPS_LEN and TCA_BPF_OPS.
type ClassicProgram interface {
	Program
	Instructions() []bpf.RawInstruction
}

// ExtendedProgram is an eBPF program of type SCHED_CLS, referenced by a
// TCA_BPF_FD. A dump reports its ID (TCA_BPF_ID) and Tag (TCA_BPF_TAG).
type ExtendedProgram interface {
	Program
	ID() uint32
	Tag() [8]byte
}

// ProgramTable resolves the program file descriptors of TCA_BPF_FD, as
// bpf_prog_get_type_dev does for cls_bpf: the caller owns the table and
// decides what a descriptor means. skipSW is the filter's SKIP_SW flag
// (device-bound programs are only accepted with it). An error should wrap
// syscall.EBADF for an unknown descriptor and syscall.EINVAL for one that
// is not a SCHED_CLS program; an error wrapping no errno counts as EINVAL.
type ProgramTable interface {
	Program(fd uint32, skipSW bool) (ExtendedProgram, error)
}

// ActionChain is the list of tc actions attached to a filter (the
// kernel's tcf_exts). Classify runs it in classic mode when the program
// matched, as tcf_exts_exec does, and reads a negative verdict as "try the
// next filter"; in direct-action mode it is never run.
//
// Exec gets the result so far (its Verdict is OK) and returns it with the
// action list's verdict set and any other field (the class) changed as the
// actions decide; it must be safe for concurrent use. Taking and returning
// the result by value keeps Classify free of allocations. Exec stands for
// tcf_action_exec, which also owns the packet's SkipClassify bit (it
// clears the bit and returns OK without running any action); the chain
// never looks at that bit, as cls_bpf_classify does not.
//
// An ActionChain may also implement Release() (called once when its filter
// leaves the chain or a change that built it fails; a reader holding an
// older snapshot may still call Exec afterwards) and AppendAttrs(b []byte)
// ([]byte, error) (appends the TCA_BPF_ACT or TCA_BPF_POLICE attribute of a
// dump), and OffloadActioner, HWStatsUpdater and GotoChainer (describe the
// actions to drivers, take hardware counters, name the chains a Block must
// hold for their "goto chain" verdicts). Actions, the adapter of package
// action, implements all of them.
type ActionChain interface {
	Exec(pkt *packet.Packet, res Result) Result
}

// ActionRequest carries the action attributes of one netlink change to an
// ActionParser.
type ActionRequest struct {
	// Act is the TCA_BPF_ACT payload, nil when absent.
	Act []byte
	// Police is the TCA_BPF_POLICE payload, nil when absent; when present it
	// wins over Act, as tcf_exts_validate decides.
	Police []byte
	// Rate is the TCA_RATE payload of the request, nil when absent.
	Rate []byte
	// Replace is set when the request lacks NLM_F_CREATE
	// (TCA_ACT_FLAGS_REPLACE).
	Replace bool
	// Ingress is set when the filter's parent is an ingress qdisc
	// (TCA_ACT_FLAGS_AT_INGRESS).
	Ingress bool
}

// ActionParser builds action chains from TCA_BPF_ACT and TCA_BPF_POLICE
// (tcf_exts_validate). A Chain without one refuses those attributes with
// EOPNOTSUPP, as a kernel built without CONFIG_NET_CLS_ACT does.
type ActionParser interface {
	ParseActions(req ActionRequest) (ActionChain, error)
}

// ClassBinder binds filters to the classes of the qdisc that owns the
// chain (tcf_bind_filter / tcf_unbind_filter). BindClass returns the class
// cookie for a classid, 0 when the qdisc has no such class; the cookie is
// what Result.Class carries for a classic filter's own classid.
type ClassBinder interface {
	BindClass(classID handle.Handle) (cookie uint64)
	UnbindClass(classID handle.Handle, cookie uint64)
}
