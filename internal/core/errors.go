package core

import (
	"fmt"
	"syscall"
)

// Error is a relocation that could not be applied. It names the
// relocation as libbpf's and the kernel's logs do and unwraps to the errno
// the kernel's BPF_PROG_LOAD (or libbpf's loader) fails with.
type Error struct {
	Relo     int           // index of the relocation ("relo #N")
	Insn     int           // index of the instruction it patches in the asm.Instructions
	RawInsn  int           // the same as the kernel's log counts it, in 8-byte slots (-1 if out of range)
	Kind     Kind          // relocation kind
	Type     string        // local type, as "struct name" or "[id]" when unnamed
	Accessor string        // access string ("0:1:2")
	Msg      string        // what failed
	Errno    syscall.Errno // EINVAL, E2BIG, ERANGE, ...
}

// Error formats the relocation and the cause.
func (e *Error) Error() string {
	return fmt.Sprintf("co-re relo #%d: insn #%d: <%s> %s + %s: %s", e.Relo, e.RawInsn, e.Kind, e.Type, e.Accessor, e.Msg)
}

// Unwrap returns the errno, so errors.Is(err, syscall.EINVAL) holds.
func (e *Error) Unwrap() error { return e.Errno }

// fail is an internal error carrying an errno up to the relocation that
// turns it into an *Error.
type fail struct {
	errno syscall.Errno
	msg   string
}

func (f *fail) Error() string { return f.msg }

func (f *fail) Unwrap() error { return f.errno }

func failf(errno syscall.Errno, format string, args ...any) *fail {
	return &fail{errno, fmt.Sprintf(format, args...)}
}
