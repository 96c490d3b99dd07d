//go:build !linux

package kerneltest

import (
	"errors"
	"testing"
)

var errNotLinux = errors.New("kerneltest: network namespaces need linux")

// NetNS is a private network namespace; on this OS there are none.
type NetNS struct{ Name string }

// NewNetNS skips: network namespaces exist only on Linux.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	RequireLinux(tb)
	return nil
}

// Run is unavailable off Linux.
func (ns *NetNS) Run(name string, args ...string) (string, error) {
	return "", errNotLinux
}

// MustRun is unavailable off Linux.
func (ns *NetNS) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	tb.Fatal(errNotLinux)
	return ""
}

// Do is unavailable off Linux.
func (ns *NetNS) Do(fn func() error) error { return errNotLinux }
