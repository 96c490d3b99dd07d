package action

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// kindDumper is what each kind implements to dump and print itself.
type kindDumper interface {
	// dumpOptions appends the kind's TCA_ACT_OPTIONS payload; bind and ref
	// are subtracted from the reference counts as the kernel's dump
	// callbacks do.
	dumpOptions(e *encoder, bind, ref int32)
	// format appends the kind's line(s) as tc prints them.
	format(w *strings.Builder, bind, ref int32, stats bool)
}

// appendStats appends the TCA_ACT_STATS nest (tcf_action_copy_stats):
// basic, hardware basic and queue counters.
func appendStats(e *encoder, c *Common) {
	s := c.Stats()
	e.nest(uapi.TCA_ACT_STATS, func(e *encoder) {
		basic := func(t uint16, bytes, packets uint64) {
			b := make([]byte, 0, uapi.SizeofGnetStatsBasic)
			b = binary.LittleEndian.AppendUint64(b, bytes)
			b = binary.LittleEndian.AppendUint32(b, uint32(packets))
			b = binary.LittleEndian.AppendUint32(b, 0)
			e.bytes(t, b)
			if packets > 0xFFFFFFFF {
				e.u64(uapi.TCA_STATS_PKT64, packets)
			}
		}
		basic(uapi.TCA_STATS_BASIC, s.Bytes, s.Packets)
		basic(uapi.TCA_STATS_BASIC_HW, s.HWBytes, s.HWPackets)
		q := make([]byte, 0, uapi.SizeofGnetStatsQueue)
		q = binary.LittleEndian.AppendUint32(q, 0) // qlen
		q = binary.LittleEndian.AppendUint32(q, 0) // backlog
		q = binary.LittleEndian.AppendUint32(q, uint32(s.Drops))
		q = binary.LittleEndian.AppendUint32(q, 0) // requeues
		q = binary.LittleEndian.AppendUint32(q, uint32(s.Overlimits))
		e.bytes(uapi.TCA_STATS_QUEUE, q)
	})
}

// dumpAction appends one action's attributes as tcf_action_dump_1 does.
func dumpAction(e *encoder, a Action, bind, ref int32) {
	c := a.Gen()
	e.str(uapi.TCA_ACT_KIND, c.kind)
	appendStats(e, c)
	if ck := c.Cookie(); ck != nil {
		e.bytes(uapi.TCA_ACT_COOKIE, ck)
	}
	if c.hwStats != uapi.TCA_ACT_HW_STATS_ANY {
		b := binary.LittleEndian.AppendUint32(nil, uint32(c.hwStats))
		e.bytes(uapi.TCA_ACT_HW_STATS, binary.LittleEndian.AppendUint32(b, uapi.TCA_ACT_HW_STATS_ANY))
	}
	if c.usedHWValid {
		b := binary.LittleEndian.AppendUint32(nil, 0)
		e.bytes(uapi.TCA_ACT_USED_HW_STATS, binary.LittleEndian.AppendUint32(b, uapi.TCA_ACT_HW_STATS_ANY))
	}
	if fl := uint32(c.flags) & uapi.TCA_ACT_FLAGS_USER_MASK; fl != 0 {
		b := binary.LittleEndian.AppendUint32(nil, fl)
		e.bytes(uapi.TCA_ACT_FLAGS, binary.LittleEndian.AppendUint32(b, fl))
	}
	e.u32(uapi.TCA_ACT_IN_HW_COUNT, 0)
	e.nest(uapi.TCA_ACT_OPTIONS, func(e *encoder) {
		a.(kindDumper).dumpOptions(e, bind, ref)
	})
}

// Dump returns the chain as a filter dump carries it (tcf_exts_dump): the
// payload of TCA_BPF_ACT, action nests numbered from 1, each as
// tcf_action_dump_1 writes it. A legacy police chain dumps as the payload
// of TCA_BPF_POLICE instead (the police options alone).
func (c *Chain) Dump() []byte {
	if c == nil {
		return nil
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	var e encoder
	if c.legacy {
		c.actions[0].(kindDumper).dumpOptions(&e, 0, 0)
		return e.b
	}
	for i, a := range c.actions {
		e.nest(uint16(i+1), func(e *encoder) { dumpAction(e, a, 0, 0) })
	}
	return e.b
}

// DumpAction returns the TCA_ACT_TAB payload the kernel sends for
// `tc actions get` of one action (RTM_GETACTION): one nest numbered 1. The
// reference count excludes the request's own reference, as the kernel's
// does.
func (t *Table) DumpAction(kind string, index uint32) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := kinds[kind]; !ok {
		return nil, &Error{Kind: kind, Errno: syscall.EINVAL, Msg: "Specified TC action kind not found"}
	}
	a, ok := t.idr(kind).m[index]
	if !ok {
		return nil, &Error{Kind: kind, Errno: syscall.ENOENT, Msg: "TC action with specified index not found"}
	}
	var e encoder
	e.nest(1, func(e *encoder) { dumpAction(e, a, 0, 0) })
	return e.b, nil
}

// DumpKind returns the TCA_ACT_TAB payload of `tc actions list action
// kind` (an RTM_GETACTION dump, tcf_dump_walker): every action of the kind
// in index order, nests numbered from 0, all in one payload where the
// kernel sends 32 per message. As in the kernel, listing asks the (absent)
// hardware for statistics, after which offloadable actions report their
// used hardware statistics type as valid.
func (t *Table) DumpKind(kind string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ops, ok := kinds[kind]
	if !ok {
		return nil, &Error{Kind: kind, Errno: syscall.EINVAL, Msg: "Specified TC action kind not found"}
	}
	d := t.idr(kind)
	idx := make([]uint32, 0, len(d.m))
	for i := range d.m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var e encoder
	for n, i := range idx {
		a := d.m[i]
		if ops.offload {
			// tcf_action_update_hw_stats
			a.Gen().usedHWValid = true
		}
		e.nest(uint16(n), func(e *encoder) { dumpAction(e, a, 0, 0) })
	}
	return e.b, nil
}

// String prints the chain as `tc -s filter show` prints a filter's actions
// (iproute2 tc_dump_action and each kind's print function), statistics
// included.
func (c *Chain) String() string { return c.Format(true) }

// Format prints the chain as `tc filter show` prints a filter's actions:
// with their statistics and times when stats is set, as `tc -s filter
// show` does (String), without them otherwise.
func (c *Chain) Format(stats bool) string {
	if c == nil {
		return ""
	}
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	var w strings.Builder
	for i, a := range c.actions {
		fmt.Fprintf(&w, "\n\taction order %d: ", i+1)
		formatAction(&w, a, true, stats)
	}
	return w.String()
}

// Format prints one action as `tc -s actions get` does, after tc's "total
// acts 0" line.
func (t *Table) Format(a Action) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var w strings.Builder
	w.WriteString("\n\taction order 1: ")
	formatAction(&w, a, false, true)
	return w.String()
}

// hwStatsString is iproute2's print_hw_stats list.
func hwStatsString(v uint8) string {
	if v == 0 {
		return " disabled"
	}
	var out string
	if v&uapi.TCA_ACT_HW_STATS_IMMEDIATE != 0 {
		out += " immediate"
	}
	if v&uapi.TCA_ACT_HW_STATS_DELAYED != 0 {
		out += " delayed"
	}
	return out
}

// formatAction is tc_print_one_action; filter says the action is printed
// as part of a filter (tc's bind), which hides the offload flags.
func formatAction(w *strings.Builder, a Action, filter, stats bool) {
	c := a.Gen()
	a.(kindDumper).format(w, 0, 0, stats)
	if stats {
		s := c.Stats()
		w.WriteString("\tAction statistics:\n")
		fmt.Fprintf(w, "\tSent %d bytes %d pkt (dropped %d, overlimits %d requeues 0) \n", s.Bytes, s.Packets, s.Drops, s.Overlimits)
		// print_tcstats_basic_hw: the software and hardware shares, once
		// hardware has counted anything.
		if s.HWBytes != 0 || s.HWPackets != 0 {
			if s.Bytes >= s.HWBytes && s.Packets >= s.HWPackets {
				fmt.Fprintf(w, "\tSent software %d bytes %d pkt\n", s.Bytes-s.HWBytes, s.Packets-s.HWPackets)
			}
			fmt.Fprintf(w, "\tSent hardware %d bytes %d pkt\n", s.HWBytes, s.HWPackets)
		}
		w.WriteString("\tbacklog 0b 0p requeues 0\n")
	}
	if ck := c.Cookie(); ck != nil {
		fmt.Fprintf(w, "\tcookie %x\n", ck)
	}
	newline := false
	if c.flags&NoPercpuStats != 0 {
		w.WriteString("\tno_percpu")
		newline = true
	}
	if !filter {
		if c.flags&SkipHW != 0 {
			w.WriteString("\tskip_hw")
			newline = true
		}
		if c.flags&SkipSW != 0 {
			w.WriteString("\tskip_sw")
			newline = true
		}
		if c.flags&SkipHW == 0 {
			w.WriteString("\tnot_in_hw")
			newline = true
		}
	}
	if newline {
		w.WriteString("\n")
	}
	if c.hwStats != uapi.TCA_ACT_HW_STATS_ANY {
		fmt.Fprintf(w, "\thw_stats%s\n", hwStatsString(c.hwStats))
	}
	if c.usedHWValid {
		w.WriteString("\tused_hw_stats disabled\n")
	}
}

// formatGen prints the "index I ref R bind B" line tail and the times
// (print_tm) that every kind prints.
func formatGen(w *strings.Builder, c *Common, bind, ref int32, stats bool, indexPrefix string) {
	fmt.Fprintf(w, "%sindex %d ref %d bind %d", indexPrefix, c.index, c.refcnt-ref, c.bindcnt-bind)
	if stats {
		now := c.clock.Now()
		age := func(stamp int64) int64 { return (now - stamp) / int64(1e9/uapi.USER_HZ) }
		if v := age(c.install); v != 0 {
			fmt.Fprintf(w, " installed %d sec", v/uapi.USER_HZ)
		}
		if v := age(c.lastuse.Load()); v != 0 {
			fmt.Fprintf(w, " used %d sec", v/uapi.USER_HZ)
		}
		if f := c.firstuse.Load(); f != 0 {
			if v := age(f); v != 0 {
				fmt.Fprintf(w, " firstused %d sec", v/uapi.USER_HZ)
			}
		}
	}
	w.WriteString("\n")
}

// ctrlString is print_action_control's text for a verdict.
func ctrlString(v Verdict) string { return v.String() }
