package classifier

import (
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Generic classifier flags (TCA_CLS_FLAGS_*) as carried in a filter's
// Flags. SkipHW and SkipSW are requested; InHW and NotInHW report where the
// filter ended up.
const (
	// SkipHW is TCA_CLS_FLAGS_SKIP_HW: never offload.
	SkipHW uint32 = uapi.TCA_CLS_FLAGS_SKIP_HW
	// SkipSW is TCA_CLS_FLAGS_SKIP_SW: run in hardware only.
	SkipSW uint32 = uapi.TCA_CLS_FLAGS_SKIP_SW
	// InHW is TCA_CLS_FLAGS_IN_HW: at least one driver took the filter.
	InHW uint32 = uapi.TCA_CLS_FLAGS_IN_HW
	// NotInHW is TCA_CLS_FLAGS_NOT_IN_HW: no driver took it.
	NotInHW uint32 = uapi.TCA_CLS_FLAGS_NOT_IN_HW
	// Verbose is TCA_CLS_FLAGS_VERBOSE; cls_bpf refuses it.
	Verbose uint32 = uapi.TCA_CLS_FLAGS_VERBOSE

	// supportedGenFlags is CLS_BPF_SUPPORTED_GEN_FLAGS.
	supportedGenFlags = SkipHW | SkipSW
)

// Filter is one installed cls_bpf filter (the kernel's struct
// cls_bpf_prog). It never changes once installed: a replace installs a new
// Filter in its place, so a *Filter obtained from Get or Walk stays a
// consistent view. Safe for concurrent use.
type Filter struct {
	handle   uint32
	prog     Program
	classic  ClassicProgram  // non-nil for classic programs
	ebpf     ExtendedProgram // non-nil for eBPF programs
	classID  handle.Handle
	class    uint64
	direct   bool
	genFlags uint32
	inHW     int
	name     string
	hasName  bool
	actions  ActionChain
}

// Handle is the filter's handle (an opaque u32, not major:minor).
func (f *Filter) Handle() uint32 { return f.handle }

// Program is the program the filter runs.
func (f *Filter) Program() Program { return f.prog }

// Classic reports whether the program is classic BPF (TCA_BPF_OPS) rather
// than eBPF (TCA_BPF_FD).
func (f *Filter) Classic() bool { return f.classic != nil }

// ClassID is the filter's configured classid (TCA_BPF_CLASSID), 0 when
// none was given.
func (f *Filter) ClassID() handle.Handle { return f.classID }

// Class is the cookie of the class the classid is bound to, 0 when
// unbound.
func (f *Filter) Class() uint64 { return f.class }

// DirectAction reports direct-action mode (TCA_BPF_FLAG_ACT_DIRECT): the
// program's return value is the verdict.
func (f *Filter) DirectAction() bool { return f.direct }

// Flags are the generic classifier flags as a dump reports them
// (TCA_BPF_FLAGS_GEN): the requested SkipHW/SkipSW plus InHW or NotInHW.
func (f *Filter) Flags() uint32 { return f.genFlags }

// InHWCount is the number of drivers that hold the filter in hardware.
func (f *Filter) InHWCount() int { return f.inHW }

// Name is the eBPF program name given with TCA_BPF_NAME; ok is false when
// none was kept (always for classic filters).
func (f *Filter) Name() (name string, ok bool) { return f.name, f.hasName }

// Actions is the filter's action chain, nil when it has none.
func (f *Filter) Actions() ActionChain { return f.actions }

// FilterSpec describes a filter to add or replace through Change: the Go
// form of a TCA_OPTIONS nest.
type FilterSpec struct {
	// Handle selects the filter: 0 lets the chain allocate the lowest free
	// handle in 1..0x7FFFFFFF; any other value names it (and may exceed
	// that range).
	Handle uint32
	// Program is the program to run: a ClassicProgram (TCA_BPF_OPS) or an
	// ExtendedProgram (TCA_BPF_FD). Exactly one is required.
	Program Program
	// ClassID is TCA_BPF_CLASSID, 0 for none.
	ClassID handle.Handle
	// DirectAction is TCA_BPF_FLAG_ACT_DIRECT.
	DirectAction bool
	// Flags is TCA_BPF_FLAGS_GEN: SkipHW or SkipSW, not both.
	Flags uint32
	// Name is TCA_BPF_NAME; it is kept for eBPF programs only, as the
	// kernel does. Empty means none.
	Name string
	// Actions is the filter's action chain, nil for none.
	Actions ActionChain
}

// ChangeFlags select how Change treats an existing filter, as the netlink
// flags of RTM_NEWTFILTER do in cls_api's tc_new_tfilter.
type ChangeFlags uint16

// Change flags. tc "add" is Create|Excl, "replace" is Create, "change" is
// none.
const (
	// Create allows a filter that does not exist yet to be made
	// (NLM_F_CREATE). Without it a missing handle is ENOENT.
	Create ChangeFlags = uapi.NLM_F_CREATE
	// Excl refuses to touch an existing filter (NLM_F_EXCL): EEXIST.
	Excl ChangeFlags = uapi.NLM_F_EXCL
)
