package maps

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// hammerN is the operations per goroutine of the concurrency tests.
func hammerN() int {
	if testing.Short() {
		return 300
	}
	return 3000
}

// TestHammerHash runs programs (one goroutine per slot: lookups, atomic
// adds into values, updates, inserts and deletes of churning keys) and Go
// API callers (lookups, updates, walks, lookup-and-delete) on one map at
// once. Counters of keys nobody deletes must see every atomic add; the
// race detector must see no race.
func TestHammerHash(t *testing.T) {
	for _, typ := range []Type{BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_HASH} {
		t.Run(typ.String(), func(t *testing.T) {
			const slots, stable = 4, 4
			m := mustNew(t, Spec{Type: typ, KeySize: 8, ValueSize: 16, MaxEntries: 64}, slots)
			for k := uint64(0); k < stable; k++ {
				require.Zero(t, m.SysUpdate(v64(k), make([]byte, m.SysValueSize()), 0))
			}
			n := hammerN()
			var wg sync.WaitGroup
			for s := 0; s < slots; s++ {
				wg.Add(1)
				go func(slot uint32) {
					defer wg.Done()
					val := make([]byte, 16)
					for i := 0; i < n; i++ {
						if p := m.Lookup(v64(uint64(i%stable)), slot); p != nil {
							atomicmem.RMW64(p, 0, atomicmem.OpAdd, 1)
							atomicmem.Store32(p, 8, uint32(i))
						}
						churn := v64(uint64(100 + (i*7+int(slot))%40))
						switch i % 3 {
						case 0:
							m.Update(churn, val, BPF_ANY, slot)
						case 1:
							m.Delete(churn)
						default:
							if p := m.Lookup(churn, slot); p != nil {
								atomicmem.Store8(p, 15, 1)
							}
						}
					}
				}(uint32(s))
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := make([]byte, m.SysValueSize())
				for i := 0; i < n; i++ {
					m.SysLookup(v64(uint64(100+i%40)), out, 0)
					m.SysUpdate(v64(uint64(100+i%40)), out, BPF_EXIST)
					m.SysLookupAndDelete(v64(uint64(100+(i+3)%40)), out, 0)
					if i%50 == 0 {
						var cur []byte
						for j := 0; j < 70; j++ {
							next := make([]byte, 8)
							if m.SysNextKey(cur, next) != 0 {
								break
							}
							cur = next
						}
					}
				}
			}()
			wg.Wait()
			total := uint64(0)
			out := make([]byte, m.SysValueSize())
			for k := uint64(0); k < stable; k++ {
				require.Zero(t, m.SysLookup(v64(k), out, 0), "stable key %d", k)
				for s := 0; s < len(out)/16; s++ {
					total += le64(out[s*16:])
				}
			}
			assert.Equal(t, uint64(slots*n), total, "atomic adds lost")
		})
	}
}

func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// TestHammerArrayAndLPM mixes program-side atomics and plain stores with
// whole-value Go API reads and writes on an array, and lookups with
// updates and deletes on an LPM trie.
func TestHammerArrayAndLPM(t *testing.T) {
	n := hammerN()
	arr := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 24, MaxEntries: 2}, 4)
	trie := mustNew(t, Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 8, MaxEntries: 64, Flags: BPF_F_NO_PREALLOC}, 4)
	require.Zero(t, trie.Update(lpmK(0, 0, 0, 0, 0), v64(1), 0, 0))
	var wg sync.WaitGroup
	for s := 0; s < 3; s++ {
		wg.Add(1)
		go func(slot uint32) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				p := arr.Lookup(k32(0), slot)
				atomicmem.RMW64(p, 0, atomicmem.OpAdd, 1)
				atomicmem.Store16(p, 8+2*int(slot), uint16(i))
				key := lpmK(uint32(8+i%24), 10, byte(i), byte(slot), 0)
				if i%2 == 0 {
					trie.Update(key, v64(uint64(i)), 0, slot)
				} else {
					trie.Delete(key)
				}
				if p := trie.Lookup(lpmK(32, 10, byte(i), byte(slot), 9), slot); p == nil {
					t.Error("the /0 prefix always matches")
					return
				}
			}
		}(uint32(s))
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		out := make([]byte, 24)
		for i := 0; i < n; i++ {
			arr.SysLookup(k32(0), out, 0)
			arr.SysUpdate(k32(1), out, 0)
			trie.SysLookup(lpmK(32, 10, 1, 1, 1), out[:8], 0)
			var cur []byte
			for j := 0; j < 5; j++ {
				next := make([]byte, 8)
				if trie.SysNextKey(cur, next) != 0 {
					break
				}
				cur = next
			}
		}
	}()
	wg.Wait()
	out := make([]byte, 24)
	require.Zero(t, arr.SysLookup(k32(0), out, 0))
	assert.Equal(t, uint64(3*n), le64(out))
}

// TestHammerQueueAndRing pushes and pops from several goroutines and
// produces ring buffer records from several while one reader consumes:
// nothing is lost or duplicated.
func TestHammerQueueAndRing(t *testing.T) {
	n := hammerN()
	q := mustNew(t, Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 16}, 1).(QueueMap)
	var pushed, popped atomic.Int64
	r := newRing(t, 8192)
	var produced atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, 4)
			for i := 0; i < n; i++ {
				if q.Push(k32(uint32(i)), 0) == 0 {
					pushed.Add(1)
				}
				if q.Pop(buf) == 0 {
					popped.Add(1)
				}
				rec := r.Reserve(uint64(1 + i%40))
				if rec == nil {
					continue
				}
				atomicmem.Store8(rec, 0, byte(g))
				r.Commit(rec, 0, i%5 == 0)
				if i%5 != 0 {
					produced.Add(1)
				}
			}
		}(g)
	}
	consumed := 0
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var buf []byte
	for {
		var ok bool
		buf, ok = r.Consume(buf[:0])
		if ok {
			consumed++
			continue
		}
		select {
		case <-done:
			for {
				if buf, ok = r.Consume(buf[:0]); !ok {
					break
				}
				consumed++
			}
			assert.Equal(t, int(produced.Load()), consumed, "ring records")
			assert.Equal(t, pushed.Load()-popped.Load(), int64(q.(Counter).Len()), "queue elements")
			return
		case <-r.Wakeups():
		}
	}
}
