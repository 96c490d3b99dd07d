// Package cbpf checks and runs classic BPF programs exactly as the Linux
// kernel does for the tc cls_bpf classifier (and for socket filters, which
// share the checker and the run-time rules).
//
// # The model
//
// A program is a slice of golang.org/x/net/bpf instructions or raw
// instructions, or the text tc takes ("4,40 0 0 12,21 0 1 2048,6 0 0
// 262144,6 0 0 0", see ParseBytecode and ParseBytecodeFile). Load checks it
// with the kernel's rules (bpf_check_classic: known opcodes, no division by
// constant zero, shifts below 32, scratch indexes below 16, jumps inside the
// program, known ancillary loads, a final RET, no scratch word read before
// it is written on every path, and the limit of the eBPF translation) and
// compiles it once; Run then executes it on a packet.Packet.
//
// Load picks the engine and stores the choice in the Program: a program
// without scratch memory, whose longest path is at most 256 operations
// (nearly every filter tcpdump writes), is compiled to Go closures that
// call one another with A and X as arguments, with the usual patterns
// fused (a load, a mask and a compare-and-jump as one guard; a run of
// guards at constant offsets checked as two masked 64-bit words; a run of
// JEQs as one table). Any other program runs on a switch executor over
// pre-decoded operations with the same superinstructions. Both give the
// results of the reference interpreter, which the tests and the kernel
// hold them to; BENCHMARKS.md at the repository root has the figures.
//
// The machine has a 32-bit accumulator A, an index register X and sixteen
// scratch words, all zero at the start. Packet loads (LD ABS, LD IND, LDX
// MSH) read the frame from pkt's data, reaching its non-linear part too;
// offsets in [SKF_NET_OFF, -1] count from the network header and offsets in
// [SKF_LL_OFF, SKF_NET_OFF) from the MAC header. A load past the end of the
// packet, and DIV or MOD by an X of zero, end the program with 0; shift
// counts in X are masked to 5 bits. The sixteen SKF_AD_* extensions read
// the packet's metadata: protocol (Packet.Protocol), pkttype (PktType),
// ifindex (Ifindex), mark, queue (QueueMapping), hatype (DeviceType),
// rxhash (Hash, as stored: the kernel does not compute it for a classic
// load), cpu (Slot, the execution slot standing in for the CPU), vlan_tci,
// vlanp and vlan_tpid (the offloaded VLAN fields; a tag is present when
// VLANPresent is set or either field is non-zero, as the kernel tests
// vlan_all), nla and nlan (a
// netlink attribute search in the packet), alu_xor_x, poff (the payload
// offset found by the kernel's flow dissector) and rand (WithRandom).
//
// String and Disassemble print a program exactly as `tcpdump -d` does,
// with extensions by name ("ld       [proto]"); FormatBytecode and
// FormatBytecodeFile print it back in tc's forms.
//
// # Trace and coverage
//
// RunTrace runs a program on the reference interpreter and records each
// executed instruction into a trace.Trace (package classifier/trace): the
// pc, the instruction as tc bytecode and disassembled, the registers read
// and written with their values, the memory access (packet, scratch M[]
// or ancillary, with offset and value, or a fault) and the branch
// direction, then the result; its result is Run's. NewCoverage returns a
// Coverage whose Run counts, over any number of runs and goroutines, how
// often each instruction ran and which way each conditional jump went,
// reported by WriteText and WriteHTML (in the style of `go tool cover
// -html`). Both go through the interpreter's per-instruction hook, never
// through Run, whose engines have no trace hook and so pay nothing for
// tracing.
//
// The 32-bit result means what the attach point says: for cls_bpf in
// classifier mode 0 is no match, 0xFFFFFFFF selects the filter's classid
// and any other value is the classid; for a socket, the number of bytes to
// keep.
//
// # Concurrency
//
// A Program is immutable after Load and safe for concurrent use; Run keeps
// its registers on the stack, allocates nothing and takes no lock. A
// packet.Packet must not be changed while a program runs on it. The
// SKF_AD_RANDOM source must be safe for concurrent use if runs are
// concurrent; the default, math/rand/v2's global generator, is.
//
// # Errors
//
// Load, LoadRaw and Check return a *CheckError for a program the kernel
// rejects, naming the instruction and the Reason; it wraps syscall.EINVAL as
// the kernel's answer does, so errors.Is(err, syscall.EINVAL) holds.
// ParseBytecode returns a *BytecodeError (EINVAL) with tc's message;
// ParseBytecodeFile also returns ErrBytecodeFileTooBig (E2BIG). Run has no
// errors: faults are results, as in the kernel (a trace names them).
//
// # Limits
//
// Programs have 1 to 4096 instructions (BPF_MAXINSNS). Jumps only go
// forward, so a run executes each instruction at most once and a trace's
// default bound of 4096 steps keeps every step. A Program builds the text
// of its instructions for traces and coverage on first use. The
// SKF_AD_IFINDEX and SKF_AD_HATYPE loads always find a device (a tc packet
// always has one): they read Ifindex and DeviceType, whatever their value.
// Header-relative loads fail when the packet records no such header
// (MACOffset or NetworkOffset -1, which includes a header exactly one byte
// before data). The flow dissector behind SKF_AD_PAY_OFFSET has no BPF
// flow-dissector program and no DSA tagging.
//
// # Kernel sources
//
// The checker follows net/core/filter.c (bpf_check_basics_ok,
// bpf_check_classic, check_load_and_stores, bpf_convert_filter); the
// run-time rules are those of the eBPF program bpf_convert_filter produces,
// with bpf_skb_load_helper_*, bpf_skb_get_nlattr(_nest) and
// convert_bpf_extensions in net/core/filter.c and skb_get_poff in
// net/core/flow_dissector.c; the text formats follow iproute2's
// lib/bpf_legacy.c.
package cbpf
