package tchelpers

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"unicode"

	"github.com/cilium/ebpf/asm"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// Helper ids (enum bpf_func_id in include/uapi/linux/bpf.h) of the helpers
// this package implements.
const (
	FuncMapLookupElem       = 1
	FuncMapUpdateElem       = 2
	FuncMapDeleteElem       = 3
	FuncKtimeGetNs          = 5
	FuncGetPrandomU32       = 7
	FuncGetSmpProcessorID   = 8
	FuncSkbStoreBytes       = 9
	FuncL3CsumReplace       = 10
	FuncL4CsumReplace       = 11
	FuncTracePrintk         = 6
	FuncTailCall            = 12
	FuncCloneRedirect       = 13
	FuncGetCgroupClassid    = 17
	FuncSkbVlanPush         = 18
	FuncSkbVlanPop          = 19
	FuncSkbGetTunnelKey     = 20
	FuncSkbSetTunnelKey     = 21
	FuncRedirect            = 23
	FuncPerfEventOutput     = 25
	FuncGetRouteRealm       = 24
	FuncSkbLoadBytes        = 26
	FuncCsumDiff            = 28
	FuncSkbGetTunnelOpt     = 29
	FuncSkbSetTunnelOpt     = 30
	FuncSkbChangeProto      = 31
	FuncSkbChangeType       = 32
	FuncSkbChangeTail       = 38
	FuncGetHashRecalc       = 34
	FuncSkbPullData         = 39
	FuncCsumUpdate          = 40
	FuncSetHashInvalid      = 41
	FuncSkbChangeHead       = 43
	FuncSetHash             = 48
	FuncSkbAdjustRoom       = 50
	FuncSkbLoadBytesRel     = 68
	FuncFibLookup           = 69
	FuncMapPushElem         = 87
	FuncMapPopElem          = 88
	FuncMapPeekElem         = 89
	FuncSpinLock            = 93
	FuncSpinUnlock          = 94
	FuncKtimeGetBootNs      = 125
	FuncRingbufOutput       = 130
	FuncRingbufReserve      = 131
	FuncRingbufSubmit       = 132
	FuncRingbufDiscard      = 133
	FuncRingbufQuery        = 134
	FuncCsumLevel           = 135
	FuncRedirectNeigh       = 152
	FuncRedirectPeer        = 155
	FuncKtimeGetCoarseNs    = 160
	FuncForEachMapElem      = 164
	FuncLoop                = 181
	FuncMapLookupPercpuElem = 195
)

// Clock names the clocks the time helpers read.
type Clock uint8

// Clocks.
const (
	// Monotonic is CLOCK_MONOTONIC (bpf_ktime_get_ns).
	Monotonic Clock = iota
	// Boottime is CLOCK_BOOTTIME (bpf_ktime_get_boot_ns).
	Boottime
	// MonotonicCoarse is CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns).
	MonotonicCoarse
)

// Options configure the helpers of a Registry.
type Options struct {
	// Slots is the number of execution slots programs run on
	// (packet.Packet.Slot); per-slot state (the redirect record, the
	// prandom state) is kept for each. 0 means 1. A run on a slot at or
	// above Slots uses slot Slots-1's state modulo Slots.
	Slots int
	// Now returns the time of clock c in nanoseconds; nil reads the host's
	// clocks. Tests inject a fixed clock here.
	Now func(c Clock) uint64
	// Seed seeds each slot's bpf_get_prandom_u32 generator (slot i starts
	// from Seed + i), so runs are reproducible.
	Seed uint64
	// Trace receives bpf_trace_printk output; nil discards it.
	Trace io.Writer
	// FlowHash computes the flow hash bpf_get_hash_recalc stores when the
	// packet has none, and whether it covers the ports; nil uses FNV-1a
	// over the addresses, protocol and ports. The kernel keys its hash
	// with a random seed, so only its consistency per flow carries over.
	FlowHash func(p *packet.Packet) (hash uint32, l4 bool)
	// CloneRedirect sends a copy of pkt out of (or, with ingress, into)
	// device ifindex for bpf_clone_redirect, and returns the transmit
	// result: 0 or a positive NET_XMIT_* code, or a negative errno
	// (-EINVAL for an unknown device, as the kernel's). It must copy what
	// it keeps: pkt goes on through the program. nil leaves the helper out.
	CloneRedirect func(pkt *packet.Packet, ifindex uint32, ingress bool) int64
	// FIB answers bpf_fib_lookup; nil leaves the helper out, so that a
	// program calling it fails to load, naming it.
	FIB FIB
	// Extra are the caller's own helpers, registered next to the built-in
	// ones. An id that collides with a built-in helper replaces it.
	Extra []ebpfvm.Helper
}

// Env is a helper registry with the per-slot state its helpers keep.
type Env struct {
	helpers  *ebpfvm.Helpers
	fib      FIB
	clone    func(pkt *packet.Packet, ifindex uint32, ingress bool) int64
	flowHash func(p *packet.Packet) (uint32, bool)
	now      func(c Clock) uint64
	slots    []slotState
	trace    io.Writer
}

// slotState is what the kernel keeps per CPU for tc programs: the
// redirect record (struct bpf_redirect_info) and the prandom state.
type slotState struct {
	redirect Redirect
	rnd      uint64
	reserved [maxReserved]reservation // ring buffer records not yet committed
	nextRes  uint32
	key      []byte   // bpf_for_each_map_elem's key copy (atomicmem)
	_        [32]byte // keeps slots on separate cache lines
}

// Registry returns the tc helpers described by opts: Helpers for
// ebpfvm.Options.Helpers, and the per-slot results (Redirect) the caller
// reads after a run.
func Registry(opts Options) (*Env, error) {
	n := opts.Slots
	if n <= 0 {
		n = 1
	}
	if n > 1<<16 {
		return nil, fmt.Errorf("tchelpers: %d slots (limit 65536): %w", n, syscall.EINVAL)
	}
	e := &Env{now: opts.Now, slots: make([]slotState, n), trace: opts.Trace}
	if e.now == nil {
		e.now = hostClock
	}
	e.flowHash = opts.FlowHash
	if e.flowHash == nil {
		e.flowHash = defaultFlowHash
	}
	for i := range e.slots {
		e.slots[i].rnd = opts.Seed + uint64(i)
	}
	e.fib = opts.FIB
	hs := e.builtins()
	e.clone = opts.CloneRedirect
	if e.clone != nil {
		hs = append(hs, ebpfvm.Helper{ID: FuncCloneRedirect, Name: "clone_redirect", Func: e.cloneRedirect, Args: 3, ChangesPacket: true})
	}
	if e.fib != nil {
		hs = append(hs, ebpfvm.Helper{ID: FuncFibLookup, Name: "fib_lookup", Func: e.fibLookup, Args: 4})
	}
	byID := make(map[int32]int, len(hs))
	for i, h := range hs {
		byID[h.ID] = i
	}
	for _, h := range opts.Extra {
		if i, ok := byID[h.ID]; ok {
			hs[i] = h
			continue
		}
		byID[h.ID] = len(hs)
		hs = append(hs, h)
	}
	r, err := ebpfvm.NewHelpers(hs...)
	if err != nil {
		return nil, err
	}
	r.NameMissing(helperNames())
	e.helpers = r
	return e, nil
}

// Helpers returns the registry to pass in ebpfvm.Options.Helpers.
func (e *Env) Helpers() *ebpfvm.Helpers { return e.helpers }

// slot returns the state of the slot m's packet runs on.
func (e *Env) slot(m *ebpfvm.Machine) *slotState {
	return &e.slots[slotOf(m)%uint32(len(e.slots))]
}

// slotOf returns the execution slot of the current run: the packet's Slot,
// or 0 for runs without a packet.
func slotOf(m *ebpfvm.Machine) uint32 {
	if p := m.Packet(); p != nil {
		return p.Slot
	}
	return 0
}

// neg returns the helper result for errno e: -e as a 64-bit value.
func neg(e syscall.Errno) uint64 { return uint64(-int64(e)) }

// builtins lists the built-in helpers.
func (e *Env) builtins() []ebpfvm.Helper {
	return []ebpfvm.Helper{
		{ID: FuncMapLookupElem, Name: "map_lookup_elem", Func: mapLookup, Args: 2, Ret: ebpfvm.RetMapValueOrNull},
		{ID: FuncMapUpdateElem, Name: "map_update_elem", Func: mapUpdate, Args: 4},
		{ID: FuncMapDeleteElem, Name: "map_delete_elem", Func: mapDelete, Args: 2},
		{ID: FuncMapPushElem, Name: "map_push_elem", Func: mapPush, Args: 3},
		{ID: FuncMapPopElem, Name: "map_pop_elem", Func: mapPop, Args: 2},
		{ID: FuncMapPeekElem, Name: "map_peek_elem", Func: mapPeek, Args: 2},
		{ID: FuncMapLookupPercpuElem, Name: "map_lookup_percpu_elem", Func: mapLookupPercpu, Args: 3, Ret: ebpfvm.RetMapValueOrNull},
		{ID: FuncTailCall, Name: "tail_call", Func: tailCall, Args: 3, ChangesPacket: true},
		{ID: FuncKtimeGetNs, Name: "ktime_get_ns", Func: e.clockHelper(Monotonic)},
		{ID: FuncKtimeGetBootNs, Name: "ktime_get_boot_ns", Func: e.clockHelper(Boottime)},
		{ID: FuncKtimeGetCoarseNs, Name: "ktime_get_coarse_ns", Func: e.clockHelper(MonotonicCoarse)},
		{ID: FuncGetPrandomU32, Name: "get_prandom_u32", Func: e.prandom},
		{ID: FuncGetSmpProcessorID, Name: "get_smp_processor_id", Func: smpProcessorID},
		{ID: FuncSkbLoadBytes, Name: "skb_load_bytes", Func: skbLoadBytes, Args: 4},
		{ID: FuncSkbLoadBytesRel, Name: "skb_load_bytes_relative", Func: skbLoadBytesRelative, Args: 5},
		{ID: FuncSkbStoreBytes, Name: "skb_store_bytes", Func: skbStoreBytes, Args: 5, ChangesPacket: true},
		{ID: FuncL3CsumReplace, Name: "l3_csum_replace", Func: l3CsumReplace, Args: 5, ChangesPacket: true},
		{ID: FuncL4CsumReplace, Name: "l4_csum_replace", Func: l4CsumReplace, Args: 5, ChangesPacket: true},
		{ID: FuncCsumDiff, Name: "csum_diff", Func: csumDiff, Args: 5},
		{ID: FuncCsumUpdate, Name: "csum_update", Func: csumUpdate, Args: 2},
		{ID: FuncCsumLevel, Name: "csum_level", Func: csumLevel, Args: 2},
		{ID: FuncSkbPullData, Name: "skb_pull_data", Func: skbPullData, Args: 2, ChangesPacket: true},
		{ID: FuncSkbVlanPush, Name: "skb_vlan_push", Func: skbVlanPush, Args: 3, ChangesPacket: true},
		{ID: FuncSkbVlanPop, Name: "skb_vlan_pop", Func: skbVlanPop, Args: 1, ChangesPacket: true},
		{ID: FuncSkbChangeTail, Name: "skb_change_tail", Func: skbChangeTail, Args: 3, ChangesPacket: true},
		{ID: FuncSkbChangeHead, Name: "skb_change_head", Func: skbChangeHead, Args: 3, ChangesPacket: true},
		{ID: FuncSkbChangeType, Name: "skb_change_type", Func: skbChangeType, Args: 2},
		{ID: FuncGetHashRecalc, Name: "get_hash_recalc", Func: e.getHashRecalc, Args: 1},
		{ID: FuncTracePrintk, Name: "trace_printk", Func: e.tracePrintk, Args: 2},
		{ID: FuncPerfEventOutput, Name: "perf_event_output", Func: perfEventOutput, Args: 5},
		{ID: FuncRingbufOutput, Name: "ringbuf_output", Func: ringbufOutput, Args: 4},
		{ID: FuncRingbufReserve, Name: "ringbuf_reserve", Func: e.ringbufReserve, Args: 3, Ret: ebpfvm.RetMapValueOrNull},
		{ID: FuncRingbufSubmit, Name: "ringbuf_submit", Func: e.ringbufCommit(false), Args: 2},
		{ID: FuncRingbufDiscard, Name: "ringbuf_discard", Func: e.ringbufCommit(true), Args: 2},
		{ID: FuncRingbufQuery, Name: "ringbuf_query", Func: ringbufQuery, Args: 2},
		{ID: FuncSpinLock, Name: "spin_lock", Func: spinLock, Args: 1},
		{ID: FuncSpinUnlock, Name: "spin_unlock", Func: spinUnlock, Args: 1},
		{ID: FuncSkbGetTunnelKey, Name: "skb_get_tunnel_key", Func: skbGetTunnelKey, Args: 4},
		{ID: FuncSkbSetTunnelKey, Name: "skb_set_tunnel_key", Func: skbSetTunnelKey, Args: 4},
		{ID: FuncLoop, Name: "loop", Func: bpfLoop, Args: 4},
		{ID: FuncForEachMapElem, Name: "for_each_map_elem", Func: e.forEachMapElem, Args: 4},
		{ID: FuncSkbAdjustRoom, Name: "skb_adjust_room", Func: skbAdjustRoom, Args: 4, ChangesPacket: true},
		{ID: FuncSkbChangeProto, Name: "skb_change_proto", Func: skbChangeProto, Args: 3, ChangesPacket: true},
		{ID: FuncSkbGetTunnelOpt, Name: "skb_get_tunnel_opt", Func: skbGetTunnelOpt, Args: 3},
		{ID: FuncSkbSetTunnelOpt, Name: "skb_set_tunnel_opt", Func: skbSetTunnelOpt, Args: 3},
		{ID: FuncSetHash, Name: "set_hash", Func: setHash, Args: 2},
		{ID: FuncSetHashInvalid, Name: "set_hash_invalid", Func: setHashInvalid, Args: 1},
		{ID: FuncGetCgroupClassid, Name: "get_cgroup_classid", Func: getCgroupClassid, Args: 1},
		{ID: FuncGetRouteRealm, Name: "get_route_realm", Func: getRouteRealm, Args: 1},
		{ID: FuncRedirect, Name: "redirect", Func: e.redirect, Args: 2},
		{ID: FuncRedirectPeer, Name: "redirect_peer", Func: e.redirectPeer, Args: 2},
		{ID: FuncRedirectNeigh, Name: "redirect_neigh", Func: e.redirectNeigh, Args: 4},
	}
}

// helperNames returns the kernel's helper names by id, for the load error
// of a program that calls one this registry lacks.
func helperNames() map[int32]string {
	names := make(map[int32]string, 212)
	for id := int32(1); id < 212; id++ {
		s := asm.BuiltinFunc(id).String()
		if !strings.HasPrefix(s, "Fn") {
			continue
		}
		var b strings.Builder
		for i, c := range s[2:] {
			if unicode.IsUpper(c) {
				if i > 0 {
					b.WriteByte('_')
				}
				c = unicode.ToLower(c)
			}
			b.WriteRune(c)
		}
		names[id] = b.String()
	}
	return names
}
