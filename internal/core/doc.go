// Package core applies CO-RE (compile once, run everywhere) relocations to
// eBPF programs, as libbpf does before BPF_PROG_LOAD and as the kernel
// does itself for BPF_PROG_LOAD with core_relos: a program compiled
// against one kernel's types (vmlinux.h) is rewritten for the types of
// the kernel it runs on. It runs on every OS; no kernel is needed.
//
// # Model
//
// clang records a relocation for each access through a type marked
// preserve_access_index and for each __builtin_preserve_* call: the local
// type (an ID in the object's own BTF), an access string ("0:1:2": the
// pointer index, then member or element indices) and a kind (field
// offset, size, existence, signedness, bitfield shifts; type ID, existence,
// size and match; enumerator existence and value). cilium/ebpf's ELF
// reader attaches them to instructions as metadata; Relocations reads them
// back and Apply/Relocate computes and patches each one against a Target
// (the library's shipped BTF from internal/btftarget, or any kernel's).
//
// For each relocation the local type's candidates are the target types
// with the same essential name (the name without a "___flavor" suffix)
// and a compatible kind. The access string is matched against each
// candidate by member name, descending into anonymous members, with the
// kernel's field compatibility rules; type-based kinds use its type
// compatibility or, for type_matches, its stricter match relation. All
// matching candidates must give the same result, else the relocation is
// ambiguous and fails. When none matches, existence kinds give 0, type
// kinds give 0, and the other kinds poison the instruction: it becomes a
// call of helper 0xbad2310 (both slots of an LD_IMM64), which loads but
// fails verification if reached, so guarded accesses to fields a kernel
// lacks still load. A load or store whose field changed size is resized
// when both sides are unsigned integers or pointers, and poisoned
// otherwise.
//
// Options.Kernel switches to the kernel's own variant of the rules
// (kernel/bpf/btf.c): recursion limits of 2 instead of libbpf's 32, no
// narrowing of candidates across relocations of one type, and 32-bit and
// 64-bit enums kept apart in the candidate search.
//
// # Concurrency
//
// A Target is immutable after NewTarget and safe for concurrent use.
// Relocate and Apply never modify their inputs and may run concurrently.
//
// # Errors
//
// A relocation that cannot be applied returns an *Error naming the
// relocation (index, instruction, kind, local type, access string) and
// unwrapping to the errno the kernel or libbpf fails the load with:
// EINVAL for malformed records, access strings, ambiguous candidates or
// instructions that do not hold the compiled value, E2BIG for nesting
// past 64 levels, a bitfield no 64-bit load covers or a type walk past its
// step budget, ERANGE for a field
// offset that does not fit an instruction's 16-bit offset.
//
// # Limits
//
// The target is little-endian (bitfield shifts are computed for it), as
// every program the library runs is. cilium/ebpf v0.22.0 keeps a
// relocation's fields unexported, so Relocations parses its String form.
// cilium merges BTF_KIND_ENUM and ENUM64 into one type; an enum of 8 bytes
// is taken as ENUM64, any other as ENUM (whose values widen as signed
// 32-bit numbers, as in the kernel). Negative indices in an access string,
// which the kernel's parser accepts and then uses to index before its
// arrays, are rejected with EINVAL. Deprecated integer bitfields (an INT
// with a bit offset) do not survive cilium's decoder and are not modelled.
// The kernel caches candidate lists by name alone, so when one name
// belongs to types of different kinds (an enum and a struct
// format_state, or a 32-bit local copy of a 64-bit enum) its answer
// depends on which kind some earlier load looked up first; Options.Kernel
// gives the answer of a fresh search. Type walks stop with E2BIG after
// 65536 steps, where libbpf would keep going on pathological types that
// kernel BTF never holds. Candidates are narrowed per Relocate call
// (libbpf narrows across the programs of a whole object).
//
// # Proof
//
// The tests hold the engine to three outside references: libbpf itself
// (testdata/libbpfdump.c records libbpf's relocated instructions in golden
// files: against the shipped target, checked on every OS, and against the
// BTF of the kernel it ran on, checked on that kernel); the kernel's own relocation (BPF_PROG_LOAD with core_relos,
// whose translated instructions, verdicts and run results must equal those
// of our output, for the clang test objects and for 400 generated cases);
// and cilium/ebpf's relocation, where it agrees with libbpf.
//
// # Kernel source
//
// tools/lib/bpf/relo_core.c (built into the kernel as
// kernel/bpf/relo_core.c): bpf_core_parse_spec, bpf_core_spec_match,
// bpf_core_calc_relo_insn, bpf_core_patch_insn; kernel/bpf/btf.c for
// candidate search and the kernel's limits; tools/lib/bpf/libbpf.c
// (bpf_core_find_cands, bpf_core_resolve_relo) for libbpf's candidate
// cache.
package core

//go:generate sh testdata/build.sh
//go:generate sh testdata/golden.sh
