package cbpf

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// benchFilter is one benchmark filter with its hand-written Go baseline.
type benchFilter struct {
	name string
	prog []bpf.RawInstruction
	gofn func([]byte) uint32
}

func benchFilters(tb testing.TB) []benchFilter {
	tb.Helper()
	dst80, err := ParseBytecode(bytecodeTCPDst80)
	require.NoError(tb, err)
	syn10, err := ParseBytecode(bytecodeSYNNet10)
	require.NoError(tb, err)
	return []benchFilter{
		{"tcp_dst_port_80", dst80, goTCPDst80},
		{"tcp_syn_net_10", syn10, goSYNNet10},
		{"port_classifier_14", portClassifier, goPortClassifier},
	}
}

// benchSizes are the frame sizes: a minimal and a full-size TCP SYN, to
// port 5432, the classifier's last port (the filters' worst case among
// matching frames; ports 80 for the port-80 filter).
var benchSizes = []int{64, 1500}

func benchFrame(f benchFilter, size int) []byte {
	if f.name == "tcp_dst_port_80" {
		return tcpSYN(size, 80)
	}
	return tcpSYN(size, 5432)
}

// TestBenchFiltersAgree pins what the benchmarks measure: every engine and
// the Go baseline compute the same result on the benchmark frames and on
// frames they reject.
func TestBenchFiltersAgree(t *testing.T) {
	for _, f := range benchFilters(t) {
		insns, ok := bpf.Disassemble(f.prog)
		require.True(t, ok, f.name)
		vm, err := bpf.NewVM(insns)
		require.NoError(t, err, f.name)
		frames := [][]byte{
			benchFrame(f, 64), benchFrame(f, 1500), tcpSYN(64, 81), udp6(80),
			withSrc(tcpSYN(64, 22), [4]byte{192, 0, 2, 1}), tcpSYN(54, 3306),
		}
		for i, fr := range frames {
			pkt := packet.New(len(fr))
			require.NoError(t, pkt.SetFrame(fr))
			want := f.gofn(fr)
			assert.Equal(t, want, runEngines(t, f.prog, pkt), "%s frame %d", f.name, i)
			got, err := vm.Run(fr)
			require.NoError(t, err)
			assert.Equal(t, want, min(uint32(got), want|uint32(got)), "%s frame %d: x/net/bpf", f.name, i)
		}
		assert.NotZero(t, f.gofn(benchFrame(f, 64)), f.name)
	}
}

func BenchmarkFilter(b *testing.B) {
	for _, f := range benchFilters(b) {
		insns, _ := bpf.Disassemble(f.prog)
		vm, err := bpf.NewVM(insns)
		require.NoError(b, err)
		for _, size := range benchSizes {
			frame := benchFrame(f, size)
			pkt := packet.New(size)
			require.NoError(b, pkt.SetFrame(frame))
			for _, e := range engines {
				p, err := LoadRaw(f.prog, withEngine(e.e))
				require.NoError(b, err)
				b.Run(fmt.Sprintf("%s/%d/%s", f.name, size, e.name), func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(size))
					for b.Loop() {
						p.Run(pkt)
					}
				})
			}
			b.Run(fmt.Sprintf("%s/%d/xnet_bpf_vm", f.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					_, _ = vm.Run(frame)
				}
			})
			b.Run(fmt.Sprintf("%s/%d/go", f.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					f.gofn(frame)
				}
			})
		}
	}
}

// everyExtension loads every extension and a packet byte, and returns.
var everyExtension = func() []bpf.RawInstruction {
	var p []bpf.RawInstruction
	for n := uint32(0); n < uapi.SKF_AD_MAX; n += 4 {
		p = append(p, stmt(ld|w|abs, anc(n))) // ld #ext
	}
	return append(p,
		stmt(ld|b|abs, llOff+12), // ldb [SKF_LL_OFF+12]
		stmt(ld|w|ind, netOff),   // ld [x + SKF_NET_OFF]
		stmt(ldx|b|msh, 14),      // ldxb 4*([14]&0xf)
		stmt(alu|div|x, 0),       // div x
		stmt(ret|a, 0),           // ret a
	)
}()

// TestRunAllocs proves that Run allocates nothing, on every engine, with
// every extension (the default random source included).
func TestRunAllocs(t *testing.T) {
	progs := map[string][]bpf.RawInstruction{"every_extension": everyExtension}
	for _, f := range benchFilters(t) {
		progs[f.name] = f.prog
	}
	pkt := packet.New(1500)
	require.NoError(t, pkt.SetFrame(vlanTagged(tcpSYN(1500, 80), 0x8100, 7)))
	require.NoError(t, pkt.UntagVLAN())
	for name, prog := range progs {
		for _, e := range engines {
			p, err := LoadRaw(prog, withEngine(e.e))
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() { p.Run(pkt) })
			assert.Zero(t, allocs, "%s on %s", name, e.name)
		}
	}
}
