// Package ebpf holds eBPF programs, maps and objects for tc: the pieces a
// clang-compiled tc program (tc filter ... bpf da obj prog.o) needs to run
// in userspace with the kernel's results, and the Go API to read and write
// its maps.
//
// # Objects and programs
//
// LoadObject (LoadObjectFile) reads an ELF object compiled with clang
// -target bpf, as `tc filter ... bpf da obj prog.o sec tc` takes it,
// through cilium/ebpf's ELF reader, which needs no kernel: an ObjectSpec
// with its programs by name (ProgramSpec: section, type, raw instructions
// and the maps they name) and its maps (BTF .maps and legacy maps
// definitions, iproute2's struct bpf_elf_map with its pinning, and the
// global data sections .data, .bss and .rodata* as single-element arrays
// holding their initial values, .rodata read-only to programs), and its
// global variables (Variables; SetVariable changes a `const volatile`
// setting before loading, as a loader does). Specs are plain data with
// Copy. NewCollection creates the maps (sharing pinned
// ones through a PinNamespace the caller owns: PinGlobalNS by name,
// PinObjectNS by object), fills prog arrays and maps of maps declared
// with initial values, and loads every program with NewProgram: map
// references become the VM's LD_IMM64 map and map value sources, helper
// calls resolve through a HelperRegistry (the tc helpers of the library,
// with injectable clock and seed), bpf-to-bpf calls and tail calls
// through prog arrays run in the VM.
//
// A Program is SchedCLS or SchedACT. Run runs it on a packet.Packet and
// returns R0's low 32 bits, which cls_bpf reads as a verdict (direct
// action) or classid (classic mode); Tag is the kernel's program tag and
// ID its id (from a process-wide counter unless ProgramOptions.ID or
// CollectionOptions.ProgramIDs sets it), so that a Chain's dump shows what
// the kernel's shows. A Program is a classifier.ExtendedProgram: a
// FilterSpec takes it by value, and a ProgramTable hands out descriptors
// for TCA_BPF_FD requests.
//
// # Test runs
//
// Program.TestRun runs a program as bpf(BPF_PROG_TEST_RUN) does for
// SCHED_CLS and SCHED_ACT: RunOptions carries the frame (from its Ethernet
// header) and optionally a struct __sk_buff context in and out, with the
// kernel's rules on which context fields may be set, its minimum sizes,
// its errno (EINVAL, E2BIG, ENODEV, ENOSPC with the kernel's partial copy)
// and the defaults the program sees (the loopback device, pkt_type from
// the destination address). Package ciliumcompat offers the same under
// cilium/ebpf's names, so a test written for cilium/ebpf's Program.Run
// runs here by changing its import line.
//
// # Tracing, source lines and coverage
//
// RunTrace runs a program on the reference interpreter and records each
// executed instruction into a trace.Trace: its disassembly as the
// kernel's verifier log prints it, the registers read and written, the
// memory access (context field, packet, stack, map value) and helper call,
// and the C source line from the object's BTF line information
// (ProgramSpec.Lines). Source names an instruction's line, and
// SourceError names the line of a RunChecked fault ("invalid memory
// access at prog.c:42 (insn 7)"). NewCoverage counts instructions and
// branch directions over many runs and reports them per instruction
// (WriteText, WriteHTML) or per C source line (WriteLinesText,
// WriteLinesHTML), in the style of `go tool cover`. Run itself has no
// tracing hook and pays nothing for it.
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
// A Program never changes after NewProgram and may run concurrently on
// distinct packets whose Slot differs. The redirect helpers record their
// target per slot in the program's HelperRegistry (the kernel's per-CPU
// bpf_redirect_info): collections whose programs share a chain should
// share one registry (CollectionOptions.Helpers), and the caller reads
// Redirect for the packet's slot after a Redirect verdict; specs are plain values for one
// goroutine at a time; a ProgramTable and a PinNamespace are safe for
// concurrent use.
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
// Object and program errors wrap the errno the kernel (or libbpf, for
// what it refuses) returns: EINVAL for a malformed object or a program
// that is not a tc program, EOPNOTSUPP naming the CO-RE relocation,
// kfunc, ksym or kconfig extern an object needs when loaded without
// options (LoadObjectWithOptions resolves them as libbpf does: an
// unresolved strong extern is ESRCH, a relocation that fails is named
// with libbpf's errno, a kfunc call a path reaches is EOPNOTSUPP naming
// the kfunc), E2BIG for oversized sections, EBADF for map references that name
// no map, the verifier's errno for rejected programs, and a
// *MissingHelperError naming a helper the registry lacks. A run fault,
// which the kernel's verifier would have prevented and the VM's sandbox
// catches, makes Run return 0 and count it (Faults); RunChecked returns
// it.
//
// Map errors wrap the errno the kernel returns (errors.Is(err,
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
// Programs follow Linux 6.18: kernel/bpf/core.c (bpf_prog_calc_tag, a
// SHA-256 since 6.18), kernel/bpf/verifier.c, net/sched/cls_bpf.c
// (cls_bpf_dump_ebpf_info), and iproute2's lib/bpf_legacy.c for
// bpf_elf_map pinning; tests compare the test objects' results with
// BPF_PROG_TEST_RUN and eBPF filter dumps with the kernel's cls_bpf.
// Maps follow kernel/bpf/syscall.c (map_create and
// the BPF_MAP_* commands), arraymap.c, hashtab.c, lpm_trie.c,
// queue_stack_maps.c, ringbuf.c, map_in_map.c, and
// kernel/trace/bpf_trace.c for perf_event_output. Tests compare every
// operation's result, errno and the final contents with the running
// kernel's maps where the machine allows it.
package ebpf
