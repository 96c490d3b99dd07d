package ebpfvm

import (
	"errors"
	"fmt"
	"syscall"
)

// VerifyError is a load-time rejection: the instruction index, the reason
// in the kernel verifier's words where it has some, and the errno the
// kernel's bpf(BPF_PROG_LOAD) returns for it (EINVAL for malformed
// programs, EACCES for access violations, E2BIG for size limits).
type VerifyError struct {
	Index  int    // instruction index, -1 when the error concerns the whole program
	Reason string // what is wrong
	Errno  syscall.Errno
}

// Error returns "ebpfvm: load: insn N: reason".
func (e *VerifyError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("ebpfvm: load: %s: %v", e.Reason, e.Errno)
	}
	return fmt.Sprintf("ebpfvm: load: insn %d: %s: %v", e.Index, e.Reason, e.Errno)
}

// Unwrap returns the errno, so errors.Is(err, syscall.EINVAL) works.
func (e *VerifyError) Unwrap() error { return e.Errno }

func verr(idx int, errno syscall.Errno, format string, args ...any) *VerifyError {
	return &VerifyError{Index: idx, Reason: fmt.Sprintf(format, args...), Errno: errno}
}

// Run-time faults. A run that faults ends at once; Run returns a *RunError
// wrapping one of these. None of them can happen to a program the kernel's
// verifier accepts, except ErrBudget (a loop the kernel would bound
// differently) and ErrHelper (a helper's own failure).
var (
	// ErrMemAccess: a load, store or atomic outside the regions the
	// program may touch, or a write to read-only memory (EFAULT).
	ErrMemAccess = fmt.Errorf("ebpfvm: invalid memory access: %w", syscall.EFAULT)
	// ErrBudget: the run executed more instructions than its budget
	// (E2BIG), the backstop for loops the load-time checks cannot bound.
	ErrBudget = fmt.Errorf("ebpfvm: instruction budget exhausted: %w", syscall.E2BIG)
	// ErrCallDepth: a bpf-to-bpf call beyond MAX_CALL_FRAMES (E2BIG).
	ErrCallDepth = fmt.Errorf("ebpfvm: call stack too deep: %w", syscall.E2BIG)
	// ErrBadCall: callx to a value that names no helper and no function
	// (EINVAL).
	ErrBadCall = fmt.Errorf("ebpfvm: call to an invalid target: %w", syscall.EINVAL)
	// ErrHelper: a helper returned an error; the RunError wraps it too.
	ErrHelper = errors.New("ebpfvm: helper failed")
	// ErrNoContext: the program needs a context the run did not supply
	// (EINVAL).
	ErrNoContext = fmt.Errorf("ebpfvm: run: missing context: %w", syscall.EINVAL)
)

// RunError is a run-time fault: the instruction index and the cause (one of
// the Err* values above; for ErrHelper also the helper's own error).
type RunError struct {
	PC    int   // instruction index of the fault
	Err   error // ErrMemAccess, ErrBudget, ErrCallDepth, ErrBadCall, ErrHelper
	Cause error // the helper's error for ErrHelper, else nil
}

// Error returns "ebpfvm: run: insn N: cause".
func (e *RunError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("ebpfvm: run: insn %d: %v: %v", e.PC, e.Err, e.Cause)
	}
	return fmt.Sprintf("ebpfvm: run: insn %d: %v", e.PC, e.Err)
}

// Unwrap returns the fault and, for helpers, the helper's error.
func (e *RunError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// errnoOf returns the errno err wraps, or def.
func errnoOf(err error, def syscall.Errno) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return def
}
