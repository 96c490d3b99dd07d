//go:build linux

package ebpf_test

import (
	"path/filepath"
	"testing"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// BenchmarkKernelRun times the same programs on the same frame in the
// running kernel with BPF_PROG_TEST_RUN's own repeat loop (JIT-compiled
// where the kernel JITs), reported as kernel-ns/op, for comparison with
// BenchmarkRun.
func BenchmarkKernelRun(b *testing.B) {
	kerneltest.RequireBPF(b)
	for _, tc := range []struct{ object, prog string }{
		{"globals", "globals"},
		{"port", "port_classifier"},
		{"lpm", "lpm_acl"},
		{"nat", "nat"},
		{"elfmap", "count"},
		{"tailcall", "tail_entry"},
		{"progarray", "dispatch"},
		{"vlan", "vlan"},
		{"events", "events_out"},
	} {
		b.Run(tc.object, func(b *testing.B) {
			col := kernelObjectB(b, filepath.Join("testdata", tc.object+".o"))
			if m := col.Maps["ports"]; m != nil {
				if err := m.Put(u16le(80), make([]byte, 16)); err != nil {
					b.Fatal(err)
				}
			}
			if m := col.Maps["acl"]; m != nil {
				if err := m.Put(append(u32le(8), 10, 0, 0, 0), u32le(0)); err != nil {
					b.Fatal(err)
				}
			}
			if m := col.Maps["jumps"]; m != nil {
				for slot, name := range map[uint32]string{1: "tail_tcp", 2: "tail_other", 3: "tail_last"} {
					if err := m.Put(slot, col.Programs[name]); err != nil {
						b.Fatal(err)
					}
				}
			}
			frame := tcpFrame(80)
			b.ReportAllocs()
			var total, runs int64
			for b.Loop() {
				_, d, err := col.Programs[tc.prog].Benchmark(frame, 1000, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += d.Nanoseconds()
				runs++
			}
			b.ReportMetric(float64(total)/float64(runs), "kernel-ns/op")
		})
	}
}
