//go:build linux

package kerneltest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// SkbCtxSize is sizeof(struct __sk_buff).
const SkbCtxSize = 192

// SchedCLS is a raw eBPF program loaded into the running kernel as
// BPF_PROG_TYPE_SCHED_CLS, to be run with BPF_PROG_TEST_RUN.
type SchedCLS struct {
	prog *ebpf.Program
}

// TestRunResult is what one BPF_PROG_TEST_RUN returned.
type TestRunResult struct {
	Ret  uint32           // the program's return value (low 32 bits of R0)
	Data []byte           // the packet after the run (data_out)
	Ctx  [SkbCtxSize]byte // the __sk_buff after the run (ctx_out)
}

// RequireBPF skips unless bpf(BPF_PROG_LOAD) of a SCHED_CLS program and
// BPF_PROG_TEST_RUN work here; an unexpected failure of the probe fails
// the test.
func RequireBPF(tb testing.TB) {
	tb.Helper()
	RequireRoot(tb)
	code := make([]byte, 16)
	code[0] = 0xb7 // r0 = 0
	code[8] = 0x95 // exit
	p, err := LoadSchedCLS(code)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, ebpf.ErrNotSupported) {
			Skip(tb, "bpf(BPF_PROG_LOAD) refused: "+err.Error())
		}
		tb.Fatalf("probe SCHED_CLS load: %v", err)
	}
	defer p.Close()
	if _, err := p.Run(make([]byte, 64)); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, os.ErrPermission) {
			Skip(tb, "BPF_PROG_TEST_RUN refused: "+err.Error())
		}
		tb.Fatalf("probe BPF_PROG_TEST_RUN: %v", err)
	}
}

// LoadSchedCLS loads raw eBPF bytecode (little-endian 8-byte slots) as a
// GPL SCHED_CLS program. A verifier rejection returns the kernel's error,
// which wraps the errno (errors.Is(err, syscall.EACCES)).
func LoadSchedCLS(code []byte) (*SchedCLS, error) {
	insns, err := asm.AppendInstructions(nil, bytes.NewReader(code), binary.LittleEndian, "linux")
	if err != nil {
		return nil, fmt.Errorf("decode program: %w", err)
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		Instructions: insns,
		License:      "GPL",
	}, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return nil, err
	}
	return &SchedCLS{prog: prog}, nil
}

// LoadSchedCLSLog is LoadSchedCLS with the verifier log in the error, for
// diagnosing rejections.
func LoadSchedCLSLog(code []byte) (*SchedCLS, error) {
	insns, err := asm.AppendInstructions(nil, bytes.NewReader(code), binary.LittleEndian, "linux")
	if err != nil {
		return nil, fmt.Errorf("decode program: %w", err)
	}
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		Instructions: insns,
		License:      "GPL",
	}, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelBranch, LogSizeStart: 1 << 20})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w\n%+v", err, ve)
		}
		return nil, err
	}
	return &SchedCLS{prog: prog}, nil
}

// Run runs the program once on frame (an Ethernet frame of at least 14
// bytes) with BPF_PROG_TEST_RUN and no ctx_in, so the program sees the
// kernel's defaults (mark, priority and cb[] zero).
func (p *SchedCLS) Run(frame []byte) (TestRunResult, error) {
	var res TestRunResult
	out := make([]byte, len(frame)+256)
	opts := ebpf.RunOptions{Data: frame, DataOut: out, ContextOut: res.Ctx[:]}
	ret, err := p.prog.Run(&opts)
	if err != nil {
		return res, err
	}
	res.Ret = ret
	res.Data = opts.DataOut
	return res, nil
}

// Close releases the program.
func (p *SchedCLS) Close() error { return p.prog.Close() }
