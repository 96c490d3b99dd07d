package trace

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxSteps is the number of steps a Trace keeps when MaxSteps is
// zero: BPF_MAXINSNS, enough for any classic program, whose jumps only go
// forward.
const DefaultMaxSteps = 4096

// MaxRegs is the most registers one Step records as read or as written.
const MaxRegs = 6

// Region is the memory an Access touches.
type Region uint8

// The regions.
const (
	RegionPacket    Region = iota + 1 // packet bytes; negative offsets are SKF_NET_OFF/SKF_LL_OFF relative
	RegionScratch                     // classic scratch memory M[0..15]; the offset is the word index
	RegionAncillary                   // a classic SKF_AD_* extension; the offset is its number
	RegionContext                     // an eBPF program's context (struct __sk_buff); the offset is the field's
	RegionStack                       // an eBPF program's stack; the offset is relative to the frame pointer r10
	RegionMap                         // an eBPF map value; the offset is within the value
	RegionMemory                      // memory an eBPF run was given; the offset is from its start
)

// String returns the region's name as traces print it.
func (r Region) String() string {
	switch r {
	case RegionPacket:
		return "pkt"
	case RegionScratch:
		return "M"
	case RegionAncillary:
		return "anc"
	case RegionContext:
		return "ctx"
	case RegionStack:
		return "fp"
	case RegionMap:
		return "map"
	case RegionMemory:
		return "mem"
	}
	return fmt.Sprintf("region(%d)", uint8(r))
}

// Reg is a register and its value.
type Reg struct {
	// Name is the register's name ("A", "X", "r0" ...).
	Name string
	// Value is the register's value: before the step for a read, after it
	// for a write.
	Value uint64
}

// Access is one memory access of a step.
type Access struct {
	Region Region
	// Write is set for a store.
	Write bool
	// Fault is set when the access failed (a load past the packet's end),
	// which ends a classic program with 0.
	Fault bool
	// Size is the access width in bytes.
	Size uint8
	// Offset is the byte offset in the packet, the word index in scratch
	// memory, or the extension number.
	Offset int64
	// Name names an ancillary extension ("proto", "mark" ...).
	Name string
	// Value is the value loaded or stored; zero when Fault is set.
	Value uint64
}

// Branch is the direction a conditional jump took.
type Branch uint8

// The branch directions.
const (
	BranchNone     Branch = iota // not a conditional jump
	BranchTaken                  // the condition held (jt)
	BranchNotTaken               // the condition failed (jf)
)

// Source is the C source line an instruction was compiled from, as BTF
// line information records it. The zero Source means none is known.
type Source struct {
	// File is the source file's name as the compiler recorded it.
	File string
	// Line is the 1-based line number; 0 means no line is known.
	Line int
	// Text is the line's text, with surrounding white space removed.
	Text string
}

// String returns "file:line", the file's base name only, or "" for the
// zero Source.
func (s Source) String() string {
	if s.Line == 0 {
		return ""
	}
	f := s.File
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		f = f[i+1:]
	}
	return f + ":" + strconv.Itoa(s.Line)
}

// Call is a helper call of a step: the helper, its arguments and its
// result.
type Call struct {
	// ID is the helper's number (enum bpf_func_id).
	ID int32
	// Name is the helper's name ("bpf_skb_vlan_push").
	Name string
	// Args are R1..R5 at the call.
	Args [5]uint64
	// Result is R0 after the call; undefined when the call ended the run.
	Result uint64
}

// String returns the call as text: "call bpf_map_lookup_elem(0x1, 0x2,
// ...) = 0x0", with the five arguments R1..R5.
func (c Call) String() string {
	return fmt.Sprintf("call %s(%#x, %#x, %#x, %#x, %#x) = %#x", c.Name, c.Args[0], c.Args[1], c.Args[2], c.Args[3], c.Args[4], c.Result)
}

// Step is one executed instruction.
type Step struct {
	// PC is the instruction's index.
	PC int
	// Bytecode is the instruction as tc bytecode ("40 0 0 12").
	Bytecode string
	// Insn is the instruction disassembled ("ldh [12]").
	Insn string
	// Branch is the direction of a conditional jump.
	Branch Branch
	// Access is the memory access, valid when HasAccess is set.
	Access    Access
	HasAccess bool
	// Ends is set on the step that ended the run (a return or a fault).
	Ends bool
	// Call is the helper call, valid when HasCall is set (eBPF only).
	Call    Call
	HasCall bool
	// Source is the C source line of the instruction, when the program
	// came with BTF line information (eBPF only).
	Source Source

	reads, writes   [MaxRegs]Reg
	nreads, nwrites uint8
}

// Reads returns the registers the step read, with their values before it.
func (s *Step) Reads() []Reg { return s.reads[:s.nreads] }

// Writes returns the registers the step wrote, with their values after it.
func (s *Step) Writes() []Reg { return s.writes[:s.nwrites] }

// Read records a register read; reads past MaxRegs are dropped.
func (s *Step) Read(name string, v uint64) {
	if s.nreads < MaxRegs {
		s.reads[s.nreads] = Reg{name, v}
		s.nreads++
	}
}

// Write records a register write; writes past MaxRegs are dropped.
func (s *Step) Write(name string, v uint64) {
	if s.nwrites < MaxRegs {
		s.writes[s.nwrites] = Reg{name, v}
		s.nwrites++
	}
}

// Trace is the record of one run: the executed instructions in order and
// the result. Its zero value is ready to use; reusing a Trace keeps its
// storage, so a run into a reused Trace allocates nothing. A Trace is
// not safe for concurrent use.
type Trace struct {
	// MaxSteps bounds Steps; zero means DefaultMaxSteps. Steps past it
	// are counted in Executed but not kept, and Truncated is set.
	MaxSteps int
	// Steps are the executed instructions, at most MaxSteps of them.
	Steps []Step
	// Truncated is set when the run executed more than MaxSteps
	// instructions.
	Truncated bool
	// Executed counts every executed instruction, kept or not.
	Executed int
	// Result is the program's result.
	Result uint64
	// Fault describes how the run ended abnormally ("packet load out of
	// bounds", "division by zero"), or is empty.
	Fault string
}

// Reset empties t for a new run, keeping its storage and MaxSteps.
func (t *Trace) Reset() {
	clear(t.Steps)
	t.Steps = t.Steps[:0]
	t.Truncated = false
	t.Executed = 0
	t.Result = 0
	t.Fault = ""
}

// Next counts one executed instruction and returns the Step to fill for
// it, or nil when the trace is full (and then sets Truncated).
func (t *Trace) Next() *Step {
	t.Executed++
	limit := t.MaxSteps
	if limit <= 0 {
		limit = DefaultMaxSteps
	}
	if len(t.Steps) >= limit {
		t.Truncated = true
		return nil
	}
	t.Steps = append(t.Steps, Step{})
	return &t.Steps[len(t.Steps)-1]
}

// Last returns the last kept step, or nil.
func (t *Trace) Last() *Step {
	if len(t.Steps) == 0 {
		return nil
	}
	return &t.Steps[len(t.Steps)-1]
}

// String returns the trace as text, one line per step: the pc, the
// bytecode, the disassembly, the registers read and written, the memory
// access and the branch direction, then the result.
//
// When the steps carry source lines, each change of line is announced by
// a line "; text  (file:line)" before the step, as bpftool prints
// programs with line information.
func (t *Trace) String() string {
	var b strings.Builder
	var src Source
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.Source.Line != 0 && s.Source != src {
			src = s.Source
			fmt.Fprintf(&b, "; %s  (%s)\n", src.Text, src)
		}
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	if t.Truncated {
		fmt.Fprintf(&b, "... truncated: %d of %d steps kept\n", len(t.Steps), t.Executed)
	}
	if t.Fault != "" {
		fmt.Fprintf(&b, "fault: %s\n", t.Fault)
	}
	fmt.Fprintf(&b, "result %#x\n", t.Result)
	return b.String()
}

// String returns the step as one line of text: the instruction (tabs
// printed as spaces), its bytecode, then what it read, wrote and accessed
// and the branch direction, e.g.
// "(008) jeq #0x50 jt 9 jf 10 | 21 0 1 80 | read A=0x50 | taken".
func (s *Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s | %-18s", strings.ReplaceAll(s.Insn, "\t", " "), s.Bytecode)
	if s.nreads > 0 {
		b.WriteString(" | read")
		for _, r := range s.Reads() {
			fmt.Fprintf(&b, " %s=%#x", r.Name, r.Value)
		}
	}
	if s.nwrites > 0 {
		b.WriteString(" | write")
		for _, r := range s.Writes() {
			fmt.Fprintf(&b, " %s=%#x", r.Name, r.Value)
		}
	}
	if s.HasAccess {
		b.WriteString(" | ")
		b.WriteString(s.Access.String())
	}
	if s.HasCall {
		b.WriteString(" | ")
		b.WriteString(s.Call.String())
	}
	switch s.Branch {
	case BranchTaken:
		b.WriteString(" | taken")
	case BranchNotTaken:
		b.WriteString(" | not taken")
	}
	return strings.TrimRight(b.String(), " ")
}

// String returns the access as text: "load pkt[23:1]=0x6",
// "store M[3]=0x1", "load anc[proto]=0x800", "load pkt[60:2] fault";
// "none" for the zero Access.
func (a Access) String() string {
	if a.Region == 0 {
		return "none"
	}
	op := "load"
	if a.Write {
		op = "store"
	}
	var where string
	switch a.Region {
	case RegionScratch:
		where = fmt.Sprintf("M[%d]", a.Offset)
	case RegionAncillary:
		where = fmt.Sprintf("anc[%s]", a.Name)
	case RegionStack:
		where = fmt.Sprintf("fp[%d:%d]", a.Offset, a.Size)
	case RegionContext:
		if a.Name != "" {
			where = fmt.Sprintf("ctx[%s]", a.Name)
		} else {
			where = fmt.Sprintf("ctx[%d:%d]", a.Offset, a.Size)
		}
	default:
		where = fmt.Sprintf("%s[%d:%d]", a.Region, a.Offset, a.Size)
	}
	if a.Fault {
		return op + " " + where + " fault"
	}
	return fmt.Sprintf("%s %s=%#x", op, where, a.Value)
}
