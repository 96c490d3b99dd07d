// Package cbpfvm is the classic BPF engine behind classifier/cbpf: the
// kernel's checker, a reference interpreter, and the pre-decoded, fused
// and closure-compiled forms programs run on.
//
// # Model
//
// ops.go holds the one opcode table (every opcode net/core/filter.c
// chk_code_allowed accepts, with its mnemonic, operand form and
// pre-decoded kind) and the extension table (bpf_anc_helper); the checker,
// both engines and the disassembler read them. check.go is the checker in
// the kernel's order (bpf_check_basics_ok, bpf_check_classic,
// check_load_and_stores) and translate.go the one failure of the eBPF
// translation that can still reject a checked program (jump offsets that
// do not fit 16 bits in bpf_convert_filter). interp.go is the reference
// interpreter: a switch on the whole opcode, written to be read.
// compile.go turns a checked program into pre-decoded operations with
// absolute jump targets and loads specialised by offset range, and exec.go
// runs them with one switch per operation. fuse.go builds the fused form:
// the same operations with superinstructions written over the patterns
// filters are made of (a load, an optional AND and a compare-and-jump as
// one guard; a run of JEQs as one table lookup). closure.go compiles the
// fused form to Go closures that call one another with A and X as
// arguments, with larger pieces on top: a window checks a run of guards
// at constant offsets with two masked 64-bit compares, a msh guard does
// "ldxb 4*([k]&0xf)" and the guard on X plus a constant at once, and a
// window followed by a msh guard (the start of tcpdump's port and flag
// filters) is one closure. A closure call costs about as much as the work
// of a guard, so what counts is how many calls a run makes. load.go and flow.go hold the run-time semantics all engines
// share: packet loads as bpf_skb_load_helper_* resolves them, the
// extensions of convert_bpf_extensions, the netlink attribute search and
// the flow dissector behind SKF_AD_PAY_OFFSET. trace.go records runs of
// the reference interpreter into classifier/trace values (InterpretTrace,
// InterpretCover) through its Env.Trace hook, which sees each
// instruction's pc with A and X before it runs; the other engines have no
// hook.
//
// The closures run every program without scratch memory whose longest
// path is at most MaxClosureDepth operations (CompileClosures returns nil
// for the rest, which run on the switch executor in fused form). A
// superinstruction only ever stands for the instructions it covers: the
// operations of those instructions stay in place for jumps into the
// middle, a window or guard that cannot decide a load exactly (a word not
// wholly inside the frame, a header-relative offset) hands the run to the
// plain closure of that instruction, and tests hold every form to the
// interpreter (TestEngines, TestFilterShapes, FuzzEngines) and, through
// classifier/cbpf, to the kernel.
//
// The run-time rules are those of the eBPF program the kernel runs in
// place of a classic one: a failed load or a division by X == 0 ends the
// program with 0, shifts by X use X & 31, compares are unsigned 32-bit,
// and header-relative offsets reach the headroom before skb->data.
//
// # Concurrency
//
// A Prog and a Closures are immutable and safe for concurrent use; a run
// keeps A, X and the scratch memory in locals or arguments and allocates
// nothing. The packet must not change during a run.
//
// # Errors
//
// Check returns a *Rejection (the instruction and the Reason) or nil; the
// public package wraps it with EINVAL. Runs have no errors: every fault is
// the result 0, as in the kernel.
//
// # Limits
//
// Programs passed to Interpret, Compile, CompileFused and CompileClosures
// must have passed Check; the engines rely on its guarantees (opcodes known, jumps forward
// and in range, scratch indexes below 16, no DIV/MOD by constant 0).
// SKF_AD_IFINDEX and SKF_AD_HATYPE always see a device. No BPF
// flow-dissector program and no DSA tag is modelled for SKF_AD_PAY_OFFSET.
//
// # Kernel sources
//
// net/core/filter.c (bpf_check_classic, check_load_and_stores,
// bpf_convert_filter, convert_bpf_extensions, convert_bpf_ld_abs,
// bpf_skb_load_helper_*, bpf_skb_get_nlattr, bpf_skb_get_nlattr_nest),
// net/core/flow_dissector.c (__skb_flow_dissect, __skb_get_poff),
// include/uapi/linux/filter.h, lib/nlattr.c (nla_find), as of Linux 6.18.
package cbpfvm
