package classifier

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/bench"
)

// Benchmarks of chains of real classic filters: n `tcp dst port P`
// filters (tcpdump's program for the expression), none of which matches
// the frame, so that every Classify runs every program to its last
// compare. BenchmarkClassicFiltersAlone runs the same programs one after
// the other outside the chain: the chain's own cost per filter is the
// difference.

// classicFrame is a 64-byte Ethernet IPv4 TCP SYN to port 80.
var classicFrame = func() []byte {
	f := make([]byte, 64)
	copy(f, []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00})
	copy(f[14:], []byte{0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(f[34:], 40000)
	binary.BigEndian.PutUint16(f[36:], 80)
	f[46], f[47] = 0x50, 0x02
	return f
}()

// classicDstPort is `tcpdump -dd 'ip and tcp dst port P'`.
func classicDstPort(tb testing.TB, port uint32) *cbpf.Program {
	tb.Helper()
	p, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                          // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipFalse: 8},   // jeq #0x800 jt 2 jf 10
		bpf.LoadAbsolute{Off: 23, Size: 1},                          // ldb [23]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 6},       // jeq #0x6 jt 4 jf 10
		bpf.LoadAbsolute{Off: 20, Size: 2},                          // ldh [20]
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4}, // jset #0x1fff jt 10 jf 6
		bpf.LoadMemShift{Off: 14},                                   // ldxb 4*([14]&0xf)
		bpf.LoadIndirect{Off: 16, Size: 2},                          // ldh [x + 16]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: port, SkipFalse: 1},    // jeq #port jt 9 jf 10
		bpf.RetConstant{Val: 262144},                                // ret #262144
		bpf.RetConstant{Val: 0},                                     // ret #0
	})
	require.NoError(tb, err)
	return p
}

// classicPrograms are n filters for ports 1000, 1001, ...: none matches.
func classicPrograms(tb testing.TB, n int) []*cbpf.Program {
	progs := make([]*cbpf.Program, n)
	for i := range progs {
		progs[i] = classicDstPort(tb, uint32(1000+i))
	}
	return progs
}

// classicChain installs progs as classid filters 1:1, 1:2, ...
func classicChain(tb testing.TB, progs []*cbpf.Program) *Chain {
	c := New(Config{})
	for i, p := range progs {
		_, err := c.Change(FilterSpec{Handle: uint32(i + 1), ClassID: handle.Make(1, uint16(i+1)), Program: p}, Create|Excl)
		require.NoError(tb, err)
	}
	return c
}

func classicPacket(tb testing.TB) *packet.Packet {
	pkt := packet.New(len(classicFrame))
	require.NoError(tb, pkt.SetFrame(classicFrame))
	return pkt
}

// classicFilterCounts are the chain lengths the benchmarks measure.
var classicFilterCounts = []int{1, 10, 100}

// TestClassicChainBench pins what the benchmarks measure: no filter
// matches, every program runs, and nothing allocates.
func TestClassicChainBench(t *testing.T) {
	pkt := classicPacket(t)
	progs := classicPrograms(t, 100)
	for _, p := range progs {
		assert.Zero(t, p.Run(pkt))
	}
	assert.Equal(t, uint32(262144), classicDstPort(t, 80).Run(pkt))
	c := classicChain(t, progs)
	assert.Equal(t, handle.Handle(0), c.Classify(pkt).ClassID)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.Classify(pkt) }))
}

func BenchmarkClassicChain(b *testing.B) {
	for _, n := range classicFilterCounts {
		b.Run(fmt.Sprintf("filters=%d", n), func(b *testing.B) {
			c := classicChain(b, classicPrograms(b, n))
			pkt := classicPacket(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(classicFrame)))
			t := bench.StartCPU()
			for b.Loop() {
				c.Classify(pkt)
			}
			t.Report(b)
		})
	}
}

func BenchmarkClassicFiltersAlone(b *testing.B) {
	for _, n := range classicFilterCounts {
		b.Run(fmt.Sprintf("filters=%d", n), func(b *testing.B) {
			progs := classicPrograms(b, n)
			pkt := classicPacket(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(classicFrame)))
			t := bench.StartCPU()
			for b.Loop() {
				for _, p := range progs {
					p.Run(pkt)
				}
			}
			t.Report(b)
		})
	}
}

// BenchmarkClassicChainParallel classifies on every goroutine
// RunParallel starts (run with -cpu 1,2 to see the scaling) while a writer
// replaces one of the filters every millisecond. proc-cpu-ns/op, the
// process's CPU time per Classify, stays flat as GOMAXPROCS grows when
// readers do not slow each other down.
func BenchmarkClassicChainParallel(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("filters=%d", n), func(b *testing.B) {
			progs := classicPrograms(b, n)
			c := classicChain(b, progs)
			var stop atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for i := 0; !stop.Load(); i++ {
					<-tick.C
					_, err := c.Change(FilterSpec{Handle: 1, ClassID: handle.Make(1, uint16(i)), Program: progs[i%n]}, Create)
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
			b.ReportAllocs()
			b.SetBytes(int64(len(classicFrame)))
			t := bench.StartProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				pkt := packet.New(len(classicFrame))
				if err := pkt.SetFrame(classicFrame); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					c.Classify(pkt)
				}
			})
			t.Report(b)
			stop.Store(true)
			<-done
		})
	}
}
