//go:build !linux

package kerneltest

import (
	"net"
	"testing"

	"golang.org/x/net/bpf"
)

// UnixPair is the AF_UNIX classic-filter oracle; it needs Linux.
type UnixPair struct{}

// NewUnixPair skips: the oracle needs Linux.
func NewUnixPair(tb testing.TB) *UnixPair {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// Attach is unavailable off Linux.
func (u *UnixPair) Attach(raw []bpf.RawInstruction) error { return errNotLinux }

// Deliver is unavailable off Linux.
func (u *UnixPair) Deliver(payload []byte) (int, error) { return 0, errNotLinux }

// Veth is the AF_PACKET classic-filter oracle; it needs Linux.
type Veth struct {
	NS        *NetNS
	Ifindex   int
	MAC       net.HardwareAddr
	TxMAC     net.HardwareAddr
	TxIfindex int
}

// NewVeth skips: the oracle needs Linux.
func NewVeth(tb testing.TB) *Veth {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// NewVethDgram skips: the oracle needs Linux.
func NewVethDgram(tb testing.TB) *Veth {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// Attach is unavailable off Linux.
func (v *Veth) Attach(raw []bpf.RawInstruction) error { return errNotLinux }

// SetMark is unavailable off Linux.
func (v *Veth) SetMark(mark uint32) error { return errNotLinux }

// Deliver is unavailable off Linux.
func (v *Veth) Deliver(frame []byte) (int, error) { return 0, errNotLinux }

// HTB is the cls_bpf classid oracle; it needs Linux.
type HTB struct {
	NS      *NetNS
	Classes int
	Ifindex int
	MAC     net.HardwareAddr
}

// NewHTB skips: the oracle needs Linux.
func NewHTB(tb testing.TB, classes int) *HTB {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// SetFilter is unavailable off Linux.
func (h *HTB) SetFilter(bytecode string) error { return errNotLinux }

// Classify is unavailable off Linux.
func (h *HTB) Classify(frames [][]byte) (map[uint32]int, error) { return nil, errNotLinux }

// NewUnixPairIn skips: the oracle needs Linux.
func NewUnixPairIn(tb testing.TB, ns *NetNS) *UnixPair {
	tb.Helper()
	RequireLinux(tb)
	return nil
}
