package ebpf

import (
	"io"
	"runtime"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// Clock names the clocks the time helpers read.
type Clock uint8

// Clocks.
const (
	// Monotonic is CLOCK_MONOTONIC (bpf_ktime_get_ns).
	Monotonic Clock = Clock(tchelpers.Monotonic)
	// Boottime is CLOCK_BOOTTIME (bpf_ktime_get_boot_ns).
	Boottime Clock = Clock(tchelpers.Boottime)
	// MonotonicCoarse is CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns).
	MonotonicCoarse Clock = Clock(tchelpers.MonotonicCoarse)
)

// HelperOptions configure a HelperRegistry's host-side sources.
type HelperOptions struct {
	// Slots is the number of execution slots programs run on; per-slot
	// state (the redirect record, the prandom generator) is kept for each.
	// 0 means runtime.GOMAXPROCS(0).
	Slots int
	// Now returns the time of a clock in nanoseconds; nil reads the
	// host's clocks.
	Now func(Clock) uint64
	// Seed seeds bpf_get_prandom_u32 (slot i starts from Seed+i).
	Seed uint64
	// Trace receives bpf_trace_printk output; nil discards it.
	Trace io.Writer
}

// HelperRegistry is the set of helper functions programs may call, with
// the per-slot state they keep (net/core/filter.c's tc_cls_act_func_proto
// and the per-CPU bpf_redirect_info). A program that calls a helper the
// registry lacks fails to load with a *MissingHelperError. Safe for
// concurrent runs on different slots.
type HelperRegistry struct {
	env *tchelpers.Env
	h   *ebpfvm.Helpers
}

// NewHelperRegistry returns the tc helpers this library implements.
func NewHelperRegistry(opts HelperOptions) (*HelperRegistry, error) {
	to := tchelpers.Options{Slots: opts.Slots, Seed: opts.Seed, Trace: opts.Trace}
	if to.Slots <= 0 {
		to.Slots = runtime.GOMAXPROCS(0)
	}
	if now := opts.Now; now != nil {
		to.Now = func(c tchelpers.Clock) uint64 { return now(Clock(c)) }
	}
	env, err := tchelpers.Registry(to)
	if err != nil {
		return nil, err
	}
	return &HelperRegistry{env: env, h: env.Helpers()}, nil
}

// DefaultHelpers is NewHelperRegistry with the zero HelperOptions.
func DefaultHelpers() (*HelperRegistry, error) { return NewHelperRegistry(HelperOptions{}) }

// NoHelpers returns an empty registry: programs that call any helper fail
// to load.
func NoHelpers() *HelperRegistry {
	h, _ := ebpfvm.NewHelpers()
	return &HelperRegistry{h: h}
}

// RedirectKind says which redirect helper a program called.
type RedirectKind uint8

// Redirect kinds.
const (
	// RedirectNone: no redirect recorded.
	RedirectNone = RedirectKind(tchelpers.RedirectNone)
	// RedirectDevice: bpf_redirect (Ingress for BPF_F_INGRESS).
	RedirectDevice = RedirectKind(tchelpers.RedirectDevice)
	// RedirectPeer: bpf_redirect_peer.
	RedirectPeer = RedirectKind(tchelpers.RedirectPeer)
	// RedirectNeigh: bpf_redirect_neigh.
	RedirectNeigh = RedirectKind(tchelpers.RedirectNeigh)
)

// Redirect is the redirect a program asked for on a slot: what the
// verdict TC_ACT_REDIRECT (Redirect) means, as the kernel's per-CPU
// bpf_redirect_info holds it.
type Redirect struct {
	Kind    RedirectKind
	Ifindex uint32
	Ingress bool
}

// Redirect returns the redirect last recorded on slot.
func (r *HelperRegistry) Redirect(slot uint32) Redirect {
	if r.env == nil {
		return Redirect{}
	}
	rd := r.env.Redirect(slot)
	return Redirect{Kind: RedirectKind(rd.Kind), Ifindex: rd.Ifindex, Ingress: rd.Ingress}
}

// ClearRedirect forgets slot's redirect record, as the kernel does once
// it acted on it.
func (r *HelperRegistry) ClearRedirect(slot uint32) {
	if r.env != nil {
		r.env.ClearRedirect(slot)
	}
}
