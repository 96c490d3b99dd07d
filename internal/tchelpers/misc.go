package tchelpers

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
	"golang.org/x/sys/unix"
)

// hostClock reads the host's clock c.
func hostClock(c Clock) uint64 {
	id := unix.CLOCK_MONOTONIC
	switch c {
	case Boottime:
		id = unix.CLOCK_BOOTTIME
	case MonotonicCoarse:
		id = unix.CLOCK_MONOTONIC_COARSE
	}
	var ts unix.Timespec
	if unix.ClockGettime(int32(id), &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}

// clockHelper returns the helper reading clock c.
func (e *Env) clockHelper(c Clock) ebpfvm.HelperFunc {
	return func(*ebpfvm.Machine, *[5]uint64) (uint64, error) { return e.now(c), nil }
}

// prandom is bpf_get_prandom_u32: a per-slot generator (splitmix64) seeded
// from Options.Seed. The kernel's values are random; only their
// distribution and independence per CPU carry over.
func (e *Env) prandom(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	s := e.slot(m)
	s.rnd += 0x9e3779b97f4a7c15
	z := s.rnd
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return uint64(uint32(z ^ z>>31)), nil
}

// smpProcessorID is bpf_get_smp_processor_id: the run's execution slot.
func smpProcessorID(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	return uint64(slotOf(m)), nil
}

// RedirectKind says which helper recorded a redirect.
type RedirectKind uint8

// Redirect kinds.
const (
	// RedirectNone: no redirect recorded.
	RedirectNone RedirectKind = iota
	// RedirectDevice: bpf_redirect; Ingress says BPF_F_INGRESS.
	RedirectDevice
	// RedirectPeer: bpf_redirect_peer.
	RedirectPeer
	// RedirectNeigh: bpf_redirect_neigh; Nexthop holds the struct
	// bpf_redir_neigh when the program gave one (HasNexthop).
	RedirectNeigh
)

// Redirect is what the redirect helpers record per slot (the kernel's
// per-CPU struct bpf_redirect_info): it takes effect only when the
// program's verdict is TC_ACT_REDIRECT, which the caller checks.
type Redirect struct {
	Kind       RedirectKind
	Ifindex    uint32
	Ingress    bool
	HasNexthop bool
	// Nexthop is struct bpf_redir_neigh: nh_family (host order) then the
	// IPv4 or IPv6 next hop.
	Nexthop [20]byte
}

// Redirect returns the redirect recorded on slot, the last one the
// programs run there asked for.
func (e *Env) Redirect(slot uint32) Redirect {
	return e.slots[slot%uint32(len(e.slots))].redirect
}

// ClearRedirect forgets slot's redirect record, as skb_do_redirect does
// once it has acted on it.
func (e *Env) ClearRedirect(slot uint32) {
	e.slots[slot%uint32(len(e.slots))].redirect = Redirect{}
}

// redirect is bpf_redirect(ifindex, flags).
func (e *Env) redirect(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	if a[1]&^BPF_F_INGRESS != 0 {
		return uapi.TC_ACT_SHOT, nil
	}
	e.slot(m).redirect = Redirect{Kind: RedirectDevice, Ifindex: uint32(a[0]), Ingress: a[1]&BPF_F_INGRESS != 0}
	return uapi.TC_ACT_REDIRECT, nil
}

// redirectPeer is bpf_redirect_peer(ifindex, flags).
func (e *Env) redirectPeer(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	if a[1] != 0 {
		return uapi.TC_ACT_SHOT, nil
	}
	e.slot(m).redirect = Redirect{Kind: RedirectPeer, Ifindex: uint32(a[0])}
	return uapi.TC_ACT_REDIRECT, nil
}

// redirectNeigh is bpf_redirect_neigh(ifindex, params, plen, flags).
func (e *Env) redirectNeigh(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	plen := int32(a[2])
	if (plen != 0 && plen < 20) || a[3] != 0 {
		return uapi.TC_ACT_SHOT, nil
	}
	r := Redirect{Kind: RedirectNeigh, Ifindex: uint32(a[0]), HasNexthop: plen != 0}
	if plen != 0 && !m.Read(r.Nexthop[:], a[1]) {
		return 0, errBadMemArg
	}
	e.slot(m).redirect = r
	return uapi.TC_ACT_REDIRECT, nil
}

// cloneRedirect is bpf_clone_redirect(skb, ifindex, flags): a copy goes
// to the device now, through Options.CloneRedirect, and the program goes
// on with the packet.
func (e *Env) cloneRedirect(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p := m.Packet()
	if p == nil {
		return 0, errNoPacket
	}
	if a[2]&^BPF_F_INGRESS != 0 {
		return neg(syscall.EINVAL), nil
	}
	return uint64(e.clone(p, uint32(a[1]), a[2]&BPF_F_INGRESS != 0)), nil
}
