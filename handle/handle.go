package handle

import (
	"strconv"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Handle is a tc handle or class id: a 32-bit value whose upper 16 bits are
// the major and lower 16 bits the minor number (TC_H_MAJ / TC_H_MIN in
// include/uapi/linux/pkt_sched.h). Qdisc handles, class ids (a filter's
// classid/flowid) and filter parents are Handles; a cls_bpf filter's own
// handle is an opaque uint32 instead (see ParseFilter and Allocator).
type Handle uint32

// Well-known handles and minors (include/uapi/linux/pkt_sched.h).
const (
	// Unspec is TC_H_UNSPEC (0), printed "none".
	Unspec Handle = uapi.TC_H_UNSPEC
	// Root is TC_H_ROOT (0xFFFFFFFF), the root of a device's egress tree,
	// printed "root".
	Root Handle = uapi.TC_H_ROOT
	// Ingress is TC_H_INGRESS (0xFFFFFFF1), the parent of the ingress and
	// clsact qdiscs.
	Ingress Handle = uapi.TC_H_INGRESS
	// Clsact is TC_H_CLSACT, the same value as Ingress.
	Clsact Handle = uapi.TC_H_CLSACT

	// IngressParent is TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
	// (0xFFFFFFF2): the parent tc gives filters for "ingress".
	IngressParent Handle = uapi.TC_H_CLSACT&uapi.TC_H_MAJ_MASK | uapi.TC_H_MIN_INGRESS
	// EgressParent is TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)
	// (0xFFFFFFF3): the parent tc gives filters for "egress".
	EgressParent Handle = uapi.TC_H_CLSACT&uapi.TC_H_MAJ_MASK | uapi.TC_H_MIN_EGRESS
)

// Special minor numbers (the minor half of a Handle).
const (
	// MinPriority is TC_H_MIN_PRIORITY (0xFFE0): minors at or above it
	// select a band by skb priority in some qdiscs.
	MinPriority uint16 = uapi.TC_H_MIN_PRIORITY
	// MinIngress is TC_H_MIN_INGRESS (0xFFF2), the minor of IngressParent.
	MinIngress uint16 = uapi.TC_H_MIN_INGRESS
	// MinEgress is TC_H_MIN_EGRESS (0xFFF3), the minor of EgressParent.
	MinEgress uint16 = uapi.TC_H_MIN_EGRESS
)

// Make returns the handle major:minor, as TC_H_MAKE(major<<16, minor).
func Make(major, minor uint16) Handle {
	return Handle(uint32(major)<<16 | uint32(minor))
}

// Major returns the upper 16 bits (TC_H_MAJ(h) >> 16).
func (h Handle) Major() uint16 { return uint16(h >> 16) }

// Minor returns the lower 16 bits (TC_H_MIN(h)).
func (h Handle) Minor() uint16 { return uint16(h) }

// String prints h as iproute2's print_tc_classid does: "root" for Root,
// "none" for Unspec, ":minor" when the major is 0, "major:" when the minor
// is 0, else "major:minor", in lower-case hex without leading zeros.
// ParseClassID(h.String()) == h for every h.
func (h Handle) String() string {
	switch {
	case h == Root:
		return "root"
	case h == Unspec:
		return "none"
	case h.Major() == 0:
		return ":" + strconv.FormatUint(uint64(h.Minor()), 16)
	case h.Minor() == 0:
		return strconv.FormatUint(uint64(h.Major()), 16) + ":"
	}
	var buf [9]byte
	b := strconv.AppendUint(buf[:0], uint64(h.Major()), 16)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(h.Minor()), 16)
	return string(b)
}
