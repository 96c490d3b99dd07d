// Package ebpf is a drop-in stand-in for the part of
// github.com/cilium/ebpf that tests of tc programs use: loading an object
// (LoadCollectionSpec, NewCollection), running its programs with
// BPF_PROG_TEST_RUN's conventions (Program.Run with RunOptions,
// Program.Test) and reading and writing its maps (Map.Lookup, Update,
// Put, Delete). A test written against cilium/ebpf switches to the
// library by changing its import line to
//
//	ebpf "github.com/clsbpf/clsbpf/classifier/ebpf/ciliumcompat"
//
// # Model
//
// Every identifier wraps its namesake in
// github.com/clsbpf/clsbpf/classifier/ebpf: a CollectionSpec is an
// ObjectSpec, a Collection's programs and maps are the library's, and
// Program.Run is Program.TestRun, which follows bpf_prog_test_run_skb in
// the kernel's net/bpf/test_run.c. Only SCHED_CLS and SCHED_ACT programs
// exist: objects with other program types fail to load with EINVAL.
//
// # Concurrency
//
// As in the wrapped package: programs and maps are safe for concurrent
// use; a RunOptions value belongs to one Run at a time.
//
// # Errors
//
// Errors wrap the kernel's errno (errors.Is(err, syscall.EINVAL)) where
// cilium/ebpf's would, and ErrKeyNotExist for a missing key.
//
// # Limits
//
// Close is a no-op kept for source compatibility: nothing here holds a
// kernel resource. The test run has no socket (sk reads NULL) and, with
// neither Context nor ContextOut, its wire_len reads the frame length
// where the kernel's reads 0.
package ebpf
