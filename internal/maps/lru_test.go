package maps

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// present returns which of keys 0..n-1 are in m.
func present(m Map, n int) []uint32 {
	var in []uint32
	out := make([]byte, m.SysValueSize())
	for i := 0; i < n; i++ {
		if m.SysLookup(k32(uint32(i)), out, 0) == 0 {
			in = append(in, uint32(i))
		}
	}
	return in
}

// TestLRUEviction pins the deterministic eviction policies down: which
// key goes when a new key enters a full map.
func TestLRUEviction(t *testing.T) {
	for _, typ := range []Type{BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH} {
		t.Run(typ.String()+"/second_chance", func(t *testing.T) {
			m, err := New(&Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 3}, Options{Slots: 1})
			require.NoError(t, err)
			for i := uint32(0); i < 3; i++ {
				require.Zero(t, m.Update(k32(i), k32(i), BPF_ANY, 0))
			}
			require.NotNil(t, m.Lookup(k32(0), 0)) // 0 referenced
			require.Zero(t, m.Update(k32(3), k32(3), BPF_ANY, 0))
			assert.Equal(t, []uint32{0, 2, 3}, present(m, 8), "1 is the oldest unreferenced")
			require.NotNil(t, m.Lookup(k32(2), 0))
			require.NotNil(t, m.Lookup(k32(3), 0))
			require.Zero(t, m.Update(k32(4), k32(4), BPF_NOEXIST, 0))
			assert.Equal(t, []uint32{2, 3, 4}, present(m, 8), "0 lost its second chance")
			// Syscall lookups do not mark (map_lookup_elem_sys_only).
			out := make([]byte, m.SysValueSize())
			require.Zero(t, m.SysLookup(k32(2), out, 0))
			require.Zero(t, m.SysUpdate(k32(5), make([]byte, m.SysValueSize()), 0))
			require.Zero(t, m.SysUpdate(k32(6), make([]byte, m.SysValueSize()), 0))
			require.Zero(t, m.SysUpdate(k32(7), make([]byte, m.SysValueSize()), 0))
			assert.Equal(t, []uint32{5, 6, 7}, present(m, 8))
		})
		t.Run(typ.String()+"/insertion_order", func(t *testing.T) {
			m, err := New(&Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 2}, Options{Slots: 1, LRU: LRUInsertionOrder})
			require.NoError(t, err)
			require.Zero(t, m.Update(k32(0), k32(0), BPF_ANY, 0))
			require.Zero(t, m.Update(k32(1), k32(1), BPF_ANY, 0))
			require.NotNil(t, m.Lookup(k32(0), 0))
			require.Zero(t, m.Update(k32(2), k32(2), BPF_ANY, 0))
			assert.Equal(t, []uint32{1, 2}, present(m, 4), "lookups do not count")
		})
	}
	t.Run("never_E2BIG", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 16}, 1)
		for i := uint32(0); i < 1000; i++ {
			require.Zero(t, m.Update(k32(i), k32(i), BPF_ANY, 0))
			if i%3 == 0 {
				m.Lookup(k32(i/2), 0)
			}
		}
		assert.Equal(t, 16, m.(Counter).Len())
		assert.NotNil(t, m.Lookup(k32(999), 0), "the newest key is always kept")
	})
}

func TestForEach(t *testing.T) {
	arr := mustNew(t, Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 4}, 2)
	require.Zero(t, arr.Update(k32(2), []byte{7, 0, 0, 0}, 0, 1))
	var seen []uint32
	n := arr.(ForEacher).ForEach(1, func(k, v []byte) bool {
		seen = append(seen, le32(k)+uint32(v[0])*100)
		return le32(k) == 2
	})
	assert.Equal(t, 3, n)
	assert.Equal(t, []uint32{0, 1, 702}, seen)

	h := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 8}, 1)
	for i := uint32(0); i < 5; i++ {
		require.Zero(t, h.Update(k32(i), k32(i*i), 0, 0))
	}
	var walk []uint32
	var cur []byte
	for {
		next := make([]byte, 4)
		if h.SysNextKey(cur, next) != 0 {
			break
		}
		walk = append(walk, le32(next))
		cur = next
	}
	var each []uint32
	assert.Equal(t, 5, h.(ForEacher).ForEach(0, func(k, v []byte) bool {
		each = append(each, le32(k))
		assert.Equal(t, le32(k)*le32(k), le32(v))
		return false
	}))
	assert.Equal(t, walk, each, "the kernel's order: the get_next_key order")
}
