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
// A Block is a tc filter block (tcf_block): chains 0 to MaxChain, each an
// ordered list of classifiers (Proto, the kernel's tcf_proto) by priority
// and protocol, each classifier a Chain. Block.Classify walks it as
// tcf_classify does (protocol match, the first non-negative verdict wins,
// Reclassify restarts at chain 0, "goto chain N" continues in chain N, 16
// restarts at most, then Shot). Block.Change, Delete and Get apply
// cls_api's rules (automatic priorities from 49152 down, protocol and kind
// checks, NLM_F_CREATE/EXCL, the errno and extack text of each refusal),
// and Block.Request and Block.Dump take and give whole RTM_NEWTFILTER,
// RTM_DELTFILTER and RTM_GETTFILTER messages in the kernel's format.
//
// Actions, hardware offload and class binding plug in through Config:
// ActionParser and ActionChain (NewActionParser and Actions adapt package
// action, whose chains run in classic mode and whose "goto chain" verdicts
// reach the block walk), Offload (an offload.Block: the devices the block
// is bound to and their drivers, see package offload) and ClassBinder.
// Without them the chain behaves as a kernel without action support, bound
// to a device that cannot offload, in a qdisc without classes.
//
// # Hardware offload
//
// Change sends each filter to the bound devices' drivers with the
// kernel's decision and error matrix (cls_bpf_offload_cmd and
// tc_setup_cb_*): a replaced filter keeps its skip flags (EINVAL
// otherwise); SKIP_HW filters are never offered; a SKIP_SW filter needs
// every bound device to have an offload hook (EOPNOTSUPP) and at least one
// driver to take it (EINVAL), and the first driver error aborts its change,
// which is rolled back (the old program goes back to hardware, or the new
// one is destroyed) so that nothing is half-applied; other filters
// tolerate driver errors. Filters record how many drivers hold them
// (InHWCount) and dump IN_HW or NOT_IN_HW. Deleting a filter destroys it in
// hardware whatever its flags, ignoring errors. Block.Bind and Unbind
// re-offload every filter to a device that joins or leaves. Dumps ask the
// drivers for statistics first and add them to the filter's actions. A
// SKIP_SW filter classifies only packets that arrived on a bound device
// whose driver runs it (offload.HardwareRunner, such as package soft).
//
// # Concurrency
//
// Chains and Blocks are safe for concurrent use. A Block publishes its
// chains and classifiers as one immutable snapshot and each classifier its
// filter list as another: Block.Classify loads the block snapshot once and
// each classifier's list as it reaches it. A classifier appears in the
// block only once its first filter is in place.
//
// A Chain's filter list lives in an immutable
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
// host order of x86 and arm64 kernels. A Chain alone models one
// classifier and cls_api's handle lookup (ENOENT without Create, EEXIST
// with Excl), which decides which filter cls_bpf_change replaces; a Block
// adds the rest of cls_api. Only the "bpf" kind exists: any other TCA_KIND
// for a new classifier is "TC classifier not found" (ENOENT), where a
// kernel could load a module. Chain templates, explicitly created chains
// (RTM_NEWCHAIN), terse dumps and the legacy statistics a police action
// adds after TCA_OPTIONS are not modelled. A chain held only by "goto
// chain" actions is tracked per filter: it goes when the filters whose
// actions name it go (the kernel waits for the actions, which may be
// shared by index, and frees them after an RCU grace period).
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
// under an HTB qdisc. Blocks are compared with the kernel's clsact ingress
// block: random request sequences across chains, priorities and protocols
// (errno, extack and dumps), automatic priorities, and frame-by-frame flows
// through mirred actions ending in "goto chain" and "reclassify" on veth
// pairs. The block walk follows net/sched/cls_api.c (__tcf_classify,
// tcf_chain_tp_find, tcf_auto_prio, tc_dump_tfilter, tcf_fill_node).
package classifier
