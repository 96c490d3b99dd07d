// Package asm reads the bpf_conformance suite's test files: the `.data`
// format (sections introduced by "-- " headers) and its eBPF assembly
// dialect ("add32 %r0, 1", "ldxw %r0, [%r1+4]", "lock fetch add [%r10-8],
// %r1", labels). It is test support for the VM and the conformance plugin,
// not a general assembler.
//
// # Model
//
// ParseData splits a file into its sections; Assemble turns the `-- asm`
// text into raw instructions, resolving labels (which count instruction
// slots: lddw takes two) and the implicit label "exit" (the first exit
// instruction). ParseRaw reads the `-- raw` forms.
//
// # Errors
//
// Assembly errors carry the upstream assembler's wording where the
// suite's negative tests compare it ("Invalid register: %r50", "Invalid
// label: X", "Immediate out of 32-bit range: 0x100000000", "Invalid number
// of operands for lock"), prefixed with the line number.
//
// # Concurrency and limits
//
// Pure functions; safe for concurrent use. Immediates are 32-bit (hex up
// to 0xffffffff, decimal in the int32 range) except lddw's 64-bit value;
// offsets are 16-bit signed.
//
// The format follows github.com/Alan-Jowett/bpf_conformance (its README
// in testdata describes it); no code of that project is used.
package asm
