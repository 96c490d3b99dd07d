//go:build !linux

package bench

import "time"

// threadCPU reports that thread CPU time is not available.
func threadCPU() (time.Duration, bool) { return 0, false }

// processCPU reports that process CPU time is not available.
func processCPU() (time.Duration, bool) { return 0, false }
