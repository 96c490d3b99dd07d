// Package ebpf holds eBPF programs, maps and objects for tc: the pieces a
// clang-compiled tc program (tc filter ... bpf da obj prog.o) needs to run
// in userspace with the kernel's results, and the Go API to read and write
// its maps.
//
// # Maps
//
// A MapSpec describes a map as BPF_MAP_CREATE's attributes do (type, key
// and value sizes, max_entries, flags, the inner map of a map-in-map);
// NewMap checks it with the kernel's rules and errno and returns a *Map.
// The types are Hash, PerCPUHash, LRUHash, LRUCPUHash, Array, PerCPUArray,
// LPMTrie, Queue, Stack, RingBuf, PerfEventArray, ProgramArray,
// ArrayOfMaps and HashOfMaps. The Map methods are the bpf(2) syscall's
// view, shaped like cilium/ebpf's Map: Lookup, LookupAndDelete, Update
// with UpdateAny/UpdateNoExist/UpdateExist, Delete, NextKey, Iterate,
// Freeze and the batch operations (BatchLookup, BatchLookupAndDelete,
// BatchUpdate, BatchDelete); keys and values are []byte or fixed-size Go
// values in native byte order.
// A RingBufReader and a PerfReader read what programs emit.
//
// Programs see the same maps through the helpers (bpf_map_lookup_elem and
// the others), which work on the map's own memory: a lookup returns the
// element's value memory, which stays valid after the element is deleted
// (Go's garbage collector plays the part of RCU), and writes through it
// change the map in place.
//
// # Execution slots
//
// A program runs on an execution slot, the stand-in for a CPU:
// bpf_get_smp_processor_id returns it and per-CPU maps index their values
// by it. Each map has a slot count (WithSlots; runtime.GOMAXPROCS(0) by
// default); the Go API shows per-CPU values as a slice with one value per
// slot, each padded to 8 bytes as the kernel pads them. Whoever runs
// programs runs at most one at a time per slot.
//
// # Determinism
//
// Where the kernel's behaviour depends on randomness or on its CPUs, a
// map takes an injectable choice and defaults to a reproducible one: the
// hash seed (WithHashSeed; 0 by default, which is the kernel's bucket
// order under FlagZeroSeed — the hash is the kernel's jhash, so NextKey
// walks a hash map in the kernel's order for the same seed), the LRU
// eviction policy (WithLRUPolicy) and map ids (WithMapID). An LRU map
// here evicts exactly when it is full and a new key comes in, by the
// policy: the kernel's LRU is approximate, keeps per-CPU free lists and
// may evict earlier or other elements; both never fail with E2BIG.
//
// # Concurrency
//
// Maps are safe for concurrent use by programs on different slots and by
// any number of goroutines calling Map methods, and stay clean under Go's
// race detector: value memory is only accessed through atomic loads and
// stores of the access width (package internal/atomicmem), so a value is
// never torn at the width a program or the Go API uses. Lookups in arrays,
// hashes and LPM tries take no lock; updates of hashes and LPM tries, and
// every queue, stack and ring buffer producer operation, hold a lock per
// map, as the kernel's bucket and map locks do. Programs that read, modify
// and write a value without atomic instructions may lose updates, as they
// do in the kernel; memory is never corrupted. The Go API copies whole
// values word by word: a copy is not a snapshot of a value being written
// concurrently. A MapIterator, a MapBatchCursor and a reader's Read belong
// to one goroutine at a time.
//
// # Errors
//
// Errors wrap the errno the kernel returns (errors.Is(err,
// syscall.EINVAL)); MapError names the operation and the map. A missing
// key is ErrKeyNotExist (ENOENT) and an existing one under UpdateNoExist
// ErrKeyExist (EEXIST); both are preallocated, so hot paths do not
// allocate for them. Operations a map type lacks return the kernel's
// ENOTSUPP (524), matched by ErrNotSupported.
//
// # Implementation restrictions
//
// There is no BTF yet, so no value has a bpf_spin_lock: UpdateLock is
// EINVAL, as for kernel maps without one. A map preallocates at most 1 GiB
// (WithMaxMemory); bigger ones fail with ENOMEM where the kernel might
// succeed. Map-in-map values and prog array slots hold Go objects (a *Map,
// a TailCallTarget) where the kernel takes file descriptors. Ring buffer
// sizes are checked against 4096-byte pages, the x86-64 page size.
// Memory-mapping array values (BPF_F_MMAPABLE is accepted but changes
// nothing) and pinning are not provided.
//
// # Kernel sources
//
// The behaviour follows Linux 6.18: kernel/bpf/syscall.c (map_create and
// the BPF_MAP_* commands), arraymap.c, hashtab.c, lpm_trie.c,
// queue_stack_maps.c, ringbuf.c, map_in_map.c, and
// kernel/trace/bpf_trace.c for perf_event_output. Tests compare every
// operation's result, errno and the final contents with the running
// kernel's maps where the machine allows it.
package ebpf
