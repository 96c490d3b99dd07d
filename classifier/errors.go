package classifier

import (
	"errors"
	"fmt"
	"syscall"
)

// Error is a refused request: which operation, which attribute, why, and
// the errno the kernel returns for it. errors.Is(err, syscall.EINVAL) (or
// ENOENT, EEXIST, ERANGE, ...) holds for the kernel's errno; errors.As
// reaches Err, the underlying cause (a checker error, an action or program
// table error), when there is one.
type Error struct {
	// Op is the operation: "change", "delete", "get" or "destroy".
	Op string
	// Attr names the attribute at fault in kernel spelling
	// ("TCA_BPF_OPS_LEN"), or "" when the request as a whole is refused.
	Attr string
	// Msg says what was wrong.
	Msg string
	// Extack is the kernel's extended-ack text for this refusal, verbatim,
	// or "" where the kernel sends none (cls_bpf itself sets none).
	Extack string
	// Errno is the kernel's errno for the refusal.
	Errno syscall.Errno
	// Err is the underlying cause, or nil.
	Err error
}

// Error formats "classifier: op: attr: msg: cause: errno text".
func (e *Error) Error() string {
	s := "classifier: " + e.Op
	if e.Attr != "" {
		s += ": " + e.Attr
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
		if errors.Is(e.Err, e.Errno) {
			return s // the cause already names the errno
		}
	}
	return s + ": " + e.Errno.Error()
}

// Unwrap returns the errno and, when present, the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Errno}
	}
	return []error{e.Errno, e.Err}
}

func errorf(op, attr string, errno syscall.Errno, format string, args ...any) *Error {
	return &Error{Op: op, Attr: attr, Msg: fmt.Sprintf(format, args...), Errno: errno}
}

// errnoOf returns the errno err wraps, or def when it wraps none.
func errnoOf(err error, def syscall.Errno) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return def
}

// Extended-ack messages of net/sched/cls_api.c, verbatim.
const (
	extackNeedCreate     = "Need both RTM_NEWTFILTER and NLM_F_CREATE to create a new filter"
	extackExists         = "Filter already exists"
	extackHandleNotFound = "Specified filter handle not found"
	extackNoActions      = "Classifier actions are not supported per compile options (CONFIG_NET_CLS_ACT)"
)
