//go:build linux

package kerneltest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// NetNS is a private network namespace made for one test and removed when
// the test ends.
type NetNS struct {
	Name string
	fd   int
}

var nsCounter atomic.Uint64

// NewNetNS makes a fresh network namespace with `ip netns add`, brings its
// loopback up, and removes it in tb.Cleanup. It skips (see Skip) where the
// machine does not allow it.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	if _, err := exec.LookPath("ip"); err != nil {
		Skip(tb, "iproute2 'ip' not installed")
	}
	name := fmt.Sprintf("clsbpf-%d-%d", unix.Getpid(), nsCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		Skip(tb, fmt.Sprintf("ip netns add: %v: %s", err, strings.TrimSpace(string(out))))
	}
	fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = exec.Command("ip", "netns", "del", name).Run()
		tb.Fatalf("open netns %s: %v", name, err)
	}
	ns := &NetNS{Name: name, fd: fd}
	tb.Cleanup(func() {
		unix.Close(ns.fd)
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	ns.MustRun(tb, "ip", "link", "set", "lo", "up")
	return ns
}

// Run runs a command (such as ip or tc) inside the namespace and returns
// its combined output.
func (ns *NetNS) Run(name string, args ...string) (string, error) {
	full := append([]string{"netns", "exec", ns.Name, name}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (ns *NetNS) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Do runs fn on an OS thread that has entered the namespace. Sockets and
// bpf objects fn creates belong to the namespace and stay usable from any
// goroutine afterwards. The thread goes back to its original namespace
// before it is released; if it cannot, it is never reused.
func (ns *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open current netns: %w", err)
			return // thread stays locked and dies with the goroutine
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w (fn: %v)", err, ferr)
			return // leave the thread locked: it is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
