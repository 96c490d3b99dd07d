package tcsyntax

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// String returns the filter as one tc command line, `tc filter add dev
// DEV ingress protocol ip pref 1 ... bpf bytecode '...' classid 1:10 ...`,
// that ParseFilter reads back into the same Filter. Options appear in a
// fixed order and in full; a police burst, which is kept in ticks, prints
// as the smallest size in bytes that gives those ticks.
func (f *Filter) String() string {
	w := []string{"tc", "filter", f.Command.String()}
	if f.Dev != "" {
		w = append(w, "dev", f.Dev)
	}
	if f.Block != 0 {
		w = append(w, "block", strconv.FormatUint(uint64(f.Block), 10))
	}
	switch f.Parent {
	case 0:
	case handle.Root:
		w = append(w, "root")
	case handle.IngressParent:
		w = append(w, "ingress")
	case handle.EgressParent:
		w = append(w, "egress")
	default:
		w = append(w, "parent", f.Parent.String())
	}
	if f.Command == Change || f.Protocol != ProtocolAll {
		if f.Protocol != 0 {
			w = append(w, "protocol", protocolWord(f.Protocol))
		}
	}
	if f.Pref != 0 {
		w = append(w, "pref", strconv.FormatUint(uint64(f.Pref), 10))
	}
	if f.HasHandle {
		w = append(w, "handle", "0x"+strconv.FormatUint(uint64(f.Handle), 16))
	}
	if f.HasChain {
		w = append(w, "chain", strconv.FormatUint(uint64(f.Chain), 10))
	}
	w = append(w, "bpf")
	switch f.Source {
	case Bytecode:
		w = append(w, "bytecode", cbpf.FormatBytecode(f.Bytecode))
	case BytecodeFile:
		w = append(w, "bytecode-file", f.File)
	case ObjectFile, ObjectPinned:
		if f.Source == ObjectFile {
			w = append(w, "object-file", f.File)
		} else {
			w = append(w, "object-pinned", f.File)
		}
		if f.Section != "classifier" {
			w = append(w, "section", f.Section)
		}
		if f.Export != "" {
			w = append(w, "export", f.Export)
		}
		if f.Verbose {
			w = append(w, "verbose")
		}
	}
	if f.DirectAction {
		w = append(w, "direct-action")
	}
	if f.Flags&classifier.SkipHW != 0 {
		w = append(w, "skip_hw")
	}
	if f.Flags&classifier.SkipSW != 0 {
		w = append(w, "skip_sw")
	}
	if f.Police != nil {
		w = append(w, "police")
		w = append(w, policeWords(f.Police)...)
	}
	if len(f.Actions) > 0 {
		w = append(w, actionWords(f.Actions, recordingDevices{nil, f.devNames})...)
	}
	if f.HasClassID {
		w = append(w, "classid", f.ClassID.String())
	}
	for i := range w {
		w[i] = Quote(w[i])
	}
	return strings.Join(w, " ")
}

// protocolWord is a protocol as ParseProtocol reads it back.
func protocolWord(p uint16) string {
	n := ProtocolName(p)
	if strings.HasPrefix(n, "[") {
		return "0x" + strconv.FormatUint(uint64(p), 16)
	}
	return n
}

// verdictWord prints a control action so that parseControl reads it back
// (numbers where tc allows them).
func verdictWord(v action.Verdict) []string {
	switch {
	case v.IsGotoChain():
		return []string{"goto", "chain", strconv.FormatUint(uint64(v.ExtValue()), 10)}
	case v.IsJump():
		return []string{"jump", strconv.FormatUint(uint64(v.ExtValue()), 10)}
	}
	switch v {
	case action.Unspec:
		return []string{"continue"}
	case action.OK:
		return []string{"pass"}
	case action.Shot:
		return []string{"drop"}
	case action.Reclassify:
		return []string{"reclassify"}
	case action.Pipe:
		return []string{"pipe"}
	case action.Trap:
		return []string{"trap"}
	}
	return []string{strconv.FormatInt(int64(v), 10)}
}

// FormatActions returns an action list as tc command words ("action gact
// drop index 1 action mirred egress redirect dev eth1 ..."), which
// ParseActions reads back into the same specs. devs names mirred's
// devices; a device it cannot name is left out.
func FormatActions(specs []action.Spec, devs Devices) []string {
	return actionWords(specs, devs)
}

func actionWords(specs []action.Spec, devs Devices) []string {
	var w []string
	for _, s := range specs {
		w = append(w, "action")
		switch s := s.(type) {
		case *action.Gact:
			w = append(w, "gact")
			w = append(w, verdictWord(s.Verdict)...)
			if s.Prob != action.ProbNone {
				t := "netrand"
				if s.Prob == action.ProbDeterm {
					t = "determ"
				}
				w = append(w, "random", t)
				w = append(w, verdictWord(s.ProbVerdict)...)
				w = append(w, strconv.FormatUint(uint64(s.ProbVal), 10))
			}
		case *action.Mirred:
			w = append(w, "mirred")
			if s.Action == 0 {
				break
			}
			dir, mode := "egress", "redirect"
			if s.Action == action.IngressMirror || s.Action == action.IngressRedirect {
				dir = "ingress"
			}
			if s.Action == action.EgressMirror || s.Action == action.IngressMirror {
				mode = "mirror"
			}
			w = append(w, dir, mode)
			if s.Ifindex != 0 && devs != nil {
				if n, ok := devs.Name(s.Ifindex); ok {
					w = append(w, "dev", n)
				}
			}
			if mode == "mirror" && s.Verdict != action.Pipe {
				w = append(w, verdictWord(s.Verdict)...)
			}
		case *action.Skbedit:
			w = append(w, "skbedit")
			if s.SetQueueMapping {
				w = append(w, "queue_mapping", strconv.FormatUint(uint64(s.QueueMapping), 10))
			}
			if s.SetPriority {
				w = append(w, "priority", handle.Handle(s.Priority).String())
			}
			if s.SetMark {
				m := "0x" + strconv.FormatUint(uint64(s.Mark), 16)
				if s.SetMask {
					m += "/0x" + strconv.FormatUint(uint64(s.Mask), 16)
				}
				w = append(w, "mark", m)
			}
			if s.SetPtype {
				w = append(w, "ptype", [...]string{"host", "broadcast", "multicast", "otherhost"}[s.Ptype&3])
			}
			if s.InheritDSField {
				w = append(w, "inheritdsfield")
			}
			if s.Verdict != action.Pipe {
				w = append(w, verdictWord(s.Verdict)...)
			}
		case *action.Police:
			w = append(w, "police")
			w = append(w, policeWords(s)...)
			continue // index and trailer are in the words
		case *action.Vlan:
			w = append(w, "vlan")
			switch s.Action {
			case action.VlanPop:
				w = append(w, "pop")
			case action.VlanPush:
				w = append(w, "push")
			case action.VlanModify:
				w = append(w, "modify")
			case action.VlanPopEth:
				w = append(w, "pop_eth")
			case action.VlanPushEth:
				w = append(w, "push_eth", "dst_mac", s.Dst.String(), "src_mac", s.Src.String())
			}
			if s.Action == action.VlanPush || s.Action == action.VlanModify {
				w = append(w, "id", strconv.FormatUint(uint64(s.ID), 10))
				if s.Protocol != 0 {
					w = append(w, "protocol", protocolWord(s.Protocol))
				}
				if s.SetPriority {
					w = append(w, "priority", strconv.FormatUint(uint64(s.Priority), 10))
				}
			}
			if s.Verdict != action.Pipe {
				w = append(w, verdictWord(s.Verdict)...)
			}
		case *action.Csum:
			w = append(w, "csum")
			names := []struct {
				f action.CsumUpdate
				n string
			}{{action.CsumIPv4Header, "iph"}, {action.CsumICMP, "icmp"}, {action.CsumIGMP, "igmp"}, {action.CsumTCP, "tcp"}, {action.CsumUDP, "udp"}, {action.CsumUDPLite, "udplite"}, {action.CsumSCTP, "sctp"}}
			first := true
			for _, n := range names {
				if s.Update&n.f != 0 {
					if !first {
						w = append(w, "and")
					}
					w = append(w, n.n)
					first = false
				}
			}
			if s.Verdict != action.OK {
				w = append(w, verdictWord(s.Verdict)...)
			}
		case *action.Bpf:
			w = append(w, "bpf")
			if s.Ops != nil {
				w = append(w, "bytecode", cbpf.FormatBytecode(s.Ops))
			}
			if s.Verdict != action.Pipe {
				w = append(w, verdictWord(s.Verdict)...)
			}
		}
		p := params(s)
		if p.Index != 0 {
			w = append(w, "index", strconv.FormatUint(uint64(p.Index), 10))
		}
		if p.Cookie != nil {
			w = append(w, "cookie", hex.EncodeToString(p.Cookie))
		}
		w = append(w, flagWords(p.Flags)...)
	}
	return w
}

// policeWords prints a police spec's options as tc words.
func policeWords(p *action.Police) []string {
	var w []string
	rate := uint64(p.Rate.Rate)
	if p.Rate64 != 0 {
		rate = p.Rate64
	}
	if rate != 0 {
		w = append(w, "rate", strconv.FormatUint(rate, 10)+"Bps", "burst", strconv.FormatUint(burstBytes(rate, p.Burst), 10))
		if p.Rate.CellLog != 0 {
			w[len(w)-1] += "/" + strconv.FormatUint(1<<p.Rate.CellLog, 10)
		}
	}
	if p.MTU != 0 {
		w = append(w, "mtu", strconv.FormatUint(uint64(p.MTU), 10))
		if p.PeakRate.CellLog != 0 {
			w[len(w)-1] += "/" + strconv.FormatUint(1<<p.PeakRate.CellLog, 10)
		}
	}
	if p.Rate.MPU != 0 {
		w = append(w, "mpu", strconv.FormatUint(uint64(p.Rate.MPU), 10))
	}
	prate := uint64(p.PeakRate.Rate)
	if p.PeakRate64 != 0 {
		prate = p.PeakRate64
	}
	if prate != 0 {
		w = append(w, "peakrate", strconv.FormatUint(prate, 10)+"Bps")
	}
	if p.AvRate != 0 {
		w = append(w, "avrate", strconv.FormatUint(uint64(p.AvRate), 10)+"Bps")
	}
	if p.Rate.Overhead != 0 {
		w = append(w, "overhead", strconv.FormatUint(uint64(p.Rate.Overhead), 10))
	}
	if rate != 0 && p.Rate.Linklayer == 2 {
		w = append(w, "linklayer", "atm")
	}
	if p.PktRate != 0 {
		w = append(w, "pkts_rate", strconv.FormatUint(p.PktRate, 10), "pkts_burst", strconv.FormatUint(burstBytes(p.PktRate, uint32(p.PktBurst)), 10))
	}
	if p.Conform != 0 || p.Verdict.IsGotoChain() || p.Verdict.IsJump() {
		if p.Conform != 0 {
			w = append(w, "conform-exceed", verdictWord(p.Verdict)[0]+"/"+verdictWord(p.Conform)[0])
		} else {
			w = append(w, verdictWord(p.Verdict)...)
		}
	} else if p.Verdict != action.Reclassify {
		w = append(w, "conform-exceed")
		w = append(w, verdictWord(p.Verdict)...)
	}
	if p.Index != 0 {
		w = append(w, "index", strconv.FormatUint(uint64(p.Index), 10))
	}
	if p.Cookie != nil {
		w = append(w, "cookie", hex.EncodeToString(p.Cookie))
	}
	return append(w, flagWords(p.Flags)...)
}

// burstBytes finds the smallest burst in bytes (at least 1) that xmitTime turns into
// ticks at the rate (xmitTime grows with the size, so a binary search
// finds it; a burst that came from a size always has one).
func burstBytes(rate uint64, ticks uint32) uint64 {
	if rate == 0 {
		return 0
	}
	// tc requires a burst with a rate, so the search starts at 1 byte
	// (which may still be 0 ticks at a high rate).
	lo, hi := uint64(1), uint64(1)<<32
	for lo < hi {
		mid := lo + (hi-lo)/2
		if xmitTime(rate, mid) >= ticks {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// ShowOptions select the form Show prints.
type ShowOptions struct {
	// Stats prints the actions' statistics and times, as `tc -s filter
	// show` does.
	Stats bool
	// Chain limits the listing to one chain when HasChain, as `tc filter
	// show ... chain N` does.
	Chain uint32
	// HasChain selects the chain given in Chain.
	HasChain bool
}

// Show writes the block's filters as `tc [-s] filter show dev DEV
// ingress` (or egress) prints them (iproute2 tc_filter.c print_filter and
// f_bpf.c bpf_print_opt): for each chain in creation order and each
// classifier in priority order, a header line for the classifier, then
// one entry per filter with its handle, flowid, flags, program and its
// police and actions. The device and parent are not printed, as tc omits
// them when the command names them.
func Show(w io.Writer, b *classifier.Block, opts ShowOptions) error {
	for _, chain := range b.Chains() {
		if opts.HasChain && chain != opts.Chain {
			continue
		}
		for _, p := range b.Protos(chain) {
			if _, err := io.WriteString(w, protoHeader(p)+"\n"); err != nil {
				return err
			}
			for _, f := range p.Filters() {
				s, err := FormatFilter(p, f, opts.Stats)
				if err != nil {
					return err
				}
				if _, err := io.WriteString(w, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// protoHeader is print_filter's line before the options.
func protoHeader(p *classifier.Proto) string {
	wh := p.Where()
	var b strings.Builder
	b.WriteString("filter ")
	if wh.Protocol != 0 {
		fmt.Fprintf(&b, "protocol %s ", ProtocolName(wh.Protocol))
	}
	if wh.Prio != 0 {
		fmt.Fprintf(&b, "pref %d ", wh.Prio)
	}
	fmt.Fprintf(&b, "%s chain %d ", classifier.Kind, wh.Chain)
	return b.String()
}

// FormatFilter prints one filter of classifier p as `tc [-s] filter show`
// does, ending with a newline: the classifier's header, then bpf_print_opt
// over the attributes the filter dumps (handle, flowid, name,
// direct-action, skip_hw, skip_sw, in_hw or not_in_hw, the bytecode or the
// eBPF id and tag), then the legacy police and the actions with their
// statistics when stats is set.
func FormatFilter(p *classifier.Proto, f *classifier.Filter, stats bool) (string, error) {
	opts, err := f.AppendOptions(nil)
	if err != nil {
		return "", err
	}
	tb := attrs(opts)
	if nest, ok := tb[uapi.TCA_OPTIONS]; ok {
		tb = attrs(nest)
	}
	var b strings.Builder
	b.WriteString(protoHeader(p))
	if h := f.Handle(); h != 0 {
		fmt.Fprintf(&b, "handle %#x ", h)
	}
	if v, ok := tb[uapi.TCA_BPF_CLASSID]; ok && len(v) >= 4 {
		fmt.Fprintf(&b, "flowid %s ", handle.Handle(binary.LittleEndian.Uint32(v)))
	}
	if v, ok := tb[uapi.TCA_BPF_NAME]; ok {
		fmt.Fprintf(&b, "%s ", strings.TrimRight(string(v), "\x00"))
	}
	if v, ok := tb[uapi.TCA_BPF_FLAGS]; ok && len(v) >= 4 && binary.LittleEndian.Uint32(v)&uapi.TCA_BPF_FLAG_ACT_DIRECT != 0 {
		b.WriteString("direct-action ")
	}
	if v, ok := tb[uapi.TCA_BPF_FLAGS_GEN]; ok && len(v) >= 4 {
		g := binary.LittleEndian.Uint32(v)
		if g&uapi.TCA_CLS_FLAGS_SKIP_HW != 0 {
			b.WriteString("skip_hw ")
		}
		if g&uapi.TCA_CLS_FLAGS_SKIP_SW != 0 {
			b.WriteString("skip_sw ")
		}
		if g&uapi.TCA_CLS_FLAGS_IN_HW != 0 {
			b.WriteString("in_hw ")
		} else if g&uapi.TCA_CLS_FLAGS_NOT_IN_HW != 0 {
			b.WriteString("not_in_hw ")
		}
	}
	if ops, ok := tb[uapi.TCA_BPF_OPS]; ok {
		if _, ok := tb[uapi.TCA_BPF_OPS_LEN]; ok {
			var parts []string
			for i := 0; i+8 <= len(ops); i += 8 {
				parts = append(parts, fmt.Sprintf("%d %d %d %d", binary.LittleEndian.Uint16(ops[i:]), ops[i+2], ops[i+3], binary.LittleEndian.Uint32(ops[i+4:])))
			}
			fmt.Fprintf(&b, "bytecode '%d,%s'", len(parts), strings.Join(parts, ","))
		}
	}
	if v, ok := tb[uapi.TCA_BPF_ID]; ok && len(v) >= 4 {
		fmt.Fprintf(&b, "id %d ", binary.LittleEndian.Uint32(v))
		// bpf_dump_prog_info prints the program's name after its id; the
		// library has no JIT, so "jited" is never printed.
		if n, ok := f.Program().(interface{ Name() string }); ok && n.Name() != "" {
			fmt.Fprintf(&b, "name %s ", n.Name())
		}
	}
	if v, ok := tb[uapi.TCA_BPF_TAG]; ok {
		fmt.Fprintf(&b, "tag %x ", v)
	}
	if acts, ok := f.Actions().(*classifier.Actions); ok && acts.Chain() != nil {
		text := acts.Chain().Format(stats)
		if _, police := tb[uapi.TCA_BPF_POLICE]; police {
			// tc_print_police: the police options alone, on a new line,
			// without the action header and statistics.
			text = strings.TrimPrefix(text, "\n\taction order 1: ")
			if i := strings.Index(text, "\tAction statistics:"); i >= 0 {
				text = text[:i]
			}
			b.WriteString("\n")
		}
		b.WriteString(text)
	}
	b.WriteString("\n")
	return b.String(), nil
}

// attrs splits an attribute stream into a table by type (the last of a
// type wins), as iproute2's parse_rtattr does.
func attrs(b []byte) map[uint16][]byte {
	tb := map[uint16][]byte{}
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:]) & 0x3FFF
		if l < 4 || l > len(b) {
			break
		}
		tb[typ] = b[4:l]
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return tb
}

// flagWords prints an action's flags as parse_action reads them.
func flagWords(f action.Flags) []string {
	var w []string
	if f&action.NoPercpuStats != 0 {
		w = append(w, "no_percpu")
	}
	if f&action.SkipSW != 0 {
		w = append(w, "skip_sw")
	}
	if f&action.SkipHW != 0 {
		w = append(w, "skip_hw")
	}
	return w
}
