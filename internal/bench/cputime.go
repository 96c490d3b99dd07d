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
