package offload

import (
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Generic classifier flags (TCA_CLS_FLAGS_*) as a Request carries them.
const (
	// SkipHW is TCA_CLS_FLAGS_SKIP_HW: the filter never goes to hardware.
	SkipHW uint32 = uapi.TCA_CLS_FLAGS_SKIP_HW
	// SkipSW is TCA_CLS_FLAGS_SKIP_SW: the filter runs in hardware only.
	SkipSW uint32 = uapi.TCA_CLS_FLAGS_SKIP_SW
	// InHW is TCA_CLS_FLAGS_IN_HW: at least one driver holds the filter.
	InHW uint32 = uapi.TCA_CLS_FLAGS_IN_HW
	// NotInHW is TCA_CLS_FLAGS_NOT_IN_HW: no driver holds it.
	NotInHW uint32 = uapi.TCA_CLS_FLAGS_NOT_IN_HW
)

// Command is what a Request asks a driver to do (enum tc_clsbpf_command
// with the prog/oldprog pair that selects add, replace or destroy).
type Command uint8

// Commands.
const (
	// Add installs Prog (TC_CLSBPF_OFFLOAD with prog set, oldprog nil).
	Add Command = iota + 1
	// Replace swaps OldProg for Prog (TC_CLSBPF_OFFLOAD with both set).
	Replace
	// Destroy removes OldProg (TC_CLSBPF_OFFLOAD with prog nil).
	Destroy
	// Stats asks for the counters of Prog since the last Stats request
	// (TC_CLSBPF_STATS); the driver adds them to Request.Stats.
	Stats
)

var commandNames = [...]string{Add: "add", Replace: "replace", Destroy: "destroy", Stats: "stats"}

// String returns the command's lower-case name.
func (c Command) String() string {
	if int(c) < len(commandNames) && commandNames[c] != "" {
		return commandNames[c]
	}
	return "command(" + itoa(uint64(c)) + ")"
}

// Kind says which BPF flavour a Program is.
type Kind uint8

// Program kinds.
const (
	// Classic is a classic BPF program (TCA_BPF_OPS).
	Classic Kind = iota + 1
	// Extended is an eBPF SCHED_CLS program (TCA_BPF_FD).
	Extended
)

// Program is a filter's program in an engine-neutral form: what a driver
// compiles for its hardware. Exactly one of Classic and Insns describes the
// code, as Kind says; Insns may be nil for an eBPF program whose code the
// embedding program does not expose, and such a program cannot pass a
// Capabilities check that limits instruction classes or size.
type Program struct {
	Kind Kind
	// Classic holds a classic program's instructions.
	Classic []bpf.RawInstruction
	// Insns holds an eBPF program's instructions as struct bpf_insn, eight
	// bytes each in host (little-endian) order.
	Insns []byte
	// Helpers lists the helper function ids the eBPF program calls; when
	// nil they are read from the BPF_CALL instructions of Insns.
	Helpers []int32
	// Maps are the maps the program uses. An offloaded program's maps
	// belong to the driver, which hosts them on the device; the embedding
	// program reads and writes them through the driver (MapOffloader).
	Maps []Map
	// Name is the filter's TCA_BPF_NAME (eBPF only), "" for none.
	Name string
	// ID and Tag are the eBPF program's id and tag.
	ID  uint32
	Tag [8]byte
	// Device is the ifindex of the device the program was loaded for (a
	// device-bound program, BPF_PROG_LOAD with prog_ifindex), 0 when it is
	// not bound. A bound program goes to that device only.
	Device uint32
	// Runner is the program's software form, for drivers that run
	// offloaded programs themselves (package soft); nil when unavailable.
	// Classic programs need none: they are loaded from Classic.
	Runner Runner
}

// Runner runs a program on a packet and returns its 32-bit result. It must
// be safe for concurrent use and should not allocate.
type Runner interface {
	Run(pkt *packet.Packet) uint32
}

// Action is the engine-neutral description of one tc action of a filter,
// as a driver translates it (struct flow_action_entry's essentials).
type Action struct {
	// Kind is the action kind ("gact", "mirred", ...).
	Kind string
	// Index is the action's index in its kind's table.
	Index uint32
	// Verdict is the action's configured control verdict (TC_ACT_*).
	Verdict int32
}

// FilterID names one filter of a block: the chain, the priority and
// protocol of its classifier (tcf_proto), and its handle.
type FilterID struct {
	// Block is the block index (0 for a qdisc's own block).
	Block uint32
	// Chain is the chain index.
	Chain uint32
	// Prio is the user priority (tcf_proto prio >> 16).
	Prio uint16
	// Protocol is the EtherType the classifier matches, host order
	// (0x0003 for ETH_P_ALL).
	Protocol uint16
	// Handle is the filter's handle.
	Handle uint32
}

// Request is one command for a driver (struct tc_cls_bpf_offload with its
// tc_cls_common_offload).
type Request struct {
	Command Command
	// Filter names the filter the command is about.
	Filter FilterID
	// Prog is the program to install (Add, Replace) or whose counters to
	// report (Stats); nil for Destroy.
	Prog *Program
	// OldProg is the program to remove (Replace, Destroy); nil for Add and
	// Stats.
	OldProg *Program
	// ClassID is the filter's TCA_BPF_CLASSID, 0 for none.
	ClassID uint32
	// DirectAction is TCA_BPF_FLAG_ACT_DIRECT (exts_integrated).
	DirectAction bool
	// Actions are the filter's actions in execution order.
	Actions []Action
	// Flags are the generic flags of the filter the command is about.
	Flags uint32
	// SkipSW is set when the request is for a SKIP_SW filter: any driver
	// error aborts the change, and drivers may explain a refusal by
	// setting Extack (the kernel hands the extack only then).
	SkipSW bool
	// Extack is where a driver may leave a message for the user.
	Extack string
	// Stats is where drivers add their counters for a Stats request.
	Stats Counters
}

// Counters are the statistics a driver reports for a filter
// (tcf_exts_hw_stats_update's arguments). Packets, bytes and drops add up
// over drivers; LastUse is the latest use in nanoseconds of any clock the
// embedding program chooses, 0 when unused.
type Counters struct {
	Bytes   uint64
	Packets uint64
	Drops   uint64
	LastUse int64
}

// Add adds o to c: sums, and the later LastUse.
func (c *Counters) Add(o Counters) {
	c.Bytes += o.Bytes
	c.Packets += o.Packets
	c.Drops += o.Drops
	c.LastUse = max(c.LastUse, o.LastUse)
}

// Offloader is what a hardware driver implements: the TC_SETUP_CLSBPF
// callback the device registers when it binds a block. Setup returns nil
// when the driver took the command. The Request is only valid during the
// call. Setup is called with the block's writer lock held and never
// concurrently for one device.
type Offloader interface {
	// Capabilities declares what the device can run; a Program outside
	// them is refused before Setup is called.
	Capabilities() Capabilities
	// Setup carries out one command.
	Setup(req *Request) error
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
