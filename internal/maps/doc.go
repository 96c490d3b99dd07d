// Package maps implements the eBPF map types a tc program uses, with the
// kernel's creation checks, per-operation semantics and errno, for both
// callers the kernel has: programs (the bpf_map_* helpers, on an
// execution slot) and user space (the bpf(2) BPF_MAP_* commands, the Sys
// methods).
//
// # Model
//
// New checks a Spec as BPF_MAP_CREATE does and returns a Map. Arrays
// (plain and per-CPU) preallocate every value; hash maps (plain, per-CPU,
// LRU, LRU per-CPU, hash of maps) preallocate max_entries elements unless
// BPF_F_NO_PREALLOC, hash keys with the kernel's jhash and keep its bucket
// order; the LPM trie keeps the kernel's trie shape; queues and stacks are
// rings of max_entries + 1 slots; ring buffers keep the kernel's positions
// and record headers; prog arrays, perf event arrays and arrays of maps
// hold objects. Per-CPU storage has one value per execution slot.
// SysBatch runs the four batch commands with the kernel's per-type
// semantics, and Freeze is BPF_MAP_FREEZE.
//
// Value memory comes from package atomicmem and every access to it goes
// through that package, so programs (plain and atomic accesses) and Go
// code (whole-value copies) share it without data races and without tearing
// at the access width. A lookup returns the element's value memory; it
// stays valid after a delete, because nothing is freed while referenced.
//
// # Helpers
//
// The helpers of a program on execution slot s map onto the methods so:
// bpf_map_lookup_elem is Lookup(key, s) (LookupObject for arrays and
// hashes of maps, which yields the inner Map), bpf_map_update_elem
// Update(key, value, flags, s), bpf_map_delete_elem Delete,
// bpf_map_push/pop/peek_elem the QueueMap methods,
// bpf_map_lookup_percpu_elem PercpuLookup.LookupSlot,
// bpf_for_each_map_elem ForEacher.ForEach, bpf_tail_call ProgArray.At
// (after ProgArray.Compatible at load), bpf_perf_event_output PerfOutput,
// and the ring buffer helpers RingBuf.Reserve, Commit, Output and Query.
// BPF_PSEUDO_MAP_VALUE points into DirectValuer.DirectValue. Errno results
// are positive: a helper returns their negation. Load-time rules that
// depend on the map (BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG in
// Info().Spec.Flags, which helpers a map type allows) are the verifier's.
//
// # Concurrency
//
// All methods are safe for concurrent use. Lookups never lock and never
// allocate; updates of existing elements and inserts into preallocated
// maps do not allocate; updates and deletes of hash maps, LPM tries and
// queues hold a per-map mutex; ring buffer producers hold the ring's lock,
// as in the kernel. A preallocated hash element deleted and reused for
// another key while a program still holds its value sees the new key's
// value, as in the kernel.
//
// # Errors
//
// Creation errors are *Error with the kernel's errno. Operations return a
// syscall.Errno, 0 for success, so that the helpers' hot paths allocate
// nothing; ENOTSUPP is the kernel's 524.
//
// # Differences from the kernel
//
// LRU maps evict exactly when a new key arrives in a full map, by a
// deterministic policy (LRUPolicy); the kernel's per-CPU free lists may
// evict earlier. The hash seed is Options.Seed instead of a random one.
// Values have no bpf_spin_lock (no BTF): BPF_F_LOCK is always EINVAL.
// Storage is bounded by Options.MaxMemory (ENOMEM beyond).
//
// The behaviour follows Linux 6.18's kernel/bpf/syscall.c, arraymap.c,
// hashtab.c, lpm_trie.c, queue_stack_maps.c, ringbuf.c, map_in_map.c and
// kernel/trace/bpf_trace.c.
package maps
