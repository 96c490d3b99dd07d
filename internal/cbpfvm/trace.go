package cbpfvm

import (
	"strconv"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Tracing and coverage ride on the reference interpreter's Env.Trace hook,
// which sees each instruction's pc with A and X before it runs. That is
// all a classic program's effects need: what an instruction wrote is A or
// X before the next one, a scratch load's value is the register it
// loads, a store's is the register it stores, a conditional jump's
// direction follows from A, X and k, and a run that ends on an
// instruction other than a return ended on a fault (a load past the
// packet or a division by X == 0), whose result is 0.

// Listing holds a program's instructions as text: tc bytecode and
// disassembly, built once and shared by every trace of the program.
type Listing struct {
	// Bytecode is each instruction as tc bytecode, "code jt jf k".
	Bytecode []string
	// Text is each instruction as `tcpdump -d` prints it.
	Text []string
}

// NewListing returns the listing of prog.
func NewListing(prog []Insn) *Listing {
	l := &Listing{Bytecode: make([]string, len(prog)), Text: make([]string, len(prog))}
	for i, in := range prog {
		l.Bytecode[i] = strconv.Itoa(int(in.Code)) + " " + strconv.Itoa(int(in.Jt)) + " " +
			strconv.Itoa(int(in.Jf)) + " " + strconv.FormatUint(uint64(in.K), 10)
		l.Text[i] = Disassemble(i, in.Code, in.Jt, in.Jf, in.K)
	}
	return l
}

// CoverageInsns returns the instruction descriptions of a trace.Coverage
// for prog, whose listing is l.
func (l *Listing) CoverageInsns(prog []Insn) []trace.Insn {
	out := make([]trace.Insn, len(prog))
	for i, in := range prog {
		_, cond := condition(in, 0, 0)
		out[i] = trace.Insn{Bytecode: l.Bytecode[i], Text: l.Text[i], Cond: cond}
	}
	return out
}

// InterpretTrace runs prog on the reference interpreter as Interpret does
// and records the run into t, which it resets first. The result is
// Interpret's.
func InterpretTrace(prog []Insn, l *Listing, pkt *packet.Packet, random func() uint32, t *trace.Trace) uint32 {
	t.Reset()
	r := recorder{prog: prog, l: l, pkt: pkt, t: t, pc: -1}
	env := Env{Random: random, Trace: r.step}
	res := Interpret(prog, pkt, &env)
	r.finish(res)
	return res
}

// InterpretCover runs prog on the reference interpreter as Interpret does
// and counts the run, its instructions and its branch directions into c,
// which must have been made for prog. c's counters are atomic.
func InterpretCover(prog []Insn, pkt *packet.Packet, random func() uint32, c *trace.Coverage) uint32 {
	c.AddRun()
	r := coverer{prog: prog, c: c}
	env := Env{Random: random, Trace: r.step}
	return Interpret(prog, pkt, &env)
}

// coverer counts a run into a Coverage.
type coverer struct {
	prog []Insn
	c    *trace.Coverage
}

func (r *coverer) step(pc int, a, x uint32) {
	r.c.Hit(pc)
	if taken, cond := condition(r.prog[pc], a, x); cond {
		r.c.Branch(pc, taken)
	}
}

// recorder fills a Trace from the interpreter's hook.
type recorder struct {
	prog []Insn
	l    *Listing
	pkt  *packet.Packet
	t    *trace.Trace
	pc   int         // the instruction of the last hook call, or -1
	cur  *trace.Step // its step, nil when the trace is full
}

// step completes the previous instruction's step with the registers it
// wrote, now visible, and opens the step of pc.
func (r *recorder) step(pc int, a, x uint32) {
	if r.cur != nil {
		r.complete(a, x)
	}
	r.pc = pc
	r.cur = r.t.Next()
	s := r.cur
	if s == nil {
		return
	}
	in := r.prog[pc]
	s.PC = pc
	s.Bytecode, s.Insn = r.l.Bytecode[pc], r.l.Text[pc]
	switch in.Code & 0x07 {
	case uapi.BPF_LD, uapi.BPF_LDX:
		mode := in.Code & 0xe0
		switch mode {
		case uapi.BPF_ABS:
			if anc, ok := lookupAnc(in.K); ok && in.Code&0x07 == uapi.BPF_LD {
				switch anc.kind {
				case kAncNlattr, kAncNlattrNest:
					s.Read("A", uint64(a))
					s.Read("X", uint64(x))
				case kAncXorX:
					s.Read("A", uint64(a))
					s.Read("X", uint64(x))
				}
				s.HasAccess = true
				s.Access = trace.Access{Region: trace.RegionAncillary, Size: 4,
					Offset: int64(in.K - skfADOff), Name: anc.name}
				return
			}
			s.HasAccess = true
			s.Access = trace.Access{Region: trace.RegionPacket, Size: uint8(loadSize(in.Code)), Offset: int64(int32(in.K))}
		case uapi.BPF_IND:
			s.Read("X", uint64(x))
			s.HasAccess = true
			s.Access = trace.Access{Region: trace.RegionPacket, Size: uint8(loadSize(in.Code)), Offset: int64(int32(x + in.K))}
		case uapi.BPF_MSH:
			s.HasAccess = true
			s.Access = trace.Access{Region: trace.RegionPacket, Size: 1, Offset: int64(int32(in.K))}
		case uapi.BPF_MEM:
			s.HasAccess = true
			s.Access = trace.Access{Region: trace.RegionScratch, Size: 4, Offset: int64(in.K)}
		}
	case uapi.BPF_ST:
		s.Read("A", uint64(a))
		s.HasAccess = true
		s.Access = trace.Access{Region: trace.RegionScratch, Write: true, Size: 4, Offset: int64(in.K), Value: uint64(a)}
	case uapi.BPF_STX:
		s.Read("X", uint64(x))
		s.HasAccess = true
		s.Access = trace.Access{Region: trace.RegionScratch, Write: true, Size: 4, Offset: int64(in.K), Value: uint64(x)}
	case uapi.BPF_ALU:
		s.Read("A", uint64(a))
		if in.Code&0xf0 != uapi.BPF_NEG && in.Code&uapi.BPF_X != 0 {
			s.Read("X", uint64(x))
		}
	case uapi.BPF_JMP:
		if taken, cond := condition(in, a, x); cond {
			s.Read("A", uint64(a))
			if in.Code&uapi.BPF_X != 0 {
				s.Read("X", uint64(x))
			}
			s.Branch = trace.BranchNotTaken
			if taken {
				s.Branch = trace.BranchTaken
			}
		}
	case uapi.BPF_RET:
		if in.Code&0x18 == uapi.BPF_A {
			s.Read("A", uint64(a))
		}
	case uapi.BPF_MISC:
		if in.Code&0xf8 == uapi.BPF_TAX {
			s.Read("A", uint64(a))
		} else {
			s.Read("X", uint64(x))
		}
	}
}

// complete records what the open step's instruction wrote, given A and X
// after it.
func (r *recorder) complete(a, x uint32) {
	s, in := r.cur, r.prog[r.pc]
	switch in.Code & 0x07 {
	case uapi.BPF_LD, uapi.BPF_ALU:
		s.Write("A", uint64(a))
		if s.HasAccess && !s.Access.Write {
			s.Access.Value = uint64(a)
		}
	case uapi.BPF_LDX:
		s.Write("X", uint64(x))
		if s.HasAccess && !s.Access.Write {
			s.Access.Value = uint64(x)
			if in.Code&0xe0 == uapi.BPF_MSH {
				// X holds 4*(byte&0xf); the access read the whole
				// byte, which the load that succeeded reads again.
				v, _ := loadN(r.pkt, frameOf(r.pkt), int32(in.K), 1)
				s.Access.Value = uint64(v)
			}
		}
	case uapi.BPF_MISC:
		if in.Code&0xf8 == uapi.BPF_TAX {
			s.Write("X", uint64(x))
		} else {
			s.Write("A", uint64(a))
		}
	}
}

// finish records the end of the run: a return, or a fault on the last
// instruction.
func (r *recorder) finish(res uint32) {
	r.t.Result = uint64(res)
	if r.pc < 0 {
		return
	}
	in := r.prog[r.pc]
	if in.Code&0x07 == uapi.BPF_RET {
		if r.cur != nil {
			r.cur.Ends = true
		}
		return
	}
	if in.Code&0x07 == uapi.BPF_ALU {
		r.t.Fault = "division by zero"
	} else {
		r.t.Fault = "packet load out of bounds"
	}
	if r.cur != nil {
		r.cur.Ends = true
		r.cur.Access.Fault = r.cur.HasAccess
	}
}

// condition reports whether in is a conditional jump and, if so, whether
// it is taken with A = a and X = x.
func condition(in Insn, a, x uint32) (taken, cond bool) {
	if in.Code&0x07 != uapi.BPF_JMP || in.Code&0xf0 == uapi.BPF_JA {
		return false, false
	}
	v := in.K
	if in.Code&uapi.BPF_X != 0 {
		v = x
	}
	switch in.Code & 0xf0 {
	case uapi.BPF_JEQ:
		return a == v, true
	case uapi.BPF_JGT:
		return a > v, true
	case uapi.BPF_JGE:
		return a >= v, true
	case uapi.BPF_JSET:
		return a&v != 0, true
	}
	return false, false
}
