package action

import (
	"errors"
	"fmt"
	"syscall"
)

// Error is a refused action configuration: which action (its position in
// the list, 1-based, and kind) failed, the kernel's extack text where the
// kernel gives one, and the errno the kernel returns. errors.Is(err,
// syscall.EINVAL) and friends hold through Unwrap.
type Error struct {
	// Order is the action's number in the request (1..32), 0 when the
	// error concerns the whole list.
	Order int
	// Kind is the action kind, when known.
	Kind string
	// Msg says what is wrong: the kernel's extack message verbatim where
	// it sets one, otherwise a description.
	Msg string
	// Errno is the error the kernel returns.
	Errno syscall.Errno
	// Err is an underlying cause (a netlink policy violation, a program
	// check error), if any.
	Err error
}

// Error returns "action N (kind): msg: errno".
func (e *Error) Error() string {
	where := "actions"
	switch {
	case e.Order > 0 && e.Kind != "":
		where = fmt.Sprintf("action %d (%s)", e.Order, e.Kind)
	case e.Order > 0:
		where = fmt.Sprintf("action %d", e.Order)
	case e.Kind != "":
		where = "action " + e.Kind
	}
	msg := e.Msg
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	if msg == "" {
		return fmt.Sprintf("%s: %v", where, e.Errno)
	}
	return fmt.Sprintf("%s: %s: %v", where, msg, e.Errno)
}

// Unwrap returns the errno and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Errno, e.Err}
	}
	return []error{e.Errno}
}

// errno builds an *Error with no position; the caller fills Order and
// Kind when it knows them.
func errno(no syscall.Errno, msg string) *Error { return &Error{Errno: no, Msg: msg} }

// wrapErr converts any error into an *Error, keeping an *Error as it is and
// mapping a bare errno or an error wrapping one.
func wrapErr(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var no syscall.Errno
	if errors.As(err, &no) {
		return &Error{Errno: no, Err: err}
	}
	return &Error{Errno: syscall.EINVAL, Err: err}
}

// ErrDeviceDown is what a Forwarder returns when the target device is down
// or has no carrier: mirred counts an overlimit and, for a redirect, drops.
var ErrDeviceDown = errors.New("action: target device is down")
