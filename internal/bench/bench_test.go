package bench

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/cbpfvm"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// Sizes are the frame sizes of the suite.
var Sizes = []int{64, 1500}

// runner runs a filter on a frame held both as bytes and as a packet.
type runner func(frame []byte, pkt *packet.Packet) uint32

// engine builds the runner of one engine for a filter.
type engine struct {
	name  string
	build func(tb testing.TB, f Filter) runner
}

func insns(raw []bpf.RawInstruction) []cbpfvm.Insn {
	p := make([]cbpfvm.Insn, len(raw))
	for i, r := range raw {
		p[i] = cbpfvm.Insn{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return p
}

func noRandom() uint32 { return 0 }

// engines are the columns of the suite, in the order BENCHMARKS.md shows
// them.
var engines = []engine{
	{"go", func(_ testing.TB, f Filter) runner {
		return func(frame []byte, _ *packet.Packet) uint32 { return f.Go(frame) }
	}},
	{"compiled", func(tb testing.TB, f Filter) runner {
		c := cbpfvm.CompileClosures(cbpfvm.CompileFused(insns(f.Prog)), noRandom)
		require.NotNil(tb, c)
		return func(_ []byte, pkt *packet.Packet) uint32 { return c.Run(pkt) }
	}},
	{"fused", func(_ testing.TB, f Filter) runner {
		p := cbpfvm.CompileFused(insns(f.Prog))
		return func(_ []byte, pkt *packet.Packet) uint32 { return p.Run(pkt, noRandom) }
	}},
	{"predecoded", func(_ testing.TB, f Filter) runner {
		p := cbpfvm.Compile(insns(f.Prog))
		return func(_ []byte, pkt *packet.Packet) uint32 { return p.Run(pkt, noRandom) }
	}},
	{"interp", func(_ testing.TB, f Filter) runner {
		p, env := insns(f.Prog), &cbpfvm.Env{Random: noRandom}
		return func(_ []byte, pkt *packet.Packet) uint32 { return cbpfvm.Interpret(p, pkt, env) }
	}},
	{"program", func(tb testing.TB, f Filter) runner {
		p, err := cbpf.LoadRaw(f.Prog)
		require.NoError(tb, err)
		return func(_ []byte, pkt *packet.Packet) uint32 { return p.Run(pkt) }
	}},
	{"ebpf_compiled", func(tb testing.TB, f Filter) runner {
		return ebpfRunner(tb, f, ebpfvm.EngineCompiled)
	}},
	{"ebpf_interp", func(tb testing.TB, f Filter) runner {
		return ebpfRunner(tb, f, ebpfvm.EngineReference)
	}},
	{"xnet_bpf_vm", func(tb testing.TB, f Filter) runner {
		in, ok := bpf.Disassemble(f.Prog)
		require.True(tb, ok)
		vm, err := bpf.NewVM(in)
		require.NoError(tb, err)
		return func(frame []byte, _ *packet.Packet) uint32 {
			n, _ := vm.Run(frame)
			return uint32(n)
		}
	}},
}

// ebpfRunner runs the filter's eBPF form (LD_ABS loads) on engine e.
func ebpfRunner(tb testing.TB, f Filter, e ebpfvm.Engine) runner {
	prog, err := EBPF(f.Prog)
	require.NoError(tb, err)
	p, err := ebpfvm.Load(prog, ebpfvm.Options{Engine: e})
	require.NoError(tb, err)
	m := p.NewMachine()
	return func(_ []byte, pkt *packet.Packet) uint32 {
		r, _ := m.Run(pkt)
		return uint32(r)
	}
}

func framePacket(tb testing.TB, frame []byte) *packet.Packet {
	pkt := packet.New(len(frame))
	require.NoError(tb, pkt.SetFrame(frame))
	return pkt
}

// TestEnginesAgree pins what the suite measures: every engine computes
// the Go function's result on the timed frames and on frames the filters
// reject or that end early.
func TestEnginesAgree(t *testing.T) {
	for _, f := range Filters() {
		frames := [][]byte{SYN(64, f.Port), SYN(1500, f.Port), SYN(64, 81), SYN(64, 22), SYN(64, 3306), SYN(64, f.Port)[:40]}
		notSYN := SYN(64, f.Port)
		notSYN[47] = 0x10 // ACK
		frames = append(frames, notSYN)
		for _, e := range engines {
			run := e.build(t, f)
			for i, fr := range frames {
				assert.Equal(t, f.Go(fr), run(fr, framePacket(t, fr)), "%s on %s, frame %d", f.Name, e.name, i)
			}
		}
		assert.NotZero(t, f.Go(SYN(64, f.Port)), f.Name)
	}
}

// TestEnginesAllocs proves that no engine of this library allocates.
func TestEnginesAllocs(t *testing.T) {
	for _, f := range Filters() {
		frame := SYN(64, f.Port)
		pkt := framePacket(t, frame)
		for _, e := range engines {
			run := e.build(t, f)
			if e.name == "xnet_bpf_vm" || e.name == "go" {
				continue
			}
			assert.Zero(t, testing.AllocsPerRun(100, func() { run(frame, pkt) }), "%s on %s", f.Name, e.name)
		}
	}
}

// BenchmarkEngines is the suite: BenchmarkEngines/<filter>/<size>/<engine>.
func BenchmarkEngines(b *testing.B) {
	for _, f := range Filters() {
		for _, size := range Sizes {
			frame := SYN(size, f.Port)
			pkt := framePacket(b, frame)
			for _, e := range engines {
				run := e.build(b, f)
				b.Run(fmt.Sprintf("%s/%d/%s", f.Name, size, e.name), func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					t := StartCPU()
					for b.Loop() {
						run(frame, pkt)
					}
					t.Report(b)
				})
			}
		}
	}
}
