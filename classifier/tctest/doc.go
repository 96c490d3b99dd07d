// Package tctest makes testing a tc program a few lines of go test: load a
// clang-compiled object or classic bytecode, build a packet from a gopacket
// layer stack or raw bytes, set the context the program sees, run it alone
// or through a Chain or Block, and check the verdict, the classid, the
// output frame, the __sk_buff fields and map contents.
//
//	coll := tctest.LoadObject(t, "testdata/prog.o")
//	prog := tctest.ProgramOf(t, coll, "firewall")
//	pkt := tctest.Packet(t, eth, ip, tcp) // lengths and checksums fixed
//	tctest.EqualVerdict(t, tctest.Run(t, prog, pkt), action.Shot)
//
// # Model
//
// The helpers take a testing.TB, call its Helper method, and report as the
// testing package does: setup helpers (LoadObject, ProgramOf, MapOf,
// Bytecode, Serialize, Packet, Frame, Run, TestRun, Chain, Block) stop the
// test with Fatalf, since nothing after them could run; assertions
// (EqualVerdict, EqualClassID, EqualFrame, EqualContext, EqualMapValue)
// report with Errorf and let the test go on, so one run shows every
// difference. The messages are meant to be read: verdicts by their TC_ACT_*
// names, class ids as tc prints them, frames as hex dumps with the
// differing bytes marked and decoded by gopacket layer by layer, context
// fields by their struct __sk_buff names.
//
// A packet from Frame or Packet is what BPF_PROG_TEST_RUN hands a
// SCHED_CLS program given no context: the frame from its MAC header on the
// loopback device at egress, pkt_type from the destination address as
// eth_type_trans sets it, every other field zero; a test in this package
// holds those defaults to the kernel's. The context is the packet's
// exported fields: set Mark, Priority, CB, Ifindex, Direction or the VLAN
// fields before the run. TestRun takes a test written for
// BPF_PROG_TEST_RUN (bytes in and out, a struct __sk_buff context) as it
// is; Frame and Run give the same results on a context-free run.
//
// # Coverage
//
// Cover runs a test's packets through an eBPF program and returns which
// instructions, branch directions and C source lines ran (from the
// object's BTF line information); setting CLSBPF_COVER_DIR writes the
// reports, as text and as a `go tool cover`-style HTML page, named after
// the test.
//
// # Concurrency
//
// The helpers keep no state. A collection's programs may run in parallel
// subtests on distinct packets whose Slot differs, as the ebpf package
// allows.
//
// # Errors
//
// Setup failures carry the library's errors, which wrap the kernel's errno
// (a program the verifier refuses is EACCES or EINVAL, a bytecode the
// classic checker refuses is EINVAL). A run fault of an eBPF program, which
// the kernel's verifier would have prevented, fails the test.
//
// # Limits
//
// Run runs the program with the library's engines, which follow the
// kernel's cls_bpf and BPF_PROG_TEST_RUN (net/sched/cls_bpf.c,
// net/bpf/test_run.c, net/core/filter.c); the kit itself does not run the
// kernel. Frame needs at least an Ethernet header (14 bytes). Chain and
// Block add filters with default configuration (no offload devices, no
// class binding).
package tctest
