package cbpf

import (
	"fmt"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/cbpfvm"
)

// Reason says why the checker rejected a program; each value is one rule
// of the kernel's bpf_check_classic and its callers.
type Reason = cbpfvm.Reason

// The reasons a program is rejected.
const (
	// ReasonLength: no instructions, or more than 4096 (BPF_MAXINSNS).
	ReasonLength = cbpfvm.ReasonLength
	// ReasonOpcode: an opcode the classic instruction set does not have.
	ReasonOpcode = cbpfvm.ReasonOpcode
	// ReasonDivByZero: DIV or MOD by the constant 0.
	ReasonDivByZero = cbpfvm.ReasonDivByZero
	// ReasonShift: LSH or RSH by a constant of 32 or more.
	ReasonShift = cbpfvm.ReasonShift
	// ReasonScratchIndex: a scratch memory index of 16 (BPF_MEMWORDS) or
	// more.
	ReasonScratchIndex = cbpfvm.ReasonScratchIndex
	// ReasonJumpRange: a jump whose target lies past the last instruction.
	ReasonJumpRange = cbpfvm.ReasonJumpRange
	// ReasonAncillary: an LD ABS into the ancillary area (k >= SKF_AD_OFF)
	// naming no known extension.
	ReasonAncillary = cbpfvm.ReasonAncillary
	// ReasonNoReturn: the last instruction is not RET K or RET A.
	ReasonNoReturn = cbpfvm.ReasonNoReturn
	// ReasonScratchUninit: a scratch word is read on a path where it may
	// not have been written (check_load_and_stores).
	ReasonScratchUninit = cbpfvm.ReasonScratchUninit
	// ReasonTranslation: the eBPF translation of the program would need a
	// jump longer than a signed 16-bit offset (bpf_convert_filter).
	ReasonTranslation = cbpfvm.ReasonTranslation
)

// CheckError is the checker's rejection of a program. It wraps
// syscall.EINVAL, the kernel's answer, so errors.Is(err, syscall.EINVAL)
// holds.
type CheckError struct {
	// Index is the instruction the kernel stopped at, or -1 when the
	// program as a whole is wrong (its length).
	Index int
	// Insn is the instruction at Index (zero when Index is -1).
	Insn bpf.RawInstruction
	// Reason is the rule the program broke.
	Reason Reason
}

func newCheckError(raw []bpf.RawInstruction, r *cbpfvm.Rejection) *CheckError {
	e := &CheckError{Index: r.Index, Reason: r.Reason}
	if r.Index >= 0 {
		e.Insn = raw[r.Index]
	}
	return e
}

// Error describes the rejection: "cbpf: check: instruction 3 (jeq
// #0x800 jt 9 jf 10): jump target out of range: invalid argument".
func (e *CheckError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("cbpf: check: %v: %v", e.Reason, syscall.EINVAL)
	}
	in := e.Insn
	return fmt.Sprintf("cbpf: check: instruction %d (code=0x%02x jt=%d jf=%d k=0x%x): %v: %v",
		e.Index, in.Op, in.Jt, in.Jf, in.K, e.Reason, syscall.EINVAL)
}

// Unwrap returns syscall.EINVAL.
func (e *CheckError) Unwrap() error { return syscall.EINVAL }
