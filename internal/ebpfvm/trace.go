package ebpfvm

import (
	"errors"
	"fmt"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Tracing and coverage ride on the reference interpreter's hook, which
// sees each instruction's pc and all registers before it runs. That is
// all a run's effects need: what an instruction wrote is in the registers
// at the next call, a memory access's address follows from its base
// register and offset, a load's value is the register it loads, a
// store's is the register or immediate it stores, a helper's arguments
// are R1..R5 and its result R0 at the next call, and a conditional
// jump's direction follows from its operands. The compiled engine has no
// hook and pays nothing for it.

// Hook sees every instruction the reference interpreter executes: Step
// is called before the instruction at pc runs, with the registers as they
// are then (a copy, so that the interpreter's registers stay on its
// stack).
type Hook interface {
	Step(pc int, r [uapi.MAX_BPF_REG]uint64)
}

// RunHook runs p on pkt as Run does, but on the reference interpreter
// with h called before each instruction (see Hook). The result is Run's.
func (p *Program) RunHook(pkt *packet.Packet, h Hook) (uint64, error) {
	m := p.pool.Get().(*Machine)
	r0, err := m.runHook(pkt, h)
	p.pool.Put(m)
	return r0, err
}

// runHook is Machine.Run on the reference interpreter with a hook.
func (m *Machine) runHook(pkt *packet.Packet, h Hook) (uint64, error) {
	if m.prog.opts.Context != ContextSkb || pkt == nil {
		return 0, &RunError{PC: 0, Err: ErrNoContext}
	}
	m.pkt = pkt
	m.RefreshPacket()
	m.regions[regMem] = region{}
	r0, err := m.interpretHook(addrOf(regCtx, 0), 0, h)
	m.resetDynamic()
	m.pkt = nil
	m.regions[regPacket] = region{}
	return r0, err
}

// Listing holds a program's instructions as text and their source lines,
// built once and shared by every trace and coverage of the program.
type Listing struct {
	// Bytecode is each slot's 8 bytes in hex, as bpftool's opcodes dump
	// prints them.
	Bytecode []string
	// Text is each instruction disassembled (Disassemble); the second slot
	// of an LD_IMM64 is empty.
	Text []string
	// Source is each slot's C source line, zero when unknown.
	Source []trace.Source
	// Cond marks conditional jumps.
	Cond []bool
	// Second marks the second slots of LD_IMM64, which never execute.
	Second []bool

	helperName func(int32) string
}

// NewListing returns the listing of p. helperName names helper calls (nil
// prints numbers only); src holds the slots' source lines and may be
// shorter than the program or nil.
func NewListing(p *Program, helperName func(int32) string, src []trace.Source) *Listing {
	n := len(p.raw)
	l := &Listing{Bytecode: make([]string, n), Text: make([]string, n), Source: make([]trace.Source, n),
		Cond: make([]bool, n), Second: make([]bool, n), helperName: helperName}
	copy(l.Source, src)
	for i := 0; i < n; i++ {
		b := Encode(p.raw[i : i+1])
		l.Bytecode[i] = fmt.Sprintf("%02x %02x %02x %02x %02x %02x %02x %02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7])
		if i > 0 && l.Second[i] {
			continue
		}
		l.Text[i] = Disassemble(p.raw, i, helperName)
		in := p.raw[i]
		if in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW && i+1 < n {
			l.Second[i+1] = true
		}
		l.Cond[i] = isCond(in)
	}
	return l
}

// CoverageInsns returns the instruction descriptions of a trace.Coverage
// of the listed program: every executable slot (not the second slots of
// LD_IMM64) with its source line. index maps each slot to its position in
// the result, -1 for a second slot.
func (l *Listing) CoverageInsns() (insns []trace.Insn, index []int) {
	index = make([]int, len(l.Text))
	for i := range l.Text {
		if l.Second[i] {
			index[i] = -1
			continue
		}
		index[i] = len(insns)
		insns = append(insns, trace.Insn{Bytecode: l.Bytecode[i], Text: l.Text[i], Cond: l.Cond[i], Source: l.Source[i]})
	}
	return insns, index
}

// isCond reports whether in is a conditional jump.
func isCond(in Instruction) bool {
	cls := in.Op & 0x07
	if cls != uapi.BPF_JMP && cls != uapi.BPF_JMP32 {
		return false
	}
	switch in.Op & 0xf0 {
	case uapi.BPF_JA, uapi.BPF_CALL, uapi.BPF_EXIT, uapi.BPF_JCOND:
		return false
	}
	return true
}

// taken reports whether the conditional jump in is taken with registers r.
func taken(in Instruction, r *[uapi.MAX_BPF_REG]uint64) bool {
	b := r[in.Src]
	if in.Op&uapi.BPF_X == 0 {
		b = uint64(int64(in.Imm))
	}
	return refCond(in.Op&0xf0, in.Op&0x07 == uapi.BPF_JMP32, r[in.Dst], b)
}

// Tracer records runs of one program into a trace.Trace. It is a Hook;
// one Tracer serves one run at a time.
type Tracer struct {
	prog *Program
	l    *Listing
	t    *trace.Trace
	pkt  *packet.Packet
	pc   int         // the instruction of the last Step, or -1
	cur  *trace.Step // its step, nil when the trace is full
}

// NewTracer returns a Tracer of p whose steps carry l's text and source
// lines.
func NewTracer(p *Program, l *Listing) *Tracer { return &Tracer{prog: p, l: l} }

// Run runs the program on pkt on the reference interpreter as RunHook
// does and records the run into t, which it resets first. A run fault is
// recorded as t.Fault, naming the instruction's source line when known,
// and returned as a *RunError.
func (tr *Tracer) Run(pkt *packet.Packet, t *trace.Trace) (uint64, error) {
	t.Reset()
	tr.t, tr.pkt, tr.pc, tr.cur = t, pkt, -1, nil
	r0, err := tr.prog.RunHook(pkt, tr)
	tr.finish(r0, err)
	tr.t, tr.pkt, tr.cur = nil, nil, nil
	return r0, err
}

func regName(n uint8) string { return regNames[n&0x0f] }

var regNames = [16]string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// Step completes the previous instruction's step with what it wrote, now
// visible in r, and opens the step of pc.
func (tr *Tracer) Step(pc int, regs [uapi.MAX_BPF_REG]uint64) {
	r := &regs
	if tr.cur != nil {
		tr.complete(r)
		if isLdPkt(tr.prog.raw[tr.pc]) && pc != tr.pc+1 {
			// A legacy packet load past the packet's end returned 0
			// from the function.
			tr.cur.Access.Fault = true
		}
	}
	tr.pc = pc
	tr.cur = tr.t.Next()
	s := tr.cur
	if s == nil {
		return
	}
	in := tr.prog.raw[pc]
	s.PC = pc
	s.Bytecode, s.Insn, s.Source = tr.l.Bytecode[pc], tr.l.Text[pc], tr.l.Source[pc]
	cls := in.Op & 0x07
	switch cls {
	case uapi.BPF_ALU, uapi.BPF_ALU64:
		op := in.Op & 0xf0
		if op != uapi.BPF_MOV {
			s.Read(regName(in.Dst), r[in.Dst])
		}
		if in.Op&uapi.BPF_X != 0 && op != uapi.BPF_END && op != uapi.BPF_NEG {
			s.Read(regName(in.Src), r[in.Src])
		}
	case uapi.BPF_JMP, uapi.BPF_JMP32:
		op := in.Op & 0xf0
		switch {
		case op == uapi.BPF_EXIT:
			s.Read("r0", r[0])
		case op == uapi.BPF_CALL && in.Src != uapi.BPF_PSEUDO_CALL:
			id := in.Imm
			if in.Op&uapi.BPF_X != 0 {
				s.Read(regName(in.Dst), r[in.Dst])
				id = int32(r[in.Dst])
			}
			s.HasCall = true
			s.Call = trace.Call{ID: id, Args: [5]uint64{r[1], r[2], r[3], r[4], r[5]}}
			if tr.l.helperName != nil {
				s.Call.Name = tr.l.helperName(id)
			}
			for i := uint8(1); i <= 5; i++ {
				s.Read(regName(i), r[i])
			}
		case isCond(in):
			s.Read(regName(in.Dst), r[in.Dst])
			if in.Op&uapi.BPF_X != 0 {
				s.Read(regName(in.Src), r[in.Src])
			}
			s.Branch = trace.BranchNotTaken
			if taken(in, r) {
				s.Branch = trace.BranchTaken
			}
		}
	case uapi.BPF_LD:
		switch in.Op & 0xe0 {
		case uapi.BPF_ABS, uapi.BPF_IND:
			off := int64(in.Imm)
			if in.Op&0xe0 == uapi.BPF_IND {
				s.Read(regName(in.Src), r[in.Src])
				off = int64(int32(uint32(r[in.Src]) + uint32(in.Imm)))
			}
			s.HasAccess = true
			s.Access = trace.Access{Region: trace.RegionPacket, Size: uint8(sizeBytes(in.Op)), Offset: off}
		}
	case uapi.BPF_LDX, uapi.BPF_ST, uapi.BPF_STX:
		mode := in.Op & 0xe0
		acq := mode == uapi.BPF_ATOMIC && in.Imm == uapi.BPF_LOAD_ACQ
		base := in.Dst
		if cls == uapi.BPF_LDX || acq {
			base = in.Src
		}
		s.Read(regName(base), r[base])
		write := cls != uapi.BPF_LDX && !acq
		a := tr.access(r[base]+uint64(int64(in.Off)), sizeBytes(in.Op), r)
		a.Write = write
		switch {
		case cls == uapi.BPF_ST:
			a.Value = uint64(int64(in.Imm))
		case cls == uapi.BPF_STX && !acq:
			s.Read(regName(in.Src), r[in.Src])
			a.Value = r[in.Src]
			if in.Imm == uapi.BPF_CMPXCHG && mode == uapi.BPF_ATOMIC {
				s.Read("r0", r[0])
			}
		}
		s.HasAccess = true
		s.Access = a
	}
}

// access describes the access of size bytes at address addr.
func (tr *Tracer) access(addr uint64, size uint32, r *[uapi.MAX_BPF_REG]uint64) trace.Access {
	a := trace.Access{Size: uint8(size), Offset: int64(uint32(addr))}
	switch id := int64(addr>>32) - regionTag; {
	case id == regCtx:
		a.Region = trace.RegionContext
		a.Name = skbFieldName(uint32(addr))
	case id == regStack:
		a.Region = trace.RegionStack
		a.Offset = int64(uint32(addr)) - int64(uint32(r[10]))
	case id == regPacket:
		a.Region = trace.RegionPacket
		if tr.pkt != nil {
			_, data, _, _ := tr.pkt.Buffer()
			a.Offset -= int64(data)
		}
	case id == regMem:
		a.Region = trace.RegionMemory
	case id >= regStatic && id < 1<<32-regionTag:
		a.Region = trace.RegionMap
	default:
		a.Region = trace.RegionMemory
		a.Offset = int64(addr)
	}
	return a
}

// complete records what the open step's instruction wrote, given the
// registers after it.
func (tr *Tracer) complete(r *[uapi.MAX_BPF_REG]uint64) {
	s, in := tr.cur, tr.prog.raw[tr.pc]
	cls := in.Op & 0x07
	switch cls {
	case uapi.BPF_ALU, uapi.BPF_ALU64, uapi.BPF_LDX:
		s.Write(regName(in.Dst), r[in.Dst])
	case uapi.BPF_LD:
		if in.Op&0xe0 == uapi.BPF_IMM {
			s.Write(regName(in.Dst), r[in.Dst])
		} else {
			s.Write("r0", r[0])
		}
	case uapi.BPF_JMP, uapi.BPF_JMP32:
		if s.HasCall {
			s.Call.Result = r[0]
			s.Write("r0", r[0])
		}
	case uapi.BPF_STX:
		if in.Op&0xe0 != uapi.BPF_ATOMIC {
			break
		}
		switch {
		case in.Imm == uapi.BPF_LOAD_ACQ:
			s.Write(regName(in.Dst), r[in.Dst])
		case in.Imm == uapi.BPF_CMPXCHG:
			s.Write("r0", r[0])
		case in.Imm&uapi.BPF_FETCH != 0:
			s.Write(regName(in.Src), r[in.Src])
		}
	}
	if s.HasAccess && !s.Access.Write {
		switch cls {
		case uapi.BPF_LD:
			s.Access.Value = r[0]
		default:
			s.Access.Value = r[in.Dst]
		}
	}
}

// isLdPkt reports whether in is a legacy LD_ABS or LD_IND.
func isLdPkt(in Instruction) bool {
	return in.Op&0x07 == uapi.BPF_LD && (in.Op&0xe0 == uapi.BPF_ABS || in.Op&0xe0 == uapi.BPF_IND)
}

// finish records the end of the run.
func (tr *Tracer) finish(r0 uint64, err error) {
	tr.t.Result = r0
	if tr.cur != nil {
		tr.cur.Ends = true
	}
	if err == nil {
		if tr.pc >= 0 && isLdPkt(tr.prog.raw[tr.pc]) {
			// The run ended on a legacy packet load: it was past the
			// packet's end, and the program returned 0.
			tr.t.Fault = "packet load out of bounds " + where(tr.l, tr.pc)
			if tr.cur != nil {
				tr.cur.Write("r0", 0)
				tr.cur.Access.Fault = true
			}
		}
		return
	}
	tr.t.Fault = FaultText(err, tr.l)
	if tr.cur != nil {
		tr.cur.Access.Fault = tr.cur.HasAccess
	}
}

// FaultText describes a run error for a trace: the cause and, for a
// *RunError, the instruction and its source line when known ("invalid
// memory access at vlan.c:9 (insn 4)").
func FaultText(err error, l *Listing) string {
	var re *RunError
	if !errors.As(err, &re) {
		return err.Error()
	}
	cause := re.Err.Error()
	if re.Cause != nil {
		cause += ": " + re.Cause.Error()
	}
	return cause + " " + where(l, re.PC)
}

// where names instruction pc: "at prog.c:42 (insn 7)", or "at insn 7"
// when its source line is not known.
func where(l *Listing, pc int) string {
	if l != nil && pc >= 0 && pc < len(l.Source) && l.Source[pc].Line != 0 {
		return fmt.Sprintf("at %s (insn %d)", l.Source[pc], pc)
	}
	return fmt.Sprintf("at insn %d", pc)
}

// Coverer counts runs of one program into a trace.Coverage made from the
// program's Listing.CoverageInsns. It is a Hook; its counters are the
// Coverage's atomics, so one Coverer may serve many runs at once.
type Coverer struct {
	prog  *Program
	c     *trace.Coverage
	index []int
}

// NewCoverer returns a Coverer counting into c, whose instructions are
// CoverageInsns of p's listing, with that call's index.
func NewCoverer(p *Program, c *trace.Coverage, index []int) *Coverer {
	return &Coverer{prog: p, c: c, index: index}
}

// Run runs the program on pkt on the reference interpreter and counts
// the run.
func (cv *Coverer) Run(pkt *packet.Packet) (uint64, error) {
	cv.c.AddRun()
	return cv.prog.RunHook(pkt, cv)
}

// Step counts the instruction at pc and a conditional jump's direction.
func (cv *Coverer) Step(pc int, r [uapi.MAX_BPF_REG]uint64) {
	i := cv.index[pc]
	cv.c.Hit(i)
	if in := cv.prog.raw[pc]; isCond(in) {
		cv.c.Branch(i, taken(in, &r))
	}
}

// skbFieldName names the struct __sk_buff field at byte offset off, or
// returns "".
func skbFieldName(off uint32) string {
	switch {
	case off >= 48 && off < 68:
		return cbNames[(off-48)/4]
	case off >= 100 && off < 116:
		return "remote_ip6"
	case off >= 116 && off < 132:
		return "local_ip6"
	}
	return skbFieldNames[off]
}

var cbNames = [5]string{"cb[0]", "cb[1]", "cb[2]", "cb[3]", "cb[4]"}

var skbFieldNames = map[uint32]string{
	0: "len", 4: "pkt_type", 8: "mark", 12: "queue_mapping", 16: "protocol",
	20: "vlan_present", 24: "vlan_tci", 28: "vlan_proto", 32: "priority",
	36: "ingress_ifindex", 40: "ifindex", 44: "tc_index", 68: "hash",
	72: "tc_classid", 76: "data", 80: "data_end", 84: "napi_id", 88: "family",
	92: "remote_ip4", 96: "local_ip4", 132: "remote_port", 136: "local_port",
	140: "data_meta", 144: "flow_keys", 152: "tstamp", 160: "wire_len",
	164: "gso_segs", 168: "sk", 176: "gso_size", 180: "tstamp_type", 184: "hwtstamp",
}

// Reuse points tr at program p with listing l, for pooled tracers.
func (tr *Tracer) Reuse(p *Program, l *Listing) { tr.prog, tr.l = p, l }
