//go:build !linux

package bench

import "time"

// threadCPU reports that thread CPU time is not available.
func threadCPU() (time.Duration, bool) { return 0, false }
