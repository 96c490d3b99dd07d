package cbpfvm

// The pre-decoded form: a checked program rewritten once, at load, into a
// flat slice of small instructions whose kind already says everything the
// opcode, the operand and the offset range imply (an LD ABS at a
// non-negative offset, at a header-relative one, or of which extension),
// with jump targets resolved to absolute indexes. exec.go runs it with one
// switch per instruction and no decoding. A later compiled form can be
// built from the same kinds.

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
)

// op is one pre-decoded instruction. For jumps, jt and jf are absolute
// instruction indexes (JA uses jt).
type op struct {
	kind kind
	k    uint32
	jt   uint32
	jf   uint32
}

// Prog is a checked program in pre-decoded form, immutable and safe for
// concurrent use.
type Prog struct {
	ops []op
}

// Compile pre-decodes prog, which must have passed Check.
func Compile(prog []Insn) *Prog {
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
			o.jt = uint32(pc + 1 + int(in.K))
		case kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX:
			o.jt = uint32(pc + 1 + int(in.Jt))
			o.jf = uint32(pc + 1 + int(in.Jf))
		}
		ops[pc] = o
	}
	return &Prog{ops: ops}
}

// Len is the number of instructions.
func (p *Prog) Len() int { return len(p.ops) }
