package cbpfvm

import "github.com/clsbpf/clsbpf/internal/uapi"

// The fused form: the pre-decoded operations with superinstructions
// written over the instructions that start a common pattern, so that a
// run dispatches once where the pre-decoded form dispatches two or three
// times. Two patterns cover most of what tcpdump and hand-written filters
// emit:
//
//   - a guard: a packet load (LD ABS at a non-negative offset, or LD IND),
//     optionally an AND with a constant, then a conditional jump on a
//     constant ("ldh [12]; jeq #0x800", "ld [26]; and #0xff000000; jeq
//     #0xa000000", "ldb [x + 27]; jset #0x2");
//   - a table: three or more JEQ #k in a row, each falling through to the
//     next when false (a port or protocol list), looked up in one
//     operation.
//
// A superinstruction replaces only the operation at the pattern's first
// instruction. The operations of the instructions it covers stay as they
// were, so a jump into the middle of a pattern still finds them, and the
// superinstruction's own jumps are those of the pattern's last
// instruction. Its result is, by construction, the result of running the
// instructions it covers one after the other: A ends as the (masked)
// loaded value, X and the scratch memory are untouched, and a failed load
// ends the program with 0 at the same point.

// minTable is the shortest JEQ run worth a table.
const minTable = 3

// CompileFused compiles prog, which must have passed Check, into the fused
// form: the pre-decoded operations with superinstructions.
func CompileFused(prog []Insn) *Prog {
	base := predecode(prog)
	p := &Prog{ops: make([]op, len(base))}
	copy(p.ops, base)
	for i := range prog {
		if o, ok := guardAt(prog, base, i); ok {
			p.ops[i] = o
			p.fused++
			continue
		}
		if i > 0 && prog[i-1].Code == jmp|uapi.BPF_JEQ|uapi.BPF_K && prog[i-1].Jf == 0 {
			continue // inside a run already tabled
		}
		if n := jeqRun(prog, i); n >= minTable {
			p.fused += p.table(prog, base, i, n)
		}
	}
	return p
}

// Fused is the number of superinstructions in the program: 0 for the
// pre-decoded form.
func (p *Prog) Fused() int { return p.fused }

// guardKinds maps a plain load kind to its guard kinds (the Eq form; the
// Gt form is three kinds further on).
var guardKinds = map[kind]kind{
	kLdAbsW: kGuardAbsWEq,
	kLdAbsH: kGuardAbsHEq,
	kLdAbsB: kGuardAbsBEq,
	kLdIndW: kGuardIndWEq,
	kLdIndH: kGuardIndHEq,
	kLdIndB: kGuardIndBEq,
}

// guardAt returns the guard that starts at instruction i, if one does.
func guardAt(prog []Insn, base []op, i int) (op, bool) {
	g, ok := guardKinds[base[i].kind]
	if !ok {
		return op{}, false
	}
	j := i + 1
	mask := ^uint32(0)
	if j < len(prog) && prog[j].Code == alu|uapi.BPF_AND|uapi.BPF_K {
		mask = prog[j].K
		j++
	}
	if j >= len(prog) {
		return op{}, false
	}
	in, jo := prog[j], base[j]
	o := op{k: base[i].k, mask: mask, jt: jo.jt, jf: jo.jf, test: ^uint32(0)}
	switch in.Code {
	case jmp | uapi.BPF_JEQ | uapi.BPF_K:
		o.kind, o.cmp = g, in.K
	case jmp | uapi.BPF_JSET | uapi.BPF_K:
		// A & k != 0 is the negation of A & k == 0.
		o.kind, o.test, o.cmp = g, in.K, 0
		o.jt, o.jf = jo.jf, jo.jt
	case jmp | uapi.BPF_JGT | uapi.BPF_K:
		o.kind, o.cmp = g+3, in.K
	case jmp | uapi.BPF_JGE | uapi.BPF_K:
		if in.K == 0 {
			// Always true: A & 0 == 0.
			o.kind, o.test, o.cmp = g, 0, 0
		} else {
			o.kind, o.cmp = g+3, in.K-1
		}
	default:
		return op{}, false
	}
	return o, true
}

// jeqRun returns the length of the run of JEQ #k starting at i in which
// every instruction but the last falls through to the next when false.
func jeqRun(prog []Insn, i int) int {
	n := 0
	for j := i; j < len(prog) && prog[j].Code == jmp|uapi.BPF_JEQ|uapi.BPF_K; j++ {
		n++
		if prog[j].Jf != 0 {
			break
		}
	}
	return n
}

// table stores the entries of the n JEQs starting at i, the constants in
// program order (the first match wins, as the sequence decides) with their
// targets, and writes a kJeqTable over every JEQ of the run that still has
// minTable or more to go: each looks up its own suffix of the entries, so
// a jump into the run finds a table too. No match goes where the last
// JEQ's false branch goes. It returns the number of tables written.
func (p *Prog) table(prog []Insn, base []op, i, n int) int {
	start := len(p.keys)
	for j := i; j < i+n; j++ {
		p.keys = append(p.keys, prog[j].K)
		p.targets = append(p.targets, base[j].jt)
	}
	last := base[i+n-1].jf
	for j := 0; n-j >= minTable; j++ {
		p.ops[i+j] = op{kind: kJeqTable, jf: last, cmp: uint32(start + j), mask: uint32(n - j)}
	}
	return n - minTable + 1
}
