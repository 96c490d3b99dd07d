package cbpf

import (
	"testing"

	"github.com/stretchr/testify/require"

	trc "github.com/clsbpf/clsbpf/classifier/trace"
)

// BenchmarkRun measures Run with tracing off, which is every Run: the
// traced path is a separate method, so trace=off must match
// BenchmarkFilter/<filter>/64/compiled. interp is the reference
// interpreter RunTrace and Coverage drive, with no hook set.
func BenchmarkRun(b *testing.B) {
	for _, f := range benchFilters(b) {
		pkt := framePacket(b, benchFrame(f, 64))
		p, err := LoadRaw(f.prog)
		require.NoError(b, err)
		b.Run(f.name+"/trace=off", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Run(pkt)
			}
		})
		pi, err := LoadRaw(f.prog, withEngine(engineInterp))
		require.NoError(b, err)
		b.Run(f.name+"/trace=off/interp", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pi.Run(pkt)
			}
		})
	}
}

// BenchmarkRunTrace measures a traced run into a reused Trace, and a run
// counted into a Coverage.
func BenchmarkRunTrace(b *testing.B) {
	for _, f := range benchFilters(b) {
		pkt := framePacket(b, benchFrame(f, 64))
		p, err := LoadRaw(f.prog)
		require.NoError(b, err)
		var tr trc.Trace
		b.Run(f.name+"/trace=on", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.RunTrace(pkt, &tr)
			}
		})
		cov := NewCoverage(p)
		b.Run(f.name+"/cover=on", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cov.Run(pkt)
			}
		})
	}
}
