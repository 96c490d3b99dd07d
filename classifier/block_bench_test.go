package classifier

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// benchBlock is 3 chains of 10 classic filters each, every filter with a
// gact action, real programs and real actions: in each chain the first
// nine filters (at priorities 1..9) miss and the tenth matches; chains 0
// and 1 end in "goto chain" to the next, chain 2 in "pass", so a packet
// visits all 30 filters.
func benchBlock(tb testing.TB) *Block {
	tb.Helper()
	table := action.NewTable(action.Config{})
	b := NewBlock(BlockConfig{Config: Config{Actions: NewActionParser(table)}})
	for chain := uint32(0); chain < 3; chain++ {
		for prio := uint16(1); prio <= 10; prio++ {
			k := uint32(0) // miss
			v := action.OK
			if prio == 10 {
				k = 0xFFFFFFFF
				if chain < 2 {
					v = gotoChainVerdict(chain + 1)
				}
			}
			prog, err := cbpf.Load([]bpf.Instruction{
				bpf.LoadAbsolute{Off: 12, Size: 2},                         // ldh [12]
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1}, // jeq #0x800, L2, L3
				bpf.RetConstant{Val: k},                                    // L2: ret #k
				bpf.RetConstant{Val: 0},                                    // L3: ret #0
			})
			require.NoError(tb, err)
			acts, err := table.NewChain([]action.Spec{&action.Gact{Params: action.Params{Verdict: v}}}, action.FilterContext{})
			require.NoError(tb, err)
			_, _, err = b.Change(Where{Chain: chain, Prio: prio, Protocol: ProtocolAll}, FilterSpec{Handle: 1, ClassID: 0x10010, Program: prog, Actions: NewActions(acts)}, Create|Excl)
			require.NoError(tb, err)
		}
	}
	return b
}

func TestBlockClassifyAllocs(t *testing.T) {
	b := benchBlock(t)
	pkt := newPacket(t)
	res := b.Classify(pkt)
	require.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}, res)
	allocs := testing.AllocsPerRun(1000, func() { _ = b.Classify(pkt) })
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	assert.Zero(t, allocs, "Block.Classify must not allocate")
}

func BenchmarkBlockClassify(b *testing.B) {
	blk := benchBlock(b)
	pkt := newPacket(b)
	b.ReportAllocs()
	b.SetBytes(int64(pkt.Len()))
	for b.Loop() {
		_ = blk.Classify(pkt)
	}
}

func BenchmarkBlockClassifyParallel(b *testing.B) {
	blk := benchBlock(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pkt := newPacket(b)
		for pb.Next() {
			_ = blk.Classify(pkt)
		}
	})
}

// TestBlockHammer runs Classify on several goroutines while writers add,
// replace and delete filters and classifiers: every result must be one a
// complete block state gives (pass with class 1:10 or 1:20, or no
// decision), never a half-made change.
func TestBlockHammer(t *testing.T) {
	readers, rounds := 4, 400
	if testing.Short() {
		readers, rounds = 2, 100
	}
	b := NewBlock(BlockConfig{})
	_, _, err := b.Change(Where{Prio: 10, Protocol: ProtocolAll}, FilterSpec{Handle: 1, ClassID: 0x10010, Program: retK(0xFFFFFFFF)}, Create)
	require.NoError(t, err)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := newPacket(t)
			for !stop.Load() {
				r := b.Classify(pkt)
				ok := r.Verdict == action.OK && (r.ClassID == 0x10010 || r.ClassID == 0x10020) || r.Verdict == action.Unspec
				if !ok {
					bad.Add(1)
				}
			}
		}()
	}
	for i := range rounds {
		prio := uint16(1 + i%5)
		_, _, err := b.Change(Where{Prio: prio, Protocol: uapi.ETH_P_IP}, FilterSpec{Handle: 2, ClassID: 0x10020, Program: retK(0xFFFFFFFF)}, Create)
		require.NoError(t, err)
		_, _, err = b.Change(Where{Chain: 1, Prio: prio, Protocol: ProtocolAll}, FilterSpec{Handle: 2, Program: retK(0)}, Create)
		require.NoError(t, err)
		require.NoError(t, b.Delete(Where{Prio: prio}, 2))
		require.NoError(t, b.Delete(Where{Chain: 1}, 0))
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, bad.Load())
}
