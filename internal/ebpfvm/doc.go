// Package ebpfvm is clsbpf's eBPF engine: a decoder, a load-time verifier,
// a compiler to a pre-decoded executable form and a sandboxed run loop for
// the whole RFC 9669 instruction set with Linux's additions, producing the
// kernel's results bit for bit.
//
// # Model
//
// Decode reads raw bytecode (little-endian struct bpf_insn slots); Load
// verifies a program (verify.go), resolves helper calls, LD_IMM64 pseudo
// sources, context accesses and jump targets once, and compiles it into
// one executable instruction per slot with an internal opcode that already
// says width, operand source and variant (compile.go). A Program never
// changes after Load. A Machine holds the per-run state (stack, call
// frames, region table); the run loop (exec.go) keeps the registers in a
// local array and switches on the internal opcode, decoding nothing and
// allocating nothing. The compiler also fuses hot sequences into
// superinstructions (fuse.go): a load followed by a compare-with-constant
// branch on the loaded register, a legacy LD_ABS followed by one, a
// pointer-plus-constant bounds check against another register, and a
// constant return; the fused instruction performs every memory check its
// parts perform, and the instructions it covers stay in place for jumps
// that land inside the sequence. A second engine, the reference interpreter
// (interp.go, Options.Engine = EngineReference), executes the instructions
// as loaded, decoding each step, written to be read; the tests run both
// engines on the conformance suite, the kernel differential and
// FuzzEngines, and the kernel decides when they disagree. The reference
// interpreter alone has a Hook, called before each instruction with the
// registers (RunHook): a Tracer records runs into a trace.Trace, a
// Coverer counts them into a trace.Coverage, with text from a Listing
// (Disassemble prints instructions as the kernel's verifier log does,
// kernel/bpf/disasm.c). Runs without a hook pay one nil check per
// instruction there, and the compiled engine nothing (trace.go).
//
// Supported: ALU and ALU64 with 32-bit zero-extension, signed division
// and modulo, sign-extending moves and loads, le/be/bswap, JMP and JMP32
// with every condition, gotol, all atomics (add, or, and, xor with and
// without fetch, xchg, cmpxchg, 32 and 64 bits), load-acquire and
// store-release, LD_IMM64 with map, map value and function pseudo sources
// (through a Linker), helper calls by id (through Helpers), bpf-to-bpf
// calls with their own frames (R6-R9 preserved, 512 bytes of stack per
// frame, at most MAX_CALL_FRAMES), callx (ProfileRFC), may_goto, and the
// legacy LD_ABS/LD_IND. Edge cases follow the kernel: division by zero
// gives 0, modulo by zero leaves the destination (32-bit forms truncate
// it), INT_MIN / -1 wraps, shift counts are masked.
//
// The context R1 points to is either a struct __sk_buff over a
// packet.Packet (ContextSkb, skb.go: every field of the 192-byte
// structure with tc's read and write permissions and the kernel's narrow
// read quirks; accesses are resolved at load into direct field
// operations) or caller memory (ContextMem, the conformance suite's
// convention).
//
// Map values are shared memory (mem_map.go): the program's loads, stores
// and atomics on them go through package atomicmem, so concurrent runs
// and Go code never race; helpers hand out pointers to values with
// Machine.MapValue, from a per-run table of DynamicRegions regions that
// allocates nothing. Machine.TailCall runs a tail call (tailcall.go): the
// target runs on a machine of its own and its result ends the caller's
// run, at most MaxTailCalls times per run.
//
// # Safety model
//
// A program touches only its regions: the context, its stack (all frames),
// the packet window [data_meta, data_end), caller memory for ContextMem,
// and map values the Linker hands out (read-only where the map says so).
// A pointer is a 64-bit value that encodes (region id + 0x100) in its
// upper 32 bits and an offset in its lower 32 (mem.go). Pointer arithmetic
// is integer arithmetic, so data + 14 > data_end compares as in the kernel;
// but no host address ever reaches the program, and every load, store and
// atomic decodes the effective address, finds the region by id, checks the
// offset window and the permission, and faults (ErrMemAccess) otherwise. A
// scalar can be dereferenced only if it happens to equal a valid address
// of a live region, which grants nothing the program could not reach with
// its own pointers; no value reaches outside the regions. The verifier
// rejects dereferences of values it knows are not pointers, so programs
// the kernel accepts never fault; the run-time checks are the backstop for
// what the verifier does not track (value ranges, packet bounds, variable
// stack offsets). Runs always end: every jump back to an earlier
// instruction (a loop iteration) is charged the instructions it spans,
// and every call the length of its callee, against a budget
// (Options.Budget, default DefaultBudget), which thus bounds the
// instructions a run executes; calls are bounded by MAX_CALL_FRAMES and
// may_goto by BPF_MAX_LOOPS. A helper error ends the run with ErrHelper.
// Nothing panics on any input: the fuzz targets check decoding, verifying
// and running arbitrary bytes.
//
// # Verifier
//
// The verifier mirrors kernel/bpf/verifier.c's decisions and errnos for
// what it checks: unknown opcodes and reserved fields (EINVAL, the
// kernel's check_*_fields), bad LD_IMM64 pairs, jumps out of their
// subprogram or into an LD_IMM64's second slot, subprograms that fall off
// their end, unreachable instructions (EINVAL), writes to R10 and reads of
// never-written registers (EACCES), invalid context accesses (EACCES),
// stack accesses outside the frame, atomics on the context or packet,
// forbidden pointer arithmetic (EACCES), the instruction limit, call
// depth and combined stack size. As in the kernel, unknown opcodes and
// malformed LD_IMM64 pairs are refused wherever they are, while every
// other check applies to the instructions some path reaches: the
// verifier folds known constants and follows only the outcome of a
// comparison between constants, so code the kernel never visits (and
// does not check) is not checked either, and is compiled to a trap. It
// is a dataflow over register kinds and constants joined where paths
// meet, not the kernel's path-by-path exploration, so it may reject a
// program whose correctness depends on path correlation. Direct packet
// access is checked as the kernel checks it: a comparison of a packet
// pointer with data_end proves a range for every pointer of the same
// base, and an access outside what every path proved is refused (EACCES
// "invalid access to packet"). Global data (map values from LD_IMM64)
// is checked the same way: accesses at known offsets must lie inside the
// value, and writes into read-only maps are refused. Beyond that it tracks
// no value ranges: it accepts accesses through pointers whose offset it
// lost (spilled and reloaded, joined from different offsets, or moved by
// a variable), map values returned by helpers and variable stack offsets
// the kernel would want bounded, trapping them at run time instead, and
// likewise loops the kernel finds infinite and programs beyond its
// complexity limit. TestMutantsLikeKernel measures the agreement on mutated
// programs. ProfileRFC relaxes the Linux-only rules for the conformance
// suite.
//
// # Concurrency
//
// A Program is safe for concurrent use. A Machine is not: use one per
// goroutine, or Program.Run, which takes machines from a pool. Atomic
// instructions are performed with sync/atomic, so they stay atomic when
// concurrent runs share map memory.
//
// # Errors
//
// Load returns *VerifyError (instruction index, reason in the kernel's
// words, errno). Runs return *RunError (instruction index, one of
// ErrMemAccess, ErrBudget, ErrCallDepth, ErrBadCall, ErrHelper); the error
// value is allocated only on a fault. A failing LD_ABS/LD_IND is not an
// error: as in the kernel, the current function returns 0.
//
// # Limits
//
// Callbacks (bpf_loop, bpf_for_each_map_elem) run through
// Machine.CallFunc (callback.go) on the compiled form, also under the
// reference engine. Not yet supported: kfuncs (rejected at load with EINVAL),
// BTF-typed pseudo sources (BPF_PSEUDO_BTF_ID), arenas, gotox (JA|X).
// The __sk_buff sk field is always NULL. The per-run may_goto budget is shared by all frames of a
// run. Stack bytes are zeroed before a frame uses them where the kernel
// leaves them undefined.
//
// # Kernel sources
//
// kernel/bpf/core.c (___bpf_prog_run), kernel/bpf/verifier.c,
// include/uapi/linux/bpf.h, net/core/filter.c (__sk_buff access and
// LD_ABS), Documentation/bpf/standardization/instruction-set.rst (RFC
// 9669).
package ebpfvm
