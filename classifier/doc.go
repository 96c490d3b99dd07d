// Package classifier is the tc cls_bpf classifier in userspace: a chain of
// BPF filters that classifies packets with the Linux kernel's results and
// is changed with the kernel's rules and errors.
//
// # The model
//
// A Chain is one cls_bpf instance (the kernel's cls_bpf_head, one
// classifier at one priority of a tc filter chain). It holds Filters (the
// kernel's cls_bpf_prog) in list order: a new filter goes to the head of
// the list, a replaced one keeps its place, and Classify tries them in that
// order, so the most recently added filter runs first.
//
// A filter runs a Program: a classic BPF program (*cbpf.Program, from
// TCA_BPF_OPS) or an eBPF SCHED_CLS program (from TCA_BPF_FD, resolved
// through a ProgramTable the caller owns). In direct-action mode the
// program's return value is the verdict; in classic mode it selects a
// class and the filter's action chain decides the verdict. Classify
// documents every step, which is cls_bpf_classify's.
//
// Filters are added and replaced with Change (a FilterSpec in Go) or
// ChangeNetlink (the TCA_OPTIONS nest of an RTM_NEWTFILTER request, validated
// as the kernel's netlink policy validates it), removed with Delete and
// Destroy, read with Get, Filters and Walk, and dumped with Dump and
// Filter.AppendOptions as the same TCA_BPF_* attributes, byte for byte, that
// RTM_GETTFILTER returns.
//
// Actions, hardware offload and class binding plug in through the
// ActionParser, ActionChain, Offloader and ClassBinder interfaces of
// Config; without them the chain behaves as a kernel without action
// support, bound to a device that cannot offload, in a qdisc without
// classes.
//
// # Concurrency
//
// A Chain is safe for concurrent use. The filter list lives in an immutable
// snapshot published through an atomic pointer: Classify loads it once and
// runs with no lock and no allocation, on as many goroutines as there are
// packets (each packet on one goroutine at a time). Writers are serialized
// by one mutex, the stand-in for the kernel's RTNL lock, build a complete
// new snapshot and publish it with one store, so a reader sees a change
// whole or not at all and never waits. A replaced or deleted filter stays
// valid for readers still running it; the garbage collector plays the part
// of the kernel's RCU grace period.
//
// # Errors
//
// Every refusal is an *Error carrying the operation, the attribute at
// fault, a message, the kernel's extended-ack text where it sends one, and
// the errno the kernel returns, so errors.Is(err, syscall.EINVAL) (or
// ENOENT, EEXIST, ERANGE, ENOSPC, EOPNOTSUPP, EBADF) holds. A failed change
// leaves nothing behind: not the list, not the handle allocator, not the
// filter it was to replace.
//
// # Limits
//
// Integers in attributes are read and written in little-endian order, the
// host order of x86 and arm64 kernels. The chain models one classifier:
// priorities, protocols and chain indexes (cls_api's tcf_proto list and
// goto-chain) belong to its caller; Change models cls_api's handle lookup
// (ENOENT without Create, EEXIST with Excl) because it decides which filter
// cls_bpf_change replaces. Statistics requests to offload drivers before a
// dump are not made.
//
// # Kernel source
//
// The behaviour follows today's net/sched/cls_bpf.c (cls_bpf_classify,
// cls_bpf_change, cls_bpf_delete, cls_bpf_destroy, cls_bpf_walk,
// cls_bpf_dump, cls_bpf_offload), the handle rules of net/sched/cls_api.c
// (tc_new_tfilter, tc_del_tfilter, tc_get_tfilter) and lib/nlattr.c for the
// attribute policy. Tests compare it with the running kernel: the same
// requests go to cls_bpf in a private network namespace and to a Chain, and
// errno and dump bytes must agree, as must the class each frame lands in
// under an HTB qdisc.
package classifier
