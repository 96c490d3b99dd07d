package ebpfvm_test

import (
	"bytes"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	cebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// logInsn matches an instruction line of the verifier's log at
// LogLevelInstruction: "12: (b4) w0 = 0", maybe followed by "  ; state".
var logInsn = regexp.MustCompile(`^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; .*)?$`)

// TestTracerKernelDifferential loads generated tc programs into the
// kernel with an instruction-level verifier log, compares each logged
// instruction (print_bpf_insn, kernel/bpf/disasm.c) with Disassemble, and
// runs each on frames through BPF_PROG_TEST_RUN and under a Tracer: same
// return value and packet, and a trace that ends on an exit or on a
// legacy packet load past the packet's end.
func TestTracerKernelDifferential(t *testing.T) {
	kerneltest.RequireBPF(t)
	const programs = 200
	var insns, runs, loaded int
	for i := range programs {
		g := newProgGen(uint64(i) + 0x7ace)
		prog := g.program()
		kp, log, err := loadWithLog(ebpfvm.Encode(prog))
		if err != nil {
			// Once more: a transient refusal (EAGAIN, memlock while other
			// tests load programs) is not the program's.
			if kp, log, err = loadWithLog(ebpfvm.Encode(prog)); err != nil {
				continue
			}
		}
		loaded++
		seen := map[int]bool{}
		for _, line := range strings.Split(log, "\n") {
			m := logInsn.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			pc, _ := strconv.Atoi(m[1])
			if seen[pc] || pc >= len(prog) {
				continue
			}
			seen[pc] = true
			require.Equal(t, m[2], fmt.Sprintf("%02x", prog[pc].Op), "program %d pc %d opcode", i, pc)
			require.Equal(t, m[3], ebpfvm.Disassemble(prog, pc, helperNameOf), "program %d pc %d\n%s", i, pc, listing(prog))
			insns++
		}

		vp, err := ebpfvm.Load(prog, ebpfvm.Options{})
		require.NoError(t, err, "program %d: the kernel accepts, the VM rejects\n%s", i, listing(prog))
		tracer := ebpfvm.NewTracer(vp, ebpfvm.NewListing(vp, helperNameOf, nil))
		var tr trace.Trace
		for _, frame := range g.frames(2) {
			opts := cebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256)}
			kret, err := kp.Run(&opts)
			require.NoError(t, err)
			var pkt packet.Packet
			require.NoError(t, pkt.SetFrame(frame))
			r0, err := tracer.Run(&pkt, &tr)
			require.NoError(t, err, "program %d\n%s", i, listing(prog))
			require.Equal(t, kret, uint32(r0), "program %d frame %x\n%s", i, frame, listing(prog))
			require.Equal(t, opts.DataOut, pkt.Bytes(), "program %d\n%s", i, listing(prog))
			switch last := tr.Last(); {
			case tr.Truncated:
			case strings.HasPrefix(tr.Fault, "packet load out of bounds"):
				assert.True(t, last.Access.Fault, "program %d", i)
				assert.Contains(t, last.Insn, "skb[", "program %d", i)
			default:
				assert.Equal(t, "exit", last.Insn, "program %d", i)
			}
			runs++
		}
		kp.Close()
	}
	t.Logf("%d of %d programs loaded, %d instructions compared with the verifier log, %d traced runs with BPF_PROG_TEST_RUN", loaded, programs, insns, runs)
	require.GreaterOrEqual(t, loaded, programs*9/10)
}

// helperNameOf names helpers as the kernel's verifier log does.
func helperNameOf(id int32) string { return ebpf.HelperName(id) }

// loadWithLog loads raw bytecode as a GPL SCHED_CLS program with
// bpf(BPF_PROG_LOAD) and an instruction-level verifier log (log_level 2),
// and returns the program and the log.
func loadWithLog(code []byte) (*cebpf.Program, string, error) {
	license := []byte("GPL\x00")
	log := make([]byte, 4<<20)
	attr := struct {
		progType, insnCnt uint32
		insns, license    uint64
		logLevel, logSize uint32
		logBuf            uint64
	}{
		progType: uint32(cebpf.SchedCLS), insnCnt: uint32(len(code) / 8),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 2, logSize: uint32(len(log)),
		logBuf: uint64(uintptr(unsafe.Pointer(&log[0]))),
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	if errno != 0 {
		return nil, "", errno
	}
	p, err := cebpf.NewProgramFromFD(int(fd))
	if err != nil {
		unix.Close(int(fd))
		return nil, "", err
	}
	return p, string(bytes.TrimRight(log, "\x00")), nil
}
