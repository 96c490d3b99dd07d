// Package atomicmem reads and writes memory shared between eBPF programs
// and Go code (map values) so that every access is free of data races and
// never torn at its width.
//
// # Model
//
// Memory comes from Alloc or FromWords: it is backed by []uint64, so its
// first byte is 8-byte aligned and its capacity is a multiple of 8. Every
// function takes that memory and a byte offset into it. Values are
// little-endian, the byte order of eBPF programs on the hosts the kernel
// runs them on; a big-endian host swaps bytes per word.
//
// Loads and stores of 1, 2, 4 and 8 bytes at offsets aligned to their size
// are single atomic accesses. Bytes and halfwords are stored with a
// compare-and-swap on the aligned 32-bit word that contains them, so that
// concurrent stores to the neighbouring bytes are never lost. Unaligned
// accesses are split into byte accesses, each atomic but not together —
// the kernel's unaligned accesses are not atomic either. RMW32, RMW64,
// CmpXchg32 and CmpXchg64 are the BPF_ATOMIC operations (add, or, and,
// xor, xchg, cmpxchg) and return the old value; they require natural
// alignment, as the kernel's verifier does. CopyIn, CopyOut, Move and Zero
// move whole ranges one aligned 8-byte word at a time.
//
// # Concurrency
//
// Every function may be called concurrently with any other on the same
// memory. A reader sees each aligned word as it was before or after any
// one store, never a mix; a range copy is not a snapshot of the range. Two
// programs that read, modify and write the same value without the atomic
// operations lose updates, as they do in the kernel; memory is never
// corrupted.
//
// # Errors and limits
//
// An offset outside the memory is a bug of the caller, which checks
// bounds first (the VM against the region, the maps against the value
// size): the functions then panic with Go's bounds error. A misaligned
// atomic read-modify-write returns ok == false and changes nothing.
//
// The operations follow the semantics of the kernel's BPF_ATOMIC
// instructions (kernel/bpf/core.c, ___bpf_prog_run) and of the map value
// copies in include/linux/bpf.h (copy_map_value, copy_map_value_long).
package atomicmem
