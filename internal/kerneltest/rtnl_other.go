//go:build !linux

package kerneltest

import (
	"syscall"
	"testing"
)

// Rtnl is an rtnetlink socket; there is none on this OS.
type Rtnl struct{}

// Rtnl skips: rtnetlink exists only on Linux.
func (ns *NetNS) Rtnl(tb testing.TB) *Rtnl {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// Ifindex is unavailable off Linux.
func (ns *NetNS) Ifindex(tb testing.TB, name string) int32 {
	tb.Helper()
	tb.Fatal(errNotLinux)
	return 0
}

// RtnlError is the kernel's answer to a refused request.
type RtnlError struct {
	Errno   syscall.Errno
	Message string
}

// Error returns the errno text.
func (e *RtnlError) Error() string { return e.Errno.Error() }

// Unwrap returns the errno.
func (e *RtnlError) Unwrap() error { return e.Errno }

// Do is unavailable off Linux.
func (r *Rtnl) Do(req TCFilterRequest) ([]TCMessage, error) { return nil, errNotLinux }

// DumpFilters is unavailable off Linux.
func (r *Rtnl) DumpFilters(ifindex int32, parent uint32) ([]TCMessage, error) {
	return nil, errNotLinux
}

// ClassStats is what the kernel counts for one class.
type ClassStats struct {
	Bytes   uint64
	Packets uint32
	Drops   uint32
	// Options is the raw TCA_OPTIONS payload of the class or qdisc.
	Options []byte
}

// Classes is unavailable off Linux.
func (r *Rtnl) Classes(ifindex int32) (map[uint32]ClassStats, error) { return nil, errNotLinux }

// QdiscStats is unavailable off Linux.
func (r *Rtnl) QdiscStats(ifindex int32) (map[uint32]ClassStats, error) {
	return nil, errNotLinux
}

// PacketSocket is an AF_PACKET socket; there is none on this OS.
type PacketSocket struct{}

// PacketSocket is unavailable off Linux.
func (ns *NetNS) PacketSocket(tb testing.TB, dev string) *PacketSocket {
	tb.Helper()
	tb.Fatal(errNotLinux)
	return nil
}

// Send is unavailable off Linux.
func (s *PacketSocket) Send(frame []byte, mark uint32) error { return errNotLinux }
