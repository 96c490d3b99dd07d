package atomicmem

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllocAligned(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100, 4096} {
		b := Alloc(n)
		require.Len(t, b, n)
		assert.True(t, Valid(b), "n=%d", n)
	}
	assert.False(t, Valid(Alloc(16)[1:]))
}

// TestLoadStoreMatchesPlainMemory stores every size at every offset of a
// 24-byte memory and compares loads and the bytes with a plain little-endian
// model of the same memory.
func TestLoadStoreMatchesPlainMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 4, 8} {
		t.Run(map[int]string{1: "b", 2: "h", 4: "w", 8: "dw"}[size], func(t *testing.T) {
			mem := Alloc(24)
			model := make([]byte, 24)
			for off := 0; off+size <= 24; off++ {
				v := rng.Uint64()
				Store(mem, off, size, v)
				put(model[off:], size, v)
				require.Equal(t, model, append([]byte(nil), mem...), "store size %d at %d", size, off)
				for o2 := 0; o2+size <= 24; o2++ {
					assert.Equal(t, get(model[o2:], size), Load(mem, o2, size), "load size %d at %d", size, o2)
				}
			}
		})
	}
}

func put(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func get(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func TestRMW(t *testing.T) {
	tests := []struct {
		name      string
		op        Op
		init, arg uint64
		want      uint64
	}{
		{"add", OpAdd, 0xffffffff_fffffffe, 3, 1},
		{"or", OpOr, 0xf0, 0x0f, 0xff},
		{"and", OpAnd, 0xf0f0, 0x0ff0, 0x00f0},
		{"xor", OpXor, 0xff00ff, 0xffff, 0xffff00},
		{"xchg", OpXchg, 7, 9, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/64", func(t *testing.T) {
			mem := Alloc(16)
			Store64(mem, 8, tt.init)
			old, ok := RMW64(mem, 8, tt.op, tt.arg)
			require.True(t, ok)
			assert.Equal(t, tt.init, old)
			assert.Equal(t, tt.want, Load64(mem, 8))
			_, ok = RMW64(mem, 4, tt.op, tt.arg)
			assert.False(t, ok, "misaligned")
			assert.Equal(t, tt.want, Load64(mem, 8), "misaligned op changed memory")
		})
		t.Run(tt.name+"/32", func(t *testing.T) {
			mem := Alloc(16)
			Store32(mem, 4, uint32(tt.init))
			old, ok := RMW32(mem, 4, tt.op, uint32(tt.arg))
			require.True(t, ok)
			assert.Equal(t, uint32(tt.init), old)
			assert.Equal(t, uint32(tt.want), Load32(mem, 4))
			assert.Zero(t, Load32(mem, 0), "neighbour word")
			_, ok = RMW32(mem, 2, tt.op, 1)
			assert.False(t, ok, "misaligned")
		})
	}
}

func TestCmpXchg(t *testing.T) {
	mem := Alloc(16)
	Store64(mem, 0, 5)
	old, ok := CmpXchg64(mem, 0, 4, 9)
	require.True(t, ok)
	assert.Equal(t, uint64(5), old)
	assert.Equal(t, uint64(5), Load64(mem, 0), "no swap on mismatch")
	old, _ = CmpXchg64(mem, 0, 5, 9)
	assert.Equal(t, uint64(5), old)
	assert.Equal(t, uint64(9), Load64(mem, 0))

	old32, ok := CmpXchg32(mem, 4, 0, 0xabcd)
	require.True(t, ok)
	assert.Zero(t, old32)
	assert.Equal(t, uint32(0xabcd), Load32(mem, 4))
	assert.Equal(t, uint32(9), Load32(mem, 0))
	_, ok = CmpXchg32(mem, 1, 0, 0)
	assert.False(t, ok)
	_, ok = CmpXchg64(mem, 4, 0, 0)
	assert.False(t, ok)
}

func TestCopy(t *testing.T) {
	src := make([]byte, 29)
	for i := range src {
		src[i] = byte(i + 1)
	}
	for off := 0; off < 8; off++ {
		mem := Alloc(40)
		CopyIn(mem, off, src)
		want := make([]byte, 40)
		copy(want[off:], src)
		require.Equal(t, want, append([]byte(nil), mem...), "CopyIn at %d", off)
		out := make([]byte, len(src))
		CopyOut(out, mem, off)
		require.Equal(t, src, out, "CopyOut at %d", off)

		dst := Alloc(40)
		Move(dst, 3, mem, off, len(src))
		CopyOut(out, dst, 3)
		require.Equal(t, src, out, "Move from %d", off)
		Move(dst, 8, mem, 0, 32)
		CopyOut(out[:24], dst, 8)
		require.Equal(t, want[:24], out[:24])
	}
	mem := Alloc(13)
	CopyIn(mem, 0, src[:13])
	Zero(mem)
	assert.Equal(t, make([]byte, 13), append([]byte(nil), mem...))
}

// TestConcurrentByteStores has goroutines own one byte each of the same
// words and count it up with plain load/store pairs: a store that rewrote
// the whole word would lose the neighbours' counts.
func TestConcurrentByteStores(t *testing.T) {
	const n = 2000
	mem := Alloc(8)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(off int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				Store8(mem, off, Load8(mem, off)+1)
			}
		}(g)
	}
	wg.Wait()
	for off := 0; off < 8; off++ {
		assert.Equal(t, uint8(n%256), Load8(mem, off), "byte %d", off)
	}
}

// TestConcurrentAddsAndCopies runs atomic adds, halfword stores and whole
// copies at once: the adds must all count and copies must never see a word
// that is half old, half new.
func TestConcurrentAddsAndCopies(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	mem := Alloc(32)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				RMW64(mem, 0, OpAdd, 1)
				RMW32(mem, 8, OpAdd, 2)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		ones := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		zeros := make([]byte, 8)
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				CopyIn(mem, 24, ones)
			} else {
				CopyIn(mem, 24, zeros)
			}
			Store16(mem, 16, uint16(i))
		}
	}()
	var torn bool
	go func() {
		defer wg.Done()
		out := make([]byte, 32)
		for i := 0; i < n; i++ {
			CopyOut(out, mem, 0)
			w := binary.LittleEndian.Uint64(out[24:])
			if w != 0 && w != ^uint64(0) {
				torn = true
			}
		}
	}()
	wg.Wait()
	assert.False(t, torn, "a copy saw a torn word")
	assert.Equal(t, uint64(4*n), Load64(mem, 0))
	assert.Equal(t, uint32(8*n), Load32(mem, 8))
}

func TestAllocsPerAccess(t *testing.T) {
	mem := Alloc(16)
	buf := make([]byte, 16)
	allocs := testing.AllocsPerRun(100, func() {
		Store8(mem, 3, 1)
		Store16(mem, 6, 2)
		Store32(mem, 8, 3)
		Store64(mem, 8, Load64(mem, 0)+uint64(Load8(mem, 3)))
		RMW64(mem, 0, OpAdd, 1)
		CopyOut(buf, mem, 0)
		CopyIn(mem, 0, buf)
	})
	assert.Zero(t, allocs)
}

func BenchmarkStore8(b *testing.B) {
	mem := Alloc(8)
	b.ReportAllocs()
	for b.Loop() {
		Store8(mem, 3, 7)
	}
}

func BenchmarkLoad64(b *testing.B) {
	mem := Alloc(8)
	b.ReportAllocs()
	var s uint64
	for b.Loop() {
		s += Load64(mem, 0)
	}
	_ = s
}

func BenchmarkCopyOut64(b *testing.B) {
	mem := Alloc(64)
	out := make([]byte, 64)
	b.ReportAllocs()
	b.SetBytes(64)
	for b.Loop() {
		CopyOut(out, mem, 0)
	}
}

func TestEndianConstant(t *testing.T) {
	assert.Equal(t, binary.NativeEndian.Uint16([]byte{1, 0}) != 1, bigEndian)
}
