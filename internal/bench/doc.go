// Package bench is the cross-engine benchmark suite of the classic BPF
// path and the tools BENCHMARKS.md is made with.
//
// # Model
//
// BenchmarkEngines runs the three filters of the classic issue (`ip and
// tcp dst port 80`, `tcp[tcpflags] & tcp-syn != 0 and net 10.0.0.0/8` and
// a 14-port classid classifier) on a 64-byte and a 1500-byte TCP SYN, on
// every engine side by side: the reference interpreter, the pre-decoded
// and fused forms on the switch executor, the closure-compiled form, the
// public cbpf.Program.Run (whichever engine Load chose), the
// golang.org/x/net/bpf VM, and a hand-written Go function doing the same
// checks on the same bytes. BenchmarkKernelJIT (Linux, root) times the
// kernel's JIT on the eBPF equivalent of the first filter through
// BPF_PROG_TEST_RUN, with an empty program's time as the baseline. The
// chain benchmarks are in package classifier (BenchmarkClassicChain and
// friends). An eBPF engine adds its rows by adding entries to the engine
// list of BenchmarkEngines; the generator picks up any engine name.
//
// Every benchmark reports, besides ns/op, cpu-ns/op: the time the
// benchmarking thread itself spent on the CPU per operation
// (CLOCK_THREAD_CPUTIME_ID on Linux). On a loaded machine wall time
// includes the time other processes held the core; thread CPU time does
// not, so the generator builds its ratios from it.
//
// cmd/benchmd runs the benchmarks with -count, takes medians and writes
// BENCHMARKS.md at the module root: `go run ./internal/bench/cmd/benchmd`.
//
// # Concurrency
//
// CPUTimer locks the benchmark goroutine to its thread while it measures.
//
// # Errors
//
// The filter constructors panic on a malformed built-in program, which a
// test rules out; nothing here takes outside input.
//
// # Limits
//
// Thread CPU time is read only on Linux; elsewhere cpu-ns/op is not
// reported and the generator falls back to ns/op. The kernel row needs
// root and BPF_PROG_TEST_RUN.
//
// # Kernel sources
//
// The kernel timing is that of bpf_prog_test_run_skb and
// bpf_test_run in net/bpf/test_run.c (the kernel's mean per run over the
// repeat count).
package bench
