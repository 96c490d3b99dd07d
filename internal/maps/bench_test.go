package maps

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchMaps builds the maps of BenchmarkMapLookup: a hash with 16-byte
// keys holding 1024 elements, an array, and an LPM trie with 1024 /24
// prefixes; each with the key a lookup uses.
func benchMaps(tb testing.TB) []struct {
	name string
	m    Map
	key  []byte
} {
	hash := mustNew(tb, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 16, ValueSize: 8, MaxEntries: 1024}, 2)
	for i := 0; i < 1024; i++ {
		k := make([]byte, 16)
		putLE32(k, uint32(i))
		putLE32(k[12:], uint32(i*7))
		require.Zero(tb, hash.Update(k, v64(uint64(i)), BPF_ANY, 0))
	}
	hk := make([]byte, 16)
	putLE32(hk, 777)
	putLE32(hk[12:], 777*7)

	arr := mustNew(tb, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1024}, 2)

	lpm := mustNew(tb, Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 8, MaxEntries: 1024, Flags: BPF_F_NO_PREALLOC}, 2)
	for i := 0; i < 1024; i++ {
		require.Zero(tb, lpm.Update(lpmK(24, 10, byte(i>>8), byte(i), 0), v64(uint64(i)), BPF_ANY, 0))
	}
	return []struct {
		name string
		m    Map
		key  []byte
	}{
		{"hash16", hash, hk},
		{"array", arr, k32(513)},
		{"lpm24", lpm, lpmK(32, 10, 2, 7, 99)},
	}
}

// BenchmarkMapLookup is the program-side lookup (bpf_map_lookup_elem).
func BenchmarkMapLookup(b *testing.B) {
	for _, bm := range benchMaps(b) {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bm.m.Lookup(bm.key, 1) == nil {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkMapUpdateExisting is the program-side update of an existing
// element (bpf_map_update_elem with BPF_EXIST).
func BenchmarkMapUpdateExisting(b *testing.B) {
	for _, bm := range benchMaps(b) {
		b.Run(bm.name, func(b *testing.B) {
			v := v64(5)
			key := bm.key
			if bm.name == "lpm24" {
				key = lpmK(24, 10, 2, 7, 0) // an existing prefix
			}
			b.ReportAllocs()
			for b.Loop() {
				if bm.m.Update(key, v, BPF_ANY, 1) != 0 {
					b.Fatal("update failed")
				}
			}
		})
	}
}

// TestZeroAllocs proves the per-packet map paths allocate nothing:
// lookups of every kind, updates of existing elements, inserts into and
// deletes from a preallocated hash, queue and ring buffer operations.
func TestZeroAllocs(t *testing.T) {
	for _, bm := range benchMaps(t) {
		if bm.name == "lpm24" {
			// LPM updates allocate a node, as the kernel's do.
			assert.Zero(t, testing.AllocsPerRun(100, func() { bm.m.Lookup(bm.key, 1) }), bm.name)
			continue
		}
		v := v64(1)
		assert.Zero(t, testing.AllocsPerRun(100, func() {
			bm.m.Lookup(bm.key, 1)
			bm.m.Update(bm.key, v, BPF_EXIST, 1)
		}), bm.name)
	}
	h := mustNew(t, Spec{Type: BPF_MAP_TYPE_LRU_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4}, 2)
	q := mustNew(t, Spec{Type: BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 4}, 2).(QueueMap)
	r := newRing(t, 4096)
	out := make([]byte, 8)
	data := make([]byte, 20)
	rbuf := make([]byte, 64)
	k1, k2, v1, v2, v3 := k32(1), k32(2), v64(1), v64(2), v64(3)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		h.Update(k1, v1, BPF_ANY, 0)
		h.Update(k2, v2, BPF_ANY, 1)
		h.Lookup(k1, 1)
		h.Delete(k1)
		q.Push(v3, BPF_EXIST)
		q.Peek(out)
		q.Pop(out)
		if rec := r.Reserve(16); rec != nil {
			r.Commit(rec, 0, false)
		}
		r.Output(data, 0)
		r.Query(BPF_RB_AVAIL_DATA)
		for {
			if _, ok := r.Consume(rbuf[:0]); !ok {
				break
			}
		}
	}))
}

// BenchmarkBaselineGoMap is the reference for BenchmarkMapLookup/hash16: a
// plain Go map of 1024 16-byte keys, unsynchronised, read the same way.
func BenchmarkBaselineGoMap(b *testing.B) {
	m := make(map[[16]byte]*[8]byte, 1024)
	var k [16]byte
	for i := 0; i < 1024; i++ {
		putLE32(k[:], uint32(i))
		putLE32(k[12:], uint32(i*7))
		m[k] = new([8]byte)
	}
	key := make([]byte, 16)
	putLE32(key, 777)
	putLE32(key[12:], 777*7)
	b.ReportAllocs()
	for b.Loop() {
		if m[[16]byte(key)] == nil {
			b.Fatal("miss")
		}
	}
}
