// Package ciliumadapt is the one place clsbpf's library code touches
// github.com/cilium/ebpf: it converts cilium's asm.Instructions (what
// cilium's ELF reader produces for `tc ... bpf da obj prog.o`) into the
// eBPF VM's raw instructions, so the rest of the project does not follow
// cilium's v0 API as it changes between releases.
//
// # Model
//
// Conversion goes through the kernel's wire format: the instructions are
// marshalled as little-endian struct bpf_insn slots (cilium resolves
// bpf-to-bpf call and function references by symbol on the way) and
// decoded by ebpfvm.Decode. Map references keep the names cilium's
// metadata gives them, reported by slot index for the loader that links
// maps.
//
// LoadObject (elf.go) reads a whole ELF object through cilium's
// LoadCollectionSpec and returns it as plain data (Object: programs with
// raw instructions and map references by slot, map definitions with
// iproute2's bpf_elf_map tail and pinning, global data sections), refusing
// CO-RE relocations, kfuncs, ksyms and kconfig externs with EOPNOTSUPP
// naming them, and section headers beyond MaxSectionSize with E2BIG.
// LoadObjectOptions (elf_extern.go) instead applies CO-RE relocations
// through internal/core and resolves externs with libbpf's rules
// (tools/lib/bpf/libbpf.c, bpf_object__resolve_externs): a .kconfig map,
// __weak ksyms and kfunc addresses at 0, kfunc calls kept and named in
// ObjProgram.Kfuncs.
//
// # Concurrency
//
// Pure functions: the input is copied before cilium resolves references
// in it, so callers' instruction slices are never written.
//
// # Errors
//
// An unresolved reference or an instruction cilium cannot encode is an
// EINVAL error naming the cause.
//
// # Limits
//
// Instruction metadata other than symbols and map references (source
// lines, BTF func info) is not carried over.
package ciliumadapt
