package ebpf

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// sysError is an error that is also an errno: errors.Is matches both the
// error value and the errno.
type sysError struct {
	msg   string
	errno syscall.Errno
}

func (e *sysError) Error() string { return e.msg }
func (e *sysError) Unwrap() error { return e.errno }

// Sentinel errors, preallocated so that hot paths return them without
// allocating.
var (
	// ErrKeyNotExist: the key is not in the map, or an index is out of
	// range on lookup (ENOENT); also an empty queue or stack.
	ErrKeyNotExist error = &sysError{"key does not exist", syscall.ENOENT}
	// ErrKeyExist: UpdateNoExist found the key (EEXIST).
	ErrKeyExist error = &sysError{"key already exists", syscall.EEXIST}
	// ErrIterationAborted: an iteration saw more keys than the map can
	// hold, because concurrent updates kept restarting it.
	ErrIterationAborted = errors.New("iteration aborted")
	// ErrNotSupported: the kernel's ENOTSUPP (524), for operations a map
	// type lacks (a lookup on a ring buffer, lookup-and-delete on an
	// array).
	ErrNotSupported error = &sysError{"operation not supported", maps.ENOTSUPP}
	// ErrClosed is returned by readers after Close.
	ErrClosed = errors.New("reader closed")
)

// MapError is a failed map operation: the operation, the map and the
// errno the kernel returns for it.
type MapError struct {
	Op    string // "create", "lookup", "update", ...
	Map   string // the map's name or type
	Msg   string // what was wrong, when more than the errno says
	Errno syscall.Errno
}

// Error returns "map NAME: op: msg: errno".
func (e *MapError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("map %s: %s: %s: %v", e.Map, e.Op, e.Msg, e.Errno)
	}
	return fmt.Sprintf("map %s: %s: %v", e.Map, e.Op, e.Errno)
}

// Unwrap returns the errno, so errors.Is(err, syscall.EINVAL) works.
func (e *MapError) Unwrap() error { return e.Errno }

// Is matches the sentinels of the same errno.
func (e *MapError) Is(target error) bool {
	switch target {
	case ErrKeyNotExist:
		return e.Errno == syscall.ENOENT
	case ErrKeyExist:
		return e.Errno == syscall.EEXIST
	case ErrNotSupported:
		return e.Errno == maps.ENOTSUPP
	}
	return false
}

// opError turns an errno of operation op into the error Map methods
// return.
func (m *Map) opError(op string, errno syscall.Errno) error {
	switch errno {
	case 0:
		return nil
	case syscall.ENOENT:
		return ErrKeyNotExist
	case syscall.EEXIST:
		return ErrKeyExist
	}
	return &MapError{Op: op, Map: m.label(), Errno: errno}
}

func (m *Map) argError(op, format string, args ...any) error {
	return &MapError{Op: op, Map: m.label(), Msg: fmt.Sprintf(format, args...), Errno: syscall.EINVAL}
}

func (m *Map) label() string {
	if m.spec.Name != "" {
		return m.spec.Name
	}
	return m.spec.Type.String()
}
