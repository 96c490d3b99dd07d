// Package trace holds the engine-neutral records of what a BPF program
// did: a Trace of one run and a Coverage of many.
//
// # Model
//
// A Trace is a list of Steps, one per executed instruction, in order.
// Each Step carries the program counter, the instruction as bytecode and
// disassembled, the registers it read (with their values before it) and
// wrote (with their values after it), its memory access (Region, offset,
// size, value, and whether it faulted) and, for a conditional jump, the
// direction taken. The Trace ends with the program's result and, for a
// run that ended abnormally, a description of the fault. String renders
// it as text, one line per step.
//
// A Coverage counts, per instruction, how often it ran and, per
// conditional jump, how often each direction was taken, over any number
// of runs; Merge adds one Coverage to another. WriteText writes a report
// listing every instruction with its counts, bytecode and disassembly;
// WriteHTML writes a page in the style of `go tool cover -html`: covered
// instructions green (class cov1), uncovered red (cov0), and each
// conditional jump followed by a mark of the directions seen (classes
// br-both, br-taken, br-not, br-none).
//
// eBPF steps also carry a helper Call (id, name, R1..R5, R0 after it)
// and the C Source line of the instruction, when the object came with BTF
// line information; Trace.String then announces each new line as
// bpftool does ("; text  (file.c:42)"). Their accesses name the eBPF
// regions: RegionContext (the __sk_buff field), RegionStack (relative to
// r10), RegionPacket (relative to skb->data), RegionMap (within the map
// value) and RegionMemory.
//
// Lines groups a Coverage by C source line; WriteLinesText and
// WriteLinesHTML report it per line in the same style: a line is covered
// (cov1) when any of its instructions ran and uncovered (cov0) when none
// did, and a line only partly run or with a branch direction never seen
// is marked "~" (class partial in the page).
//
// The engines fill these values: classifier/cbpf does for classic
// programs (Program.RunTrace, NewCoverage), through the reference
// interpreter of internal/cbpfvm, and classifier/ebpf for eBPF programs
// (Program.RunTrace, NewCoverage), through the hook of internal/ebpfvm's
// reference interpreter. The register names, regions and instruction
// texts are the engine's; the types do not depend on it.
//
// # Concurrency
//
// A Trace belongs to one run at a time. A Coverage's counters are atomic:
// runs on many goroutines may count into one Coverage while another reads
// Counts, though a report written during runs is a mix of moments.
//
// # Errors
//
// Merge of coverages of different programs returns an error wrapping
// syscall.EINVAL. WriteText and WriteHTML return the writer's error.
//
// # Limits
//
// A Trace keeps at most MaxSteps steps (DefaultMaxSteps, 4096 =
// BPF_MAXINSNS, when zero: every step of any classic program, not of an
// eBPF program with loops); further
// steps are counted in Executed and set Truncated. A Step records at most
// MaxRegs registers read and MaxRegs written, and one memory access.
// Reusing a Trace (Reset, or an engine that resets it) keeps its storage,
// so a traced run allocates nothing once the storage has grown.
//
// # Kernel sources
//
// The types follow no kernel structure; what they record follows the
// engines, and through them net/core/filter.c (the classic semantics of
// bpf_convert_filter) as of Linux 6.18; the per-line grouping follows the
// kernel's line info (struct bpf_line_info, kernel/bpf/core.c
// bpf_prog_linfo), where a record covers the instructions up to the next.
package trace
