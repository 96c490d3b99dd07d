package handle

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllocatorKernelSequence replays the sequence cls_bpf.md §5.3 records
// from Linux 6.18: auto handles 1, 2, 3; after deleting 1 the next is 1,
// then 4; explicit 0x7FFFFFFE, 0x7FFFFFFF, 0xFFFFFFF0 and 5 are skipped by
// later automatic ones.
func TestAllocatorKernelSequence(t *testing.T) {
	a := NewAllocator()
	alloc := func(want uint32) {
		t.Helper()
		h, err := a.Alloc()
		require.NoError(t, err)
		assert.Equal(t, want, h)
	}
	alloc(1)
	alloc(2)
	alloc(3)
	a.Release(1)
	alloc(1)
	alloc(4)
	for _, h := range []uint32{0x7FFFFFFE, 0x7FFFFFFF, 0xFFFFFFF0, 5} {
		require.NoError(t, a.Reserve(h))
		assert.True(t, a.InUse(h))
	}
	alloc(6)
	alloc(7)
	a.Release(5)
	alloc(5)
	alloc(8)
	assert.Equal(t, 11, a.Len())
}

func TestAllocatorZeroValue(t *testing.T) {
	var a Allocator
	assert.False(t, a.InUse(1))
	h, err := a.Alloc()
	require.NoError(t, err)
	assert.Equal(t, uint32(1), h)
	c := a.Clone()
	assert.True(t, c.InUse(1))
}

func TestAllocatorReserve(t *testing.T) {
	a := NewAllocator()
	err := a.Reserve(0)
	assert.ErrorIs(t, err, syscall.EINVAL)
	assert.Zero(t, a.Len())

	require.NoError(t, a.Reserve(0xFFFFFFFF))
	err = a.Reserve(0xFFFFFFFF)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, 1, a.Len())

	h, err := a.Alloc()
	require.NoError(t, err)
	assert.Equal(t, uint32(1), h)
	assert.ErrorIs(t, a.Reserve(1), syscall.ENOSPC)
	assert.False(t, a.InUse(0))
}

func TestAllocatorRelease(t *testing.T) {
	a := NewAllocator()
	a.Release(0)
	a.Release(7)
	a.Release(0xFFFFFFFF)
	assert.Zero(t, a.Len())
	require.NoError(t, a.Reserve(7))
	a.Release(7)
	a.Release(7)
	assert.Zero(t, a.Len())
	assert.Nil(t, a.root, "an empty allocator keeps no nodes")
}

func TestAllocatorExhaustion(t *testing.T) {
	for _, top := range []uint32{1, 2, 63, 64, 65, 4095, 4096, 4097, 10000} {
		a := newAllocatorMax(top)
		for want := uint32(1); want <= top; want++ {
			h, err := a.Alloc()
			require.NoError(t, err)
			require.Equal(t, want, h)
		}
		_, err := a.Alloc()
		require.ErrorIs(t, err, syscall.ENOSPC, "top %d", top)
		// Explicit handles above the automatic range are still free.
		require.NoError(t, a.Reserve(top+1))
		_, err = a.Alloc()
		require.ErrorIs(t, err, syscall.ENOSPC)
		rel := max(top/2, 1)
		a.Release(rel)
		h, err := a.Alloc()
		require.NoError(t, err)
		assert.Equal(t, rel, h)
	}
}

// TestAllocatorTopOfRange fills the last handles below AutoMax in the full
// range and checks that Alloc still finds the lowest free one.
func TestAllocatorTopOfRange(t *testing.T) {
	a := NewAllocator()
	for h := AutoMax - 5000; h <= AutoMax; h++ {
		require.NoError(t, a.Reserve(h))
	}
	h, err := a.Alloc()
	require.NoError(t, err)
	assert.Equal(t, uint32(1), h)
	assert.True(t, a.InUse(AutoMax))
	assert.False(t, a.InUse(AutoMax-5001))
	assert.False(t, a.InUse(AutoMax+1))
}

// refAlloc is the obvious model: a set and a linear scan. Handles up to
// scanLimit also live in a slice so the scan stays cheap under -race.
type refAlloc struct {
	used map[uint32]bool
	max  uint32
	low  []bool
}

const scanLimit = 1 << 16

func newRefAlloc(max uint32) *refAlloc {
	return &refAlloc{used: map[uint32]bool{}, max: max, low: make([]bool, min(max, scanLimit)+1)}
}

func (r *refAlloc) add(h uint32) {
	r.used[h] = true
	if int(h) < len(r.low) {
		r.low[h] = true
	}
}

func (r *refAlloc) del(h uint32) {
	delete(r.used, h)
	if int(h) < len(r.low) {
		r.low[h] = false
	}
}

func (r *refAlloc) alloc() (uint32, bool) {
	for h := uint32(1); h <= r.max; h++ {
		if int(h) < len(r.low) {
			if r.low[h] {
				continue
			}
		} else if r.used[h] {
			continue
		}
		r.add(h)
		return h, true
	}
	return 0, false
}

// TestAllocatorModel runs random operations against refAlloc, with clones
// taken and changed along the way, for several range sizes around the
// tree's node boundaries.
func TestAllocatorModel(t *testing.T) {
	rounds := 20000
	if testing.Short() {
		rounds = 4000
	}
	for _, max := range []uint32{5, 64, 200, 4096, 9000} {
		r := rand.New(rand.NewPCG(uint64(max), 7))
		a := newAllocatorMax(max)
		ref := newRefAlloc(max)
		pick := func() uint32 {
			switch r.IntN(4) {
			case 0:
				return r.Uint32()
			case 1:
				return max + uint32(r.IntN(3))
			default:
				return uint32(r.IntN(int(max) + 2))
			}
		}
		var snaps []*Allocator
		var snapRefs []map[uint32]bool
		for i := range rounds {
			switch op := r.IntN(10); {
			case op < 4:
				h, err := a.Alloc()
				want, ok := ref.alloc()
				require.Equal(t, ok, err == nil, "round %d", i)
				require.Equal(t, want, h, "round %d", i)
			case op < 6:
				h := pick()
				err := a.Reserve(h)
				switch {
				case h == 0:
					require.ErrorIs(t, err, syscall.EINVAL)
				case ref.used[h]:
					require.ErrorIs(t, err, syscall.ENOSPC)
				default:
					require.NoError(t, err)
					ref.add(h)
				}
			case op < 9:
				h := pick()
				if len(ref.used) > 0 && r.IntN(2) == 0 {
					for k := range ref.used {
						h = k
						break
					}
				}
				a.Release(h)
				ref.del(h)
			default:
				if len(snaps) < 4 {
					snaps = append(snaps, a.Clone())
					m := make(map[uint32]bool, len(ref.used))
					for k := range ref.used {
						m[k] = true
					}
					snapRefs = append(snapRefs, m)
				}
			}
			require.Equal(t, len(ref.used), a.Len())
			h := pick()
			require.Equal(t, ref.used[h], a.InUse(h), "round %d handle %#x", i, h)
		}
		for k := range ref.used {
			require.True(t, a.InUse(k))
		}
		// Snapshots kept their contents while a changed.
		for i, s := range snaps {
			require.Equal(t, len(snapRefs[i]), s.Len())
			for k := range snapRefs[i] {
				require.True(t, s.InUse(k))
			}
			sref := newRefAlloc(max)
			for k := range snapRefs[i] {
				sref.add(k)
			}
			h, err := s.Alloc()
			want, ok := sref.alloc()
			require.Equal(t, ok, err == nil)
			require.Equal(t, want, h)
		}
	}
}

func TestAllocatorClone(t *testing.T) {
	a := NewAllocator()
	for range 5000 {
		_, err := a.Alloc()
		require.NoError(t, err)
	}
	c := a.Clone()
	c.Release(17)
	require.NoError(t, c.Reserve(0x80000000))
	h, err := a.Alloc()
	require.NoError(t, err)
	assert.Equal(t, uint32(5001), h)
	assert.True(t, a.InUse(17))
	assert.False(t, a.InUse(0x80000000))
	assert.False(t, c.InUse(5001))
	h, err = c.Alloc()
	require.NoError(t, err)
	assert.Equal(t, uint32(17), h)
	assert.Equal(t, 5001, a.Len())
	assert.Equal(t, 5001, c.Len())

	// A clone of a clone, dropped: nothing leaks back.
	d := c.Clone()
	d.Release(1)
	d.Release(2)
	assert.True(t, c.InUse(1))
	assert.True(t, a.InUse(1))
}

// TestAllocatorLarge allocates many handles, frees every third and checks
// that they come back lowest first.
func TestAllocatorLarge(t *testing.T) {
	n := uint32(200000)
	if testing.Short() {
		n = 20000
	}
	a := NewAllocator()
	for want := uint32(1); want <= n; want++ {
		h, err := a.Alloc()
		require.NoError(t, err)
		if h != want {
			require.Equal(t, want, h)
		}
	}
	for h := uint32(3); h <= n; h += 3 {
		a.Release(h)
	}
	for want := uint32(3); want <= n; want += 3 {
		h, err := a.Alloc()
		require.NoError(t, err)
		if h != want {
			require.Equal(t, want, h)
		}
	}
	h, err := a.Alloc()
	require.NoError(t, err)
	assert.Equal(t, n+1, h)
}

func TestAllocatorInUseAllocs(t *testing.T) {
	a := NewAllocator()
	for range 100 {
		_, err := a.Alloc()
		require.NoError(t, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = a.InUse(50)
		_ = a.InUse(0xFFFFFFFF)
	})
	assert.Zero(t, allocs)
}

func BenchmarkAllocator(b *testing.B) {
	b.Run("alloc_release", func(b *testing.B) {
		a := NewAllocator()
		for range 100000 {
			_, _ = a.Alloc()
		}
		b.ReportAllocs()
		h := uint32(1)
		for b.Loop() {
			a.Release(h)
			got, _ := a.Alloc()
			h = got*7919%100000 + 1
		}
	})
	b.Run("alloc_release_linear_model", func(b *testing.B) {
		// The same work on refAlloc, the set-and-scan model, for scale.
		ref := newRefAlloc(AutoMax)
		for range 100000 {
			_, _ = ref.alloc()
		}
		b.ReportAllocs()
		h := uint32(1)
		for b.Loop() {
			ref.del(h)
			got, _ := ref.alloc()
			h = got*7919%100000 + 1
		}
	})
	b.Run("in_use", func(b *testing.B) {
		a := NewAllocator()
		for range 100000 {
			_, _ = a.Alloc()
		}
		b.ReportAllocs()
		h := uint32(1)
		for b.Loop() {
			_ = a.InUse(h)
			h = h*7919%100000 + 1
		}
	})
	b.Run("clone_change", func(b *testing.B) {
		a := NewAllocator()
		for range 100000 {
			_, _ = a.Alloc()
		}
		b.ReportAllocs()
		for b.Loop() {
			c := a.Clone()
			c.Release(5000)
			_, _ = c.Alloc()
		}
	})
}
