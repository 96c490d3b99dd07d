//go:build linux

package kerneltest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
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
// GPL SCHED_CLS program with bpf(BPF_PROG_LOAD) itself, so the kernel sees
// exactly these bytes (cilium/ebpf's decoder would refuse some malformed
// programs before the kernel does). A verifier rejection returns the
// kernel's errno (errors.Is(err, syscall.EACCES)).
func LoadSchedCLS(code []byte) (*SchedCLS, error) {
	return loadRaw(code, nil)
}

// LoadSchedCLSLog is LoadSchedCLS with the verifier log in the error, for
// diagnosing rejections.
func LoadSchedCLSLog(code []byte) (*SchedCLS, error) {
	return loadRaw(code, make([]byte, 1<<20))
}

// LoadSchedCLSSpec loads a program cilium/ebpf read from an object file
// (with its BTF, function information and subprograms) as SCHED_CLS.
func LoadSchedCLSSpec(spec *ebpf.ProgramSpec) (*SchedCLS, error) {
	spec = spec.Copy()
	spec.Type = ebpf.SchedCLS
	if spec.License == "" {
		spec.License = "GPL"
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return nil, err
	}
	return &SchedCLS{prog: prog}, nil
}

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
}

func loadRaw(code []byte, log []byte) (*SchedCLS, error) {
	if len(code) == 0 || len(code)%8 != 0 {
		return nil, fmt.Errorf("load program: %d bytes: %w", len(code), syscall.EINVAL)
	}
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType: uint32(ebpf.SchedCLS),
		insnCnt:  uint32(len(code) / 8),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	if len(log) > 0 {
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	if errno != 0 {
		if len(log) > 0 {
			return nil, fmt.Errorf("load program: %w\n%s", errno, bytes.TrimRight(log, "\x00"))
		}
		return nil, fmt.Errorf("load program: %w", errno)
	}
	prog, err := ebpf.NewProgramFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
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

// RunCtx is Run with ctx as the __sk_buff passed in (ctx_in): only the
// fields BPF_PROG_TEST_RUN accepts may be non-zero.
func (p *SchedCLS) RunCtx(frame []byte, ctx *[SkbCtxSize]byte) (TestRunResult, error) {
	var res TestRunResult
	out := make([]byte, len(frame)+256)
	opts := ebpf.RunOptions{Data: frame, DataOut: out, Context: ctx[:], ContextOut: res.Ctx[:]}
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
