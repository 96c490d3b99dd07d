package ebpfvm_test

import (
	"encoding/binary"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

var (
	diffSeed  = flag.Uint64("ebpf.seed", 0, "seed of the kernel differential generator (0: time-based)")
	diffCount = flag.Int("ebpf.programs", 10000, "programs the kernel differential runs")
)

// TestKernelDifferential generates programs the kernel verifier accepts,
// runs each on a few frames through BPF_PROG_TEST_RUN and through the VM,
// and demands the same return value, output packet, mark, priority and
// cb[].
func TestKernelDifferential(t *testing.T) {
	kerneltest.RequireBPF(t)
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	n := *diffCount
	if testing.Short() {
		n = 1000
	}
	t.Logf("seed %d (rerun with -ebpf.seed=%d), %d programs", seed, seed, n)
	var kernelRejects, transient, runs, fellOff int
	for i := range n {
		g := newProgGen(seed + uint64(i))
		prog := g.program()
		code := ebpfvm.Encode(prog)
		kp, err := kerneltest.LoadSchedCLS(code)
		if err != nil {
			// Retry once with the log: a transient refusal (EAGAIN, a
			// memlock hiccup while other tests load programs) is not a
			// generator bug.
			var lerr error
			kp, lerr = kerneltest.LoadSchedCLSLog(code)
			if lerr != nil {
				kernelRejects++
				if kernelRejects <= 3 {
					t.Logf("kernel rejected generated program (seed %d): %v\n%s\n%v", seed+uint64(i), err, listing(prog), lerr)
				}
				continue
			}
			transient++
		}
		vp, err := ebpfvm.Load(prog, ebpfvm.Options{})
		if err != nil {
			kp.Close()
			t.Fatalf("seed %d: the kernel accepts, the VM rejects: %v\n%s", seed+uint64(i), err, listing(prog))
		}
		ref, err := ebpfvm.Load(prog, ebpfvm.Options{Engine: ebpfvm.EngineReference})
		require.NoError(t, err)
		frames := g.frames(4)
		for k, frame := range frames {
			m := vp.NewMachine()
			if k%2 == 1 {
				m = ref.NewMachine() // every other frame on the reference interpreter
			}
			var pkt packet.Packet
			kres, err := kp.Run(frame)
			require.NoError(t, err, "BPF_PROG_TEST_RUN")
			require.NoError(t, pkt.SetFrame(frame))
			r0, err := m.Run(&pkt)
			runs++
			if err != nil {
				t.Fatalf("seed %d: VM run failed: %v\nframe %x\n%s", seed+uint64(i), err, frame, listing(prog))
			}
			if uint32(r0) != kres.Ret {
				t.Fatalf("seed %d: r0 %#x, kernel %#x\nframe %x\n%s", seed+uint64(i), uint32(r0), kres.Ret, frame, listing(prog))
			}
			if string(pkt.Bytes()) != string(kres.Data) {
				t.Fatalf("seed %d: packet\n vm     %x\n kernel %x\n%s", seed+uint64(i), pkt.Bytes(), kres.Data, listing(prog))
			}
			ctx := kres.Ctx[:]
			kmark := binary.LittleEndian.Uint32(ctx[8:])
			kprio := binary.LittleEndian.Uint32(ctx[32:])
			if pkt.Mark != kmark || pkt.Priority != kprio {
				t.Fatalf("seed %d: mark/priority %#x/%#x, kernel %#x/%#x\n%s", seed+uint64(i), pkt.Mark, pkt.Priority, kmark, kprio, listing(prog))
			}
			for c := range 5 {
				if k := binary.LittleEndian.Uint32(ctx[48+4*c:]); pkt.CB[c] != k {
					t.Fatalf("seed %d: cb[%d] %#x, kernel %#x\n%s", seed+uint64(i), c, pkt.CB[c], k, listing(prog))
				}
			}
			if r0 == 0 {
				fellOff++
			}
		}
		kp.Close()
	}
	t.Logf("%d programs, %d kernel rejections, %d transient load failures, %d runs compared (%d returned 0)", n, kernelRejects, transient, runs, fellOff)
	require.LessOrEqual(t, kernelRejects*100, n, "the generator must make programs the kernel accepts (at most 1%% rejected)")
	require.GreaterOrEqual(t, n-kernelRejects, n*99/100)
}
