package action

import (
	"sync/atomic"
	"time"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Action is one tc action as a filter runs it: an instance of a kind (gact,
// mirred, police, ...) living in a Table under an index, with its
// configured verdict and its statistics (the kernel's struct tc_action).
//
// Act runs the action on one packet and returns its verdict; it is called
// by Chain.Run, allocates nothing, takes no lock and may be called
// concurrently from several execution slots. The other methods are safe
// for concurrent use too.
type Action interface {
	// Kind is the action kind as tc names it ("gact", "mirred", ...).
	Kind() string
	// Index is the action's index in its kind's table (1 and up).
	Index() uint32
	// Act runs the action on pkt (the ops->act callback).
	Act(pkt *packet.Packet, res *Result) Verdict
	// Stats returns a snapshot of the action's counters.
	Stats() Stats
	// Gen returns the parameters and counters every action shares.
	Gen() *Common
}

// Result is the part of the classification result (struct tcf_result)
// that actions read and write. The filter hands one to Chain.Run and reads
// it afterwards.
type Result struct {
	// ClassID is the class the filter selected (tcf_result.classid).
	ClassID uint32
	// Goto is set when an action ended in "goto chain"; GotoChain is then
	// the chain index of that action's configured target (the kernel sets
	// res->goto_tp to the first filter of that chain).
	Goto      bool
	GotoChain uint32
	// Hardware is set by the caller when the actions run on behalf of a
	// device that ran the filter (an offloaded skip_sw filter): verdicts
	// are as usual, but the counters belong to the driver, which reports
	// them through Chain.UpdateHWStats, so the software counters and use
	// times are left alone, as they are in the kernel, where such a
	// filter never runs in software.
	Hardware bool
}

// Stats is a snapshot of an action's counters (gnet_stats_basic, the
// queue counters and struct tcf_t). Times are Clock readings in
// nanoseconds; FirstUse is 0 until the action first runs.
type Stats struct {
	Bytes      uint64
	Packets    uint64
	Drops      uint64
	Overlimits uint64
	// HWBytes and HWPackets are the part counted by hardware, as drivers
	// report it through Chain.UpdateHWStats (0 without offload).
	HWBytes   uint64
	HWPackets uint64
	Installed int64
	LastUse   int64
	FirstUse  int64
}

// Flags are the user flags of an action (TCA_ACT_FLAGS).
type Flags uint32

// Action flags.
const (
	// NoPercpuStats is TCA_ACT_FLAGS_NO_PERCPU_STATS: the kernel keeps
	// shared instead of per-CPU counters. Counters here are always shared
	// atomics; the flag is kept and dumped.
	NoPercpuStats Flags = uapi.TCA_ACT_FLAGS_NO_PERCPU_STATS
	// SkipHW is TCA_ACT_FLAGS_SKIP_HW: never offload the action.
	SkipHW Flags = uapi.TCA_ACT_FLAGS_SKIP_HW
	// SkipSW is TCA_ACT_FLAGS_SKIP_SW: hardware only; Chain.Run skips it.
	SkipSW Flags = uapi.TCA_ACT_FLAGS_SKIP_SW
)

// Clock gives monotonic time in nanoseconds (the kernel's ktime_get_ns and,
// scaled, jiffies). Tests inject a fake one; 0 is never a valid reading.
type Clock interface {
	Now() int64
}

// SystemClock is the default Clock: monotonic nanoseconds since the
// process started, offset so that no reading is 0.
var SystemClock Clock = systemClock{}

var clockBase = time.Now()

type systemClock struct{}

func (systemClock) Now() int64 { return int64(time.Since(clockBase)) + int64(time.Second) }

// Common holds what every action has (the common part of struct tc_action
// and the tc_gen header): kind, index, configured verdict, cookie, flags,
// reference counts and the statistics. Counters are atomics so that Act
// runs lock-free on any slot.
type Common struct {
	kind    string
	index   uint32
	verdict atomic.Int32 // tcfa_action
	// gotoChain is the chain a GOTO_CHAIN verdict leads to, valid when
	// hasGoto (the kernel's a->goto_chain).
	gotoChain atomic.Uint32
	hasGoto   atomic.Bool
	cookie    atomic.Pointer[[]byte]
	flags     Flags
	hwStats   uint8
	// usedHWValid is used_hw_stats_valid: set once the kernel has asked
	// the (absent) hardware for statistics, which a get of a standalone
	// action does; the used value is then 0.
	usedHWValid bool
	clock       Clock

	// refcnt and bindcnt are changed only under the table lock.
	refcnt  int32
	bindcnt int32
	// legacy marks a police action created from TCA_BPF_POLICE
	// (TCA_OLD_COMPAT).
	legacy bool

	install  int64
	lastuse  atomic.Int64
	firstuse atomic.Int64

	bytes      atomic.Uint64
	packets    atomic.Uint64
	drops      atomic.Uint64
	overlimits atomic.Uint64
	hwBytes    atomic.Uint64
	hwPackets  atomic.Uint64
}

// Gen returns c itself; embedding Common gives every action this method.
func (c *Common) Gen() *Common { return c }

// Kind is the action kind.
func (c *Common) Kind() string { return c.kind }

// Index is the action's index in its kind's table.
func (c *Common) Index() uint32 { return c.index }

// Verdict is the configured control action (tcfa_action).
func (c *Common) Verdict() Verdict { return Verdict(c.verdict.Load()) }

// Cookie is the opaque cookie the user attached (TCA_ACT_COOKIE), nil when
// none.
func (c *Common) Cookie() []byte {
	if p := c.cookie.Load(); p != nil {
		return *p
	}
	return nil
}

// Flags are the action's user flags.
func (c *Common) Flags() Flags { return c.flags }

// RefCount and BindCount are the kernel's tcfa_refcnt and tcfa_bindcnt:
// how many holders the action has and how many of them are filters.
func (c *Common) RefCount() int32 { return c.refcnt }

// BindCount is the number of filters bound to the action.
func (c *Common) BindCount() int32 { return c.bindcnt }

// Stats returns a snapshot of the counters.
func (c *Common) Stats() Stats {
	return Stats{
		Bytes:      c.bytes.Load(),
		Packets:    c.packets.Load(),
		Drops:      c.drops.Load(),
		Overlimits: c.overlimits.Load(),
		HWBytes:    c.hwBytes.Load(),
		HWPackets:  c.hwPackets.Load(),
		Installed:  c.install,
		LastUse:    c.lastuse.Load(),
		FirstUse:   c.firstuse.Load(),
	}
}

// init sets the fields of a freshly created action (tcf_idr_create).
func (c *Common) init(kind string, index uint32, flags Flags, clock Clock) {
	c.kind, c.index, c.flags, c.clock = kind, index, flags, clock
	c.hwStats = uapi.TCA_ACT_HW_STATS_ANY
	now := clock.Now()
	c.install = now
	c.lastuse.Store(now)
}

// setCtrl sets the configured verdict and its goto-chain target
// (tcf_action_set_ctrlact).
func (c *Common) setCtrl(v Verdict) {
	c.verdict.Store(int32(v))
	if v.IsGotoChain() {
		c.gotoChain.Store(v.ExtValue())
		c.hasGoto.Store(true)
	} else {
		c.hasGoto.Store(false)
	}
}

// touch is tcf_lastuse_update. Like every counter update it is left to
// the driver when the actions run on behalf of hardware (res.Hardware).
func (c *Common) touch(res *Result) {
	if res != nil && res.Hardware {
		return
	}
	now := c.clock.Now()
	c.lastuse.Store(now)
	if c.firstuse.Load() == 0 {
		c.firstuse.CompareAndSwap(0, now)
	}
}

// count is bstats_update: bytes += qdisc_pkt_len, packets += GSO segments
// or 1.
func (c *Common) count(pkt *packet.Packet, res *Result) {
	if res != nil && res.Hardware {
		return
	}
	c.bytes.Add(uint64(pktLen(pkt)))
	if pkt.GSOSize != 0 {
		c.packets.Add(uint64(pkt.GSOSegs))
	} else {
		c.packets.Add(1)
	}
}

// drop counts a dropped packet (qstats drops).
func (c *Common) drop(res *Result) {
	if res == nil || !res.Hardware {
		c.drops.Add(1)
	}
}

// overlimit counts an over-limit packet (qstats overlimits).
func (c *Common) overlimit(res *Result) {
	if res == nil || !res.Hardware {
		c.overlimits.Add(1)
	}
}

// pktLen is qdisc_pkt_len(skb): WireLen when the caller set it, otherwise
// the length tc's hooks record: the frame without its link-layer header at
// ingress (the kernel sets it while data is at the network header) and the
// whole frame at egress.
func pktLen(pkt *packet.Packet) int {
	if pkt.WireLen != 0 {
		return int(pkt.WireLen)
	}
	if pkt.Direction == packet.Ingress {
		return pkt.Len() - pkt.MACLen()
	}
	return pkt.Len()
}
