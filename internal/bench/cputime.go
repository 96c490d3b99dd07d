package bench

import (
	"runtime"
	"testing"
	"time"
)

// CPUTimer measures the CPU time of the benchmarking thread.
type CPUTimer struct {
	start time.Duration
	ok    bool
}

// StartCPU locks the calling goroutine to its thread and starts measuring
// its CPU time. Call it right before the benchmark loop and Report right
// after it.
func StartCPU() *CPUTimer {
	runtime.LockOSThread()
	t, ok := threadCPU()
	return &CPUTimer{start: t, ok: ok}
}

// Report adds cpu-ns/op (the thread's CPU time over b.N operations) to
// b's results and unlocks the thread.
func (c *CPUTimer) Report(b *testing.B) {
	end, ok := threadCPU()
	runtime.UnlockOSThread()
	if c.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// ProcessCPUTimer measures the CPU time of the whole process, every
// thread together.
type ProcessCPUTimer struct {
	start time.Duration
	ok    bool
}

// StartProcessCPU starts measuring the process's CPU time. A parallel
// benchmark reports it per operation: when the work scales with cores,
// the CPU time per operation stays the same as GOMAXPROCS grows, however
// much of the machine other processes take.
func StartProcessCPU() *ProcessCPUTimer {
	t, ok := processCPU()
	return &ProcessCPUTimer{start: t, ok: ok}
}

// Report adds proc-cpu-ns/op (the process's CPU time over b.N operations)
// to b's results.
func (c *ProcessCPUTimer) Report(b *testing.B) {
	end, ok := processCPU()
	if c.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(b.N), "proc-cpu-ns/op")
	}
}
