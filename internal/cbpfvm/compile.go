package cbpfvm

// The pre-decoded form: a checked program rewritten once, at load, into a
// flat slice of small instructions whose kind already says everything the
// opcode, the operand and the offset range imply (an LD ABS at a
// non-negative offset, at a header-relative one, or of which extension),
// with jump targets resolved to absolute indexes. exec.go runs it with one
// switch per instruction and no decoding; fuse.go adds superinstructions
// to the same kinds and closure.go compiles the result to closures.

// kind is a pre-decoded operation.
type kind uint8

// The kinds. The table in ops.go maps each opcode to its kind; compile
// refines the loads by offset range.
const (
	kInvalid kind = iota
	kRetK
	kRetA
	kLdImm
	kLdxImm
	kLdLen
	kLdxLen
	kLdMem
	kLdxMem
	kSt
	kStx
	kTax
	kTxa
	kLdAbsW // k >= 0: a packet offset from skb->data
	kLdAbsH
	kLdAbsB
	kLdNegW // k < 0 outside the ancillary area: header-relative or failing
	kLdNegH
	kLdNegB
	kLdIndW
	kLdIndH
	kLdIndB
	kLdxMsh
	kAddK
	kSubK
	kMulK
	kDivK
	kModK
	kAndK
	kOrK
	kXorK
	kLshK
	kRshK
	kAddX
	kSubX
	kMulX
	kDivX
	kModX
	kAndX
	kOrX
	kXorX
	kLshX
	kRshX
	kNeg
	kJA
	kJeqK
	kJgtK
	kJgeK
	kJsetK
	kJeqX
	kJgtX
	kJgeX
	kJsetX
	kAncProtocol
	kAncPktType
	kAncIfindex
	kAncNlattr
	kAncNlattrNest
	kAncMark
	kAncQueue
	kAncHatype
	kAncRxhash
	kAncCPU
	kAncXorX
	kAncVlanTag
	kAncVlanPresent
	kAncPayOffset
	kAncRandom
	kAncVlanTPID

	// Superinstructions (fuse.go): a packet load, an optional AND with a
	// constant and a conditional jump on a constant, as one operation. The
	// compare is normalised to "A & test == cmp" (JEQ, JSET, JGE #0) or
	// "A > cmp" (JGT, JGE).
	kGuardAbsWEq
	kGuardAbsHEq
	kGuardAbsBEq
	kGuardAbsWGt
	kGuardAbsHGt
	kGuardAbsBGt
	kGuardIndWEq
	kGuardIndHEq
	kGuardIndBEq
	kGuardIndWGt
	kGuardIndHGt
	kGuardIndBGt
	// kJeqTable is a run of JEQ #k whose false branches fall through to
	// the next: one lookup in a table of constants and targets.
	kJeqTable
)

// op is one pre-decoded instruction. For jumps, jt and jf are absolute
// instruction indexes (JA uses jt); a program has at most BPF_MAXINSNS
// instructions, so they fit 16 bits. mask, test and cmp are the extra
// constants of a superinstruction; a kJeqTable keeps the first index of
// its entries in cmp and their number in mask.
type op struct {
	kind kind
	jt   uint16
	jf   uint16
	k    uint32
	mask uint32
	test uint32
	cmp  uint32
}

// Prog is a checked program in pre-decoded or compiled form, immutable and
// safe for concurrent use.
type Prog struct {
	ops []op
	// keys and targets are the entries of the kJeqTable operations.
	keys    []uint32
	targets []uint16
	fused   int
}

// Compile pre-decodes prog, which must have passed Check: one operation per
// instruction, no superinstructions.
func Compile(prog []Insn) *Prog {
	return &Prog{ops: predecode(prog)}
}

// predecode builds the pre-decoded operations of prog.
func predecode(prog []Insn) []op {
	ops := make([]op, len(prog))
	for pc, in := range prog {
		info, _ := lookup(in.Code)
		o := op{kind: info.kind, k: in.K}
		switch info.kind {
		case kLdAbsW, kLdAbsH, kLdAbsB:
			if anc, ok := lookupAnc(in.K); ok {
				o.kind = anc.kind
			} else if int32(in.K) < 0 {
				o.kind = kLdNegW + (info.kind - kLdAbsW)
			}
		case kJA:
			o.jt = uint16(pc + 1 + int(in.K))
		case kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX:
			o.jt = uint16(pc + 1 + int(in.Jt))
			o.jf = uint16(pc + 1 + int(in.Jf))
		}
		ops[pc] = o
	}
	return ops
}

// Len is the number of instructions.
func (p *Prog) Len() int { return len(p.ops) }
