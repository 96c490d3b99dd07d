// Package handle holds tc handles: the major:minor values that name qdiscs,
// classes and filter parents, their text forms as iproute2's tc reads and
// prints them, and the allocator that numbers cls_bpf filters.
//
// # Model
//
// A Handle is a 32-bit value, major in the upper and minor in the lower 16
// bits (TC_H_MAJ, TC_H_MIN). Root (0xFFFFFFFF), Unspec (0), Ingress/Clsact
// (0xFFFFFFF1) and the clsact filter parents IngressParent (ffff:fff2) and
// EgressParent (ffff:fff3) are the well-known values.
//
// A cls_bpf filter's own handle is different: an opaque uint32 with no
// major:minor structure. ParseFilter reads it as tc does, and an Allocator
// hands them out as the kernel does: the lowest unused handle from 1 up to
// 0x7FFFFFFF, a released handle reused at once, explicit handles anywhere
// in 1 to 0xFFFFFFFF.
//
// # Text forms
//
// String prints as print_tc_classid ("root", "none", ":a", "1:", "1:10").
// ParseClassID reads as get_tc_classid (tc's parent, classid and flowid),
// ParseQdisc as get_qdisc_handle, ParseFilter as tc's bpf filter reads its
// handle (get_u32 with base 0), and ParseParent adds tc's "ingress" and
// "egress" keywords. The parsers follow iproute2 to the byte, including the
// corners of C's strtoul: leading white space, a sign, 64-bit wrap-around
// and truncation to 32 bits.
//
// # Concurrency
//
// Handle values are plain values. An Allocator is not safe for concurrent
// use: its owner serializes changes, as the kernel's RTNL lock does. Clone
// gives an independent copy in O(1) time for copy-on-write staging.
//
// # Errors
//
// Parse functions return a *ParseError (kind, input, reason): a user input
// error that wraps no errno, since the kernel never sees the string.
// Allocator errors wrap the errno cls_bpf_change returns: syscall.ENOSPC
// when no automatic handle is left or an explicit one is taken.
//
// # Limits
//
// The automatic range is today's kernel's ([1, INT_MAX], an idr). Kernels
// before the idr conversion (about 4.16) numbered filters with a wrapping
// generator over [1, 0x7FFFFFFE] and returned EINVAL when full; that
// behaviour is not modelled.
//
// # Kernel sources
//
// include/uapi/linux/pkt_sched.h (TC_H_*), net/sched/cls_bpf.c
// (cls_bpf_change, handle_idr), lib/idr.c (idr_alloc_u32), iproute2
// tc/tc_util.c (get_tc_classid, print_tc_classid, get_qdisc_handle),
// tc/f_bpf.c and lib/utils.c (get_u32), tc/tc_filter.c (parent keywords).
package handle
