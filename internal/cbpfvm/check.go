package cbpfvm

import (
	"fmt"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The checker: the kernel's accept/reject decision for a classic program
// (net/core/filter.c bpf_check_basics_ok, bpf_check_classic,
// check_load_and_stores, and the jump-range limit of bpf_convert_filter), in
// the kernel's order, so that the first rejection found is the one the
// kernel would report.

// Insn is one classic instruction, struct sock_filter.
type Insn struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Reason says why the checker rejected a program.
type Reason uint8

// Rejection reasons, one per rule of bpf_check_classic and its callers.
const (
	// ReasonLength: no instructions, or more than BPF_MAXINSNS (4096).
	ReasonLength Reason = iota + 1
	// ReasonOpcode: an opcode the classic instruction set does not have.
	ReasonOpcode
	// ReasonDivByZero: DIV or MOD by the constant 0.
	ReasonDivByZero
	// ReasonShift: LSH or RSH by a constant of 32 or more.
	ReasonShift
	// ReasonScratchIndex: a scratch memory index of 16 or more.
	ReasonScratchIndex
	// ReasonJumpRange: a jump whose target is past the last instruction.
	ReasonJumpRange
	// ReasonAncillary: an LD ABS into the ancillary area (k >= SKF_AD_OFF)
	// that names no known extension.
	ReasonAncillary
	// ReasonNoReturn: the last instruction is not RET K or RET A.
	ReasonNoReturn
	// ReasonScratchUninit: a scratch word read on a path where it may not
	// have been written.
	ReasonScratchUninit
	// ReasonTranslation: the program is valid classic BPF but its eBPF
	// translation has a jump longer than a signed 16-bit offset.
	ReasonTranslation
)

var reasonText = [...]string{
	ReasonLength:        "program length out of range",
	ReasonOpcode:        "unknown opcode",
	ReasonDivByZero:     "division by constant zero",
	ReasonShift:         "shift by constant of 32 or more",
	ReasonScratchIndex:  "scratch memory index out of range",
	ReasonJumpRange:     "jump target out of range",
	ReasonAncillary:     "unknown ancillary load",
	ReasonNoReturn:      "last instruction is not a return",
	ReasonScratchUninit: "scratch memory read before write",
	ReasonTranslation:   "translated jump offset out of range",
}

// String describes the reason in a few words.
func (r Reason) String() string {
	if int(r) < len(reasonText) && reasonText[r] != "" {
		return reasonText[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Rejection is the checker's verdict on a bad program: the instruction (or
// -1 for the program as a whole) and the reason.
type Rejection struct {
	Index  int
	Reason Reason
}

// Check runs the kernel's checks on prog and returns nil if the kernel
// would accept it.
func Check(prog []Insn) *Rejection {
	n := len(prog)
	if n == 0 || n > uapi.BPF_MAXINSNS {
		return &Rejection{Index: -1, Reason: ReasonLength}
	}
	for pc, in := range prog {
		if !Allowed(in.Code) {
			return &Rejection{pc, ReasonOpcode}
		}
		switch in.Code {
		case alu | uapi.BPF_DIV | uapi.BPF_K, alu | uapi.BPF_MOD | uapi.BPF_K:
			if in.K == 0 {
				return &Rejection{pc, ReasonDivByZero}
			}
		case alu | uapi.BPF_LSH | uapi.BPF_K, alu | uapi.BPF_RSH | uapi.BPF_K:
			if in.K >= 32 {
				return &Rejection{pc, ReasonShift}
			}
		case ld | uapi.BPF_MEM, ldx | uapi.BPF_MEM, uapi.BPF_ST, uapi.BPF_STX:
			if in.K >= uapi.BPF_MEMWORDS {
				return &Rejection{pc, ReasonScratchIndex}
			}
		case jmp | uapi.BPF_JA:
			if in.K >= uint32(n-pc-1) {
				return &Rejection{pc, ReasonJumpRange}
			}
		case jmp | uapi.BPF_JEQ | uapi.BPF_K, jmp | uapi.BPF_JEQ | uapi.BPF_X,
			jmp | uapi.BPF_JGE | uapi.BPF_K, jmp | uapi.BPF_JGE | uapi.BPF_X,
			jmp | uapi.BPF_JGT | uapi.BPF_K, jmp | uapi.BPF_JGT | uapi.BPF_X,
			jmp | uapi.BPF_JSET | uapi.BPF_K, jmp | uapi.BPF_JSET | uapi.BPF_X:
			if pc+int(in.Jt)+1 >= n || pc+int(in.Jf)+1 >= n {
				return &Rejection{pc, ReasonJumpRange}
			}
		case ld | uapi.BPF_W | uapi.BPF_ABS, ld | uapi.BPF_H | uapi.BPF_ABS, ld | uapi.BPF_B | uapi.BPF_ABS:
			if _, ok := lookupAnc(in.K); !ok && in.K >= skfADOff {
				return &Rejection{pc, ReasonAncillary}
			}
		}
	}
	switch prog[n-1].Code {
	case ret | uapi.BPF_K, ret | uapi.BPF_A:
	default:
		return &Rejection{n - 1, ReasonNoReturn}
	}
	if r := checkLoadAndStores(prog); r != nil {
		return r
	}
	return checkTranslation(prog)
}

// checkLoadAndStores is the kernel's scratch-memory analysis: a word may
// be read only if every jump into the reading instruction's path, and the
// fall-through before it, had it written. The analysis is the kernel's
// single forward pass, quirks included: a RET does not reset the state, so
// code after a RET reached only by a jump still sees the RET's state.
func checkLoadAndStores(prog []Insn) *Rejection {
	masks := make([]uint16, len(prog))
	for i := range masks {
		masks[i] = 0xffff
	}
	var memvalid uint16
	for pc, in := range prog {
		memvalid &= masks[pc]
		switch in.Code {
		case uapi.BPF_ST, uapi.BPF_STX:
			memvalid |= 1 << in.K
		case ld | uapi.BPF_MEM, ldx | uapi.BPF_MEM:
			if memvalid&(1<<in.K) == 0 {
				return &Rejection{pc, ReasonScratchUninit}
			}
		case jmp | uapi.BPF_JA:
			masks[pc+1+int(in.K)] &= memvalid
			memvalid = 0xffff
		case jmp | uapi.BPF_JEQ | uapi.BPF_K, jmp | uapi.BPF_JEQ | uapi.BPF_X,
			jmp | uapi.BPF_JGE | uapi.BPF_K, jmp | uapi.BPF_JGE | uapi.BPF_X,
			jmp | uapi.BPF_JGT | uapi.BPF_K, jmp | uapi.BPF_JGT | uapi.BPF_X,
			jmp | uapi.BPF_JSET | uapi.BPF_K, jmp | uapi.BPF_JSET | uapi.BPF_X:
			masks[pc+1+int(in.Jt)] &= memvalid
			masks[pc+1+int(in.Jf)] &= memvalid
			memvalid = 0xffff
		}
	}
	return nil
}
