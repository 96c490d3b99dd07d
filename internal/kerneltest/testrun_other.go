//go:build !linux

package kerneltest

import (
	"testing"

	"github.com/cilium/ebpf"
)

// SkbCtxSize is sizeof(struct __sk_buff).
const SkbCtxSize = 192

// SchedCLS is a program loaded into the kernel; there is none off Linux.
type SchedCLS struct{}

// TestRunResult is what one BPF_PROG_TEST_RUN returned.
type TestRunResult struct {
	Ret  uint32
	Data []byte
	Ctx  [SkbCtxSize]byte
}

// RequireBPF skips: bpf() exists only on Linux.
func RequireBPF(tb testing.TB) {
	tb.Helper()
	RequireLinux(tb)
}

// LoadSchedCLS is unavailable off Linux.
func LoadSchedCLS(code []byte) (*SchedCLS, error) { return nil, errNotLinux }

// LoadSchedCLSLog is unavailable off Linux.
func LoadSchedCLSLog(code []byte) (*SchedCLS, error) { return nil, errNotLinux }

// LoadSchedCLSSpec is unavailable off Linux.
func LoadSchedCLSSpec(spec *ebpf.ProgramSpec) (*SchedCLS, error) { return nil, errNotLinux }

// Run is unavailable off Linux.
func (p *SchedCLS) Run(frame []byte) (TestRunResult, error) { return TestRunResult{}, errNotLinux }

// Close is unavailable off Linux.
func (p *SchedCLS) Close() error { return errNotLinux }

// RunCtx is unavailable off Linux.
func (p *SchedCLS) RunCtx(frame []byte, ctx *[SkbCtxSize]byte) (TestRunResult, error) {
	return TestRunResult{}, errNotLinux
}
