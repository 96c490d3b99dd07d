package core

// The kernel as the reference for CO-RE: BPF_PROG_LOAD with core_relos
// makes the kernel apply the object's relocations itself
// (kernel/bpf/relo_core.c against its own BTF). These tests load each
// program that way and, beside it, the same program relocated by this
// package with the kernel's rules, and require the kernel's translated
// instructions (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns), its verdict
// and its run results to be the same.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

func bpfSyscall(cmd uintptr, attr []byte) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	runtime.KeepAlive(attr)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func ptr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// loadBTF loads raw BTF into the kernel (BPF_BTF_LOAD), asking for the
// kernel's log only when the load fails.
func loadBTF(t *testing.T, raw []byte) int {
	t.Helper()
	fd, _, err := loadBTFLog(raw, 0)
	if err != nil {
		_, log, _ := loadBTFLog(raw, 1)
		require.NoError(t, err, "BPF_BTF_LOAD: %s", log)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func loadBTFLog(raw []byte, level uint32) (int, string, error) {
	le := binary.LittleEndian
	attr := make([]byte, 40)
	le.PutUint64(attr[0:], ptr(raw))
	le.PutUint32(attr[16:], uint32(len(raw)))
	var log []byte
	if level > 0 {
		log = make([]byte, 1<<24)
		le.PutUint64(attr[8:], ptr(log))
		le.PutUint32(attr[20:], uint32(len(log)))
		le.PutUint32(attr[24:], level)
	}
	fd, err := bpfSyscall(unix.BPF_BTF_LOAD, attr)
	runtime.KeepAlive(raw)
	runtime.KeepAlive(log)
	return fd, lastLine(string(bytes.TrimRight(log, "\x00"))), err
}

// loadProg is BPF_PROG_LOAD of a SCHED_CLS program with BTF and one
// func_info record, and the CO-RE records when relos is not empty. It
// returns the program or the errno and the verifier log.
func loadProg(t *testing.T, code []byte, btfFD int, funcID btf.TypeID, relos []kernelRelo) (*ebpf.Program, string, error) {
	t.Helper()
	prog, _, err := loadProgLog(t, code, btfFD, funcID, relos, 0)
	if err == nil {
		return prog, "", nil
	}
	return loadProgLog(t, code, btfFD, funcID, relos, 1)
}

func loadProgLog(t *testing.T, code []byte, btfFD int, funcID btf.TypeID, relos []kernelRelo, level uint32) (*ebpf.Program, string, error) {
	t.Helper()
	le := binary.LittleEndian
	license := []byte("GPL\x00")
	log := make([]byte, 1<<20)
	if level == 0 {
		log = log[:1]
	}
	funcInfo := make([]byte, 8)
	le.PutUint32(funcInfo[4:], uint32(funcID))
	relosRaw := make([]byte, 16*len(relos)+1)
	for i, r := range relos {
		le.PutUint32(relosRaw[16*i:], r.InsnOff)
		le.PutUint32(relosRaw[16*i+4:], r.TypeID)
		le.PutUint32(relosRaw[16*i+8:], r.AccessStrOff)
		le.PutUint32(relosRaw[16*i+12:], r.Kind)
	}
	attr := make([]byte, 152)
	le.PutUint32(attr[0:], uint32(ebpf.SchedCLS))
	le.PutUint32(attr[4:], uint32(len(code)/8))
	le.PutUint64(attr[8:], ptr(code))
	le.PutUint64(attr[16:], ptr(license))
	if level > 0 {
		le.PutUint32(attr[24:], level)
		le.PutUint32(attr[28:], uint32(len(log)))
		le.PutUint64(attr[32:], ptr(log))
	}
	le.PutUint32(attr[72:], uint32(btfFD))
	le.PutUint32(attr[76:], 8)
	le.PutUint64(attr[80:], ptr(funcInfo))
	le.PutUint32(attr[88:], 1)
	if len(relos) > 0 {
		le.PutUint32(attr[116:], uint32(len(relos)))
		le.PutUint64(attr[128:], ptr(relosRaw))
		le.PutUint32(attr[136:], 16)
	}
	fd, err := bpfSyscall(unix.BPF_PROG_LOAD, attr)
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	runtime.KeepAlive(funcInfo)
	runtime.KeepAlive(relosRaw)
	msg := string(bytes.TrimRight(log, "\x00"))
	if err != nil {
		return nil, msg, err
	}
	prog, err := ebpf.NewProgramFromFD(fd)
	require.NoError(t, err)
	t.Cleanup(func() { prog.Close() })
	return prog, msg, nil
}

// xlated returns the kernel's translated instructions of a program.
func xlated(t *testing.T, prog *ebpf.Program) asm.Instructions {
	t.Helper()
	info, err := prog.Info()
	require.NoError(t, err)
	insns, err := info.Instructions()
	require.NoError(t, err)
	return insns
}

func runCtx(t *testing.T, prog *ebpf.Program) runOutcome {
	t.Helper()
	ctx := make([]byte, 192)
	binary.LittleEndian.PutUint32(ctx[8:], 0x1234)
	binary.LittleEndian.PutUint32(ctx[32:], 0x77)
	out := runOutcome{ctx: make([]byte, 192), data: make([]byte, len(testPacket))}
	var err error
	out.ret, err = prog.Run(&ebpf.RunOptions{Data: testPacket, DataOut: out.data, Context: ctx, ContextOut: out.ctx})
	require.NoError(t, err)
	return out
}

// TestKernelCORE is the kernel-differential test of the engine: each test
// program is relocated by the kernel itself and, with Options.Kernel, by
// this package against the kernel's full BTF; the kernel must accept or
// reject both alike (same errno), translate both to the same
// instructions, and run both to the same results.
func TestKernelCORE(t *testing.T) {
	tg := kernelTarget(t)
	kerneltest.RequireRoot(t)
	for _, obj := range []string{"kinds.o", "matches.o", "parse.o"} {
		raw := readRawObject(t, "testdata/"+obj)
		btfFD := loadBTF(t, raw.btf)
		cs := object(t, obj)
		names := make([]string, 0, len(cs.Programs))
		for name := range cs.Programs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t.Run(obj+"/"+name, func(t *testing.T) {
				code, krelos, _ := raw.program(t, name)
				fn, err := cs.Types.AnyTypeByName(name)
				require.NoError(t, err)
				funcID, err := cs.Types.TypeID(fn)
				require.NoError(t, err)

				mine, err := Apply(cs.Programs[name], cs.Types, tg, &Options{Kernel: true})
				compareWithKernel(t, code, btfFD, funcID, krelos, cs.Programs[name].Instructions, mine, err)
			})
		}
	}
}

// outcome names how a comparison with the kernel ended, for test logs
// and counts.
type outcome string

const (
	bothRefuse    outcome = "both refuse the relocation"
	bothRejected  outcome = "the verifier rejects both"
	sameXlated    outcome = "same translation and run"
	notCompared   outcome = "not compared"
	kernelDiffers outcome = "differs"
)

// compareWithKernel loads code with the kernel relocating it (krelos) and
// our relocation of it (mine, or myErr), and requires the same errno, the
// same verifier complaint, or the same translation and run results.
func compareWithKernel(t *testing.T, code []byte, btfFD int, funcID btf.TypeID, krelos []kernelRelo, in, mine asm.Instructions, myErr error) outcome {
	t.Helper()
	theirs, klog, kerr := loadProg(t, code, btfFD, funcID, krelos)
	if kerr != nil && mine == nil {
		require.Error(t, myErr)
		if !assert.ErrorIs(t, myErr, kerr, "errno: kernel %v (%s), ours %v", kerr, lastLine(klog), myErr) {
			return kernelDiffers
		}
		t.Logf("both refuse: kernel %v (%s); ours: %v", kerr, lastLine(klog), myErr)
		return bothRefuse
	}
	if !assert.NoError(t, myErr, "kernel: %v %s", kerr, lastLine(klog)) {
		return kernelDiffers
	}
	var buf bytes.Buffer
	require.NoError(t, mine.Marshal(&buf, binary.LittleEndian))
	ours, olog, oerr := loadProg(t, buf.Bytes(), btfFD, funcID, nil)
	if kerr != nil || oerr != nil {
		if !assert.Equal(t, kerr, oerr, "load: kernel %q, ours %q", lastLine(klog), lastLine(olog)) ||
			!assert.Equal(t, lastVerifierError(klog), lastVerifierError(olog)) {
			return kernelDiffers
		}
		t.Logf("verifier rejects both: %s", lastVerifierError(olog))
		return bothRejected
	}
	want, got := xlated(t, theirs), xlated(t, ours)
	if !assert.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "xlated instructions") {
		return kernelDiffers
	}
	t.Logf("same translation, %d instructions", len(got))

	// The comparison means something only if the kernel did relocate:
	// where our relocation changed the program, the program as compiled
	// must translate differently (or not load at all).
	if !sameProgram(in, mine) {
		plain, _, perr := loadProg(t, code, btfFD, funcID, nil)
		if perr == nil {
			assert.NotEqual(t, fmt.Sprint(want), fmt.Sprint(xlated(t, plain)), "the kernel left the program as compiled")
		}
	}
	if !assert.Equal(t, runCtx(t, theirs), runCtx(t, ours), "run") {
		return kernelDiffers
	}
	return sameXlated
}

// sameProgram reports whether two instruction lists encode alike.
func sameProgram(a, b asm.Instructions) bool {
	var x, y bytes.Buffer
	return a.Marshal(&x, binary.LittleEndian) == nil && b.Marshal(&y, binary.LittleEndian) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

func lastLine(log string) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(log)), []byte("\n"))
	return string(lines[len(lines)-1])
}

// lastVerifierError is the verifier's complaint ("invalid func
// unknown#195896080" for a reached poisoned instruction), without the
// CO-RE trace before it and the statistics after it.
func lastVerifierError(log string) string {
	for _, l := range bytes.Split([]byte(log), []byte("\n")) {
		if bytes.HasPrefix(l, []byte("invalid ")) {
			return string(l)
		}
	}
	return lastLine(log)
}

var _ = syscall.EINVAL
