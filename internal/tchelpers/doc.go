// Package tchelpers implements the helper functions a tc program
// (BPF_PROG_TYPE_SCHED_CLS and SCHED_ACT) calls, for the ebpfvm VM, with
// the kernel's argument checks, results and errno.
//
// # Model
//
// Registry builds an Env from Options: Env.Helpers is the registry to
// pass as ebpfvm.Options.Helpers; a program that calls a helper the
// registry lacks fails to load, naming the id. Options.Extra adds the
// caller's own Go functions as helpers (or replaces built-in ones).
// Time comes from Options.Now (the host's clocks by default), random
// numbers from per-slot generators seeded by Options.Seed.
//
// bpf_clone_redirect hands the packet to Options.CloneRedirect, which
// sends a copy at once.
//
// bpf_fib_lookup asks the FIB the caller gives in Options.FIB (without
// one the helper is not registered); the kernel's argument checks come
// first.
//
// Maps reach the helpers as the objects the ebpfvm.Linker returns for a
// program's map references: the Linker's Map method must return the
// internal/maps.Map itself. bpf_map_lookup_elem returns a pointer to the
// value memory (ebpfvm.Machine.MapValue), so the program's loads, stores
// and atomics change the map in place, atomically at their width;
// BPF_F_RDONLY_PROG maps give read-only pointers. Keys and values are
// copied from program memory before the map sees them. Per-CPU maps index
// by the run's execution slot (packet.Packet.Slot), which
// bpf_get_smp_processor_id returns. A lookup in an array or hash of maps
// returns the inner map as a handle (ebpfvm.Machine.MapHandle) the
// program passes on to the next map helper.
//
// The redirect helpers record their target per slot (Env.Redirect), as
// the kernel's per-CPU bpf_redirect_info; the caller acts on it when the
// verdict is TC_ACT_REDIRECT.
//
// # Concurrency
//
// An Env is safe for concurrent runs on different slots; runs on the same
// slot must not overlap (the slot is the stand-in for a CPU), and
// Env.Redirect for a slot is read after the run on it.
//
// # Errors
//
// Helper results follow the kernel: 0 or a negative errno in R0 (for
// example -EFAULT from skb_load_bytes outside the packet, -EINVAL for
// unknown flags, -ENOENT from a map). A helper argument the kernel's
// verifier would have refused (a pointer outside the program's regions, a
// map handle that is not a map, a map type the helper does not take) ends
// the run with ebpfvm.ErrHelper instead, since the VM's verifier does not
// track every argument type.
//
// # Limits
//
// Helpers of the tc list not implemented (skb_under_cgroup, the socket
// lookups, syncookies, xfrm state, check_mtu, skb_set_tstamp, cgroup ids
// and others) are missing from the registry: a program calling one fails
// to load, naming the helper. bpf_loop and
// bpf_for_each_map_elem call back into the program through
// ebpfvm.Machine.CallFunc; the VM's verifier does not check that a
// callback is static, as the kernel's does. skb_adjust_room keeps no
// inner header offsets, which the packet model lacks, and GSO packets get
// ENOTSUPP from it. get_hash_recalc uses
// Options.FlowHash instead of the kernel's randomly keyed flow hash.
// trace_printk supports the kernel's integer, %c, %s and %px
// specifiers but not the other %p extensions, and writes the text without
// the trace line's prefix. bpf_spin_lock gives up with an error after a
// bounded number of attempts, since the VM's verifier does not prove that
// every path unlocks. csum_diff follows Linux 6.18 (folded result, any
// sizes). Packet sizes are bounded by MaxLen (BPF_SKB_MAX_LEN on x86-64).
// Helpers allocate nothing per call except trace_printk, scratch buffers
// that grow to the largest key or value once, and packets that outgrow
// their buffer.
//
// # Kernel sources
//
// net/core/filter.c (bpf_skb_*, bpf_l3/l4_csum_replace, bpf_csum_*,
// bpf_redirect*, tc_cls_act_func_proto), kernel/bpf/helpers.c (map
// helpers, time, prandom).
package tchelpers
