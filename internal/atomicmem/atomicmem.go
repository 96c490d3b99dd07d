package atomicmem

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Alloc returns n bytes of zeroed memory this package may operate on: the
// first byte is 8-byte aligned and the capacity is n rounded up to a
// multiple of 8, so that every aligned word an access touches lies inside
// the allocation.
func Alloc(n int) []byte {
	if n <= 0 {
		return FromWords(make([]uint64, 1))[:0]
	}
	return FromWords(make([]uint64, (n+7)/8))[:n]
}

// FromWords returns the bytes of w. Slices of the result (with the same
// start, or a start that stays 8-byte aligned) are valid arguments for the
// functions of this package.
func FromWords(w []uint64) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

// Valid reports whether b satisfies the package's precondition: its first
// byte is 8-byte aligned and its capacity is a multiple of 8.
func Valid(b []byte) bool {
	if cap(b) == 0 {
		return true
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p&7 == 0 && cap(b)&7 == 0
}

// word32 returns the aligned 32-bit word of b that contains byte off. The
// caller has checked that off is inside b; the word may extend past len(b)
// but never past cap(b), by the precondition.
func word32(b []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(unsafe.SliceData(b[off&^3 : off&^3 : cap(b)])))
}

func word64(b []byte, off int) *uint64 {
	return (*uint64)(unsafe.Pointer(unsafe.SliceData(b[off&^7 : off&^7 : cap(b)])))
}

// le32 converts between a native-order word and its little-endian value.
func le32(v uint32) uint32 {
	if bigEndian {
		return bits.ReverseBytes32(v)
	}
	return v
}

func le64(v uint64) uint64 {
	if bigEndian {
		return bits.ReverseBytes64(v)
	}
	return v
}

// check panics with a Go bounds error when [off, off+n) is not inside b, as
// a plain slice expression would: callers check bounds first, so this is a
// bug guard, not an input check.
func check(b []byte, off, n int) {
	_ = b[off : off+n]
}

// Load8 returns the byte at off.
func Load8(b []byte, off int) uint8 {
	check(b, off, 1)
	w := le32(atomic.LoadUint32(word32(b, off)))
	return uint8(w >> (uint(off&3) * 8))
}

// Load16 returns the little-endian 16-bit value at off. An aligned load is
// one atomic access; an unaligned one is made of byte loads.
func Load16(b []byte, off int) uint16 {
	check(b, off, 2)
	if off&1 != 0 {
		return uint16(Load8(b, off)) | uint16(Load8(b, off+1))<<8
	}
	w := le32(atomic.LoadUint32(word32(b, off)))
	return uint16(w >> (uint(off&3) * 8))
}

// Load32 returns the little-endian 32-bit value at off, atomically when off
// is 4-byte aligned.
func Load32(b []byte, off int) uint32 {
	check(b, off, 4)
	if off&3 != 0 {
		return uint32(loadBytes(b, off, 4))
	}
	return le32(atomic.LoadUint32(word32(b, off)))
}

// Load64 returns the little-endian 64-bit value at off, atomically when off
// is 8-byte aligned.
func Load64(b []byte, off int) uint64 {
	check(b, off, 8)
	if off&7 != 0 {
		return loadBytes(b, off, 8)
	}
	return le64(atomic.LoadUint64(word64(b, off)))
}

// Load returns the size-byte (1, 2, 4 or 8) little-endian value at off.
func Load(b []byte, off, size int) uint64 {
	switch size {
	case 1:
		return uint64(Load8(b, off))
	case 2:
		return uint64(Load16(b, off))
	case 4:
		return uint64(Load32(b, off))
	default:
		return Load64(b, off)
	}
}

func loadBytes(b []byte, off, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(Load8(b, off+i))
	}
	return v
}

// storeIn32 replaces the bits of mask (in little-endian value space) of the
// aligned 32-bit word containing off with v, by compare-and-swap, so that
// the other bytes of the word are never torn or lost.
func storeIn32(p *uint32, shift uint, mask, v uint32) {
	for {
		old := atomic.LoadUint32(p)
		nv := le32(le32(old)&^(mask<<shift) | (v&mask)<<shift)
		if atomic.CompareAndSwapUint32(p, old, nv) {
			return
		}
	}
}

// Store8 stores v at off.
func Store8(b []byte, off int, v uint8) {
	check(b, off, 1)
	storeIn32(word32(b, off), uint(off&3)*8, 0xff, uint32(v))
}

// Store16 stores v little-endian at off: one atomic access when off is
// 2-byte aligned, byte stores otherwise.
func Store16(b []byte, off int, v uint16) {
	check(b, off, 2)
	if off&1 != 0 {
		Store8(b, off, uint8(v))
		Store8(b, off+1, uint8(v>>8))
		return
	}
	storeIn32(word32(b, off), uint(off&3)*8, 0xffff, uint32(v))
}

// Store32 stores v little-endian at off, atomically when off is 4-byte
// aligned.
func Store32(b []byte, off int, v uint32) {
	check(b, off, 4)
	if off&3 != 0 {
		storeBytes(b, off, 4, uint64(v))
		return
	}
	atomic.StoreUint32(word32(b, off), le32(v))
}

// Store64 stores v little-endian at off, atomically when off is 8-byte
// aligned.
func Store64(b []byte, off int, v uint64) {
	check(b, off, 8)
	if off&7 != 0 {
		storeBytes(b, off, 8, v)
		return
	}
	atomic.StoreUint64(word64(b, off), le64(v))
}

// Store stores the low size (1, 2, 4 or 8) bytes of v little-endian at off.
func Store(b []byte, off, size int, v uint64) {
	switch size {
	case 1:
		Store8(b, off, uint8(v))
	case 2:
		Store16(b, off, uint16(v))
	case 4:
		Store32(b, off, uint32(v))
	default:
		Store64(b, off, v)
	}
}

func storeBytes(b []byte, off, n int, v uint64) {
	for i := 0; i < n; i++ {
		Store8(b, off+i, uint8(v>>(8*i)))
	}
}

// Op is a read-modify-write operation of the eBPF atomic instructions
// (BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_XCHG; BPF_CMPXCHG has its own
// functions).
type Op uint8

// Operations.
const (
	OpAdd Op = iota
	OpOr
	OpAnd
	OpXor
	OpXchg
)

// RMW32 applies op with operand v to the 32-bit value at off and returns
// the value it replaced. ok is false (and nothing happens) when off is not
// 4-byte aligned: the kernel requires aligned atomics.
func RMW32(b []byte, off int, op Op, v uint32) (old uint32, ok bool) {
	check(b, off, 4)
	if off&3 != 0 {
		return 0, false
	}
	p := word32(b, off)
	if !bigEndian {
		switch op {
		case OpAdd:
			return atomic.AddUint32(p, v) - v, true
		case OpOr:
			return atomic.OrUint32(p, v), true
		case OpAnd:
			return atomic.AndUint32(p, v), true
		case OpXchg:
			return atomic.SwapUint32(p, v), true
		}
	}
	for {
		raw := atomic.LoadUint32(p)
		o := le32(raw)
		if atomic.CompareAndSwapUint32(p, raw, le32(apply(op, o, v))) {
			return o, true
		}
	}
}

// apply is the value op leaves when applied with operand v to o.
func apply[T uint32 | uint64](op Op, o, v T) T {
	switch op {
	case OpAdd:
		return o + v
	case OpOr:
		return o | v
	case OpAnd:
		return o & v
	case OpXor:
		return o ^ v
	default:
		return v
	}
}

// RMW64 is RMW32 for 64-bit values at 8-byte aligned offsets.
func RMW64(b []byte, off int, op Op, v uint64) (old uint64, ok bool) {
	check(b, off, 8)
	if off&7 != 0 {
		return 0, false
	}
	p := word64(b, off)
	if !bigEndian {
		switch op {
		case OpAdd:
			return atomic.AddUint64(p, v) - v, true
		case OpOr:
			return atomic.OrUint64(p, v), true
		case OpAnd:
			return atomic.AndUint64(p, v), true
		case OpXchg:
			return atomic.SwapUint64(p, v), true
		}
	}
	for {
		raw := atomic.LoadUint64(p)
		o := le64(raw)
		if atomic.CompareAndSwapUint64(p, raw, le64(apply(op, o, v))) {
			return o, true
		}
	}
}

// CmpXchg32 stores v at off if the value there equals want, and returns the
// value found (BPF_CMPXCHG: R0 gets the old value either way). ok is false
// when off is not 4-byte aligned.
func CmpXchg32(b []byte, off int, want, v uint32) (old uint32, ok bool) {
	check(b, off, 4)
	if off&3 != 0 {
		return 0, false
	}
	p := word32(b, off)
	for {
		raw := atomic.LoadUint32(p)
		o := le32(raw)
		if o != want {
			return o, true
		}
		if atomic.CompareAndSwapUint32(p, raw, le32(v)) {
			return o, true
		}
	}
}

// CmpXchg64 is CmpXchg32 for 64-bit values at 8-byte aligned offsets.
func CmpXchg64(b []byte, off int, want, v uint64) (old uint64, ok bool) {
	check(b, off, 8)
	if off&7 != 0 {
		return 0, false
	}
	p := word64(b, off)
	for {
		raw := atomic.LoadUint64(p)
		o := le64(raw)
		if o != want {
			return o, true
		}
		if atomic.CompareAndSwapUint64(p, raw, le64(v)) {
			return o, true
		}
	}
}

// CopyIn copies src into dst at off, word by word: every aligned 8-byte
// word is one atomic store, the unaligned edges are byte stores. A
// concurrent reader sees each word either before or after, never torn.
func CopyIn(dst []byte, off int, src []byte) {
	n := len(src)
	check(dst, off, n)
	i := 0
	for ; i < n && (off+i)&7 != 0; i++ {
		Store8(dst, off+i, src[i])
	}
	for ; i+8 <= n; i += 8 {
		atomic.StoreUint64(word64(dst, off+i), le64(binary.LittleEndian.Uint64(src[i:])))
	}
	for ; i < n; i++ {
		Store8(dst, off+i, src[i])
	}
}

// CopyOut copies len(dst) bytes of src starting at off into dst, with the
// same word-by-word atomicity as CopyIn.
func CopyOut(dst []byte, src []byte, off int) {
	n := len(dst)
	check(src, off, n)
	i := 0
	for ; i < n && (off+i)&7 != 0; i++ {
		dst[i] = Load8(src, off+i)
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], le64(atomic.LoadUint64(word64(src, off+i))))
	}
	for ; i < n; i++ {
		dst[i] = Load8(src, off+i)
	}
}

// Zero clears b word by word.
func Zero(b []byte) {
	n := len(b)
	i := 0
	for ; i+8 <= n; i += 8 {
		atomic.StoreUint64(word64(b, i), 0)
	}
	for ; i < n; i++ {
		Store8(b, i, 0)
	}
}

// Move copies n bytes from src at soff to dst at doff (two memories of this
// package, possibly the same one with non-overlapping ranges) word by word.
func Move(dst []byte, doff int, src []byte, soff, n int) {
	check(dst, doff, n)
	check(src, soff, n)
	if doff&7 == 0 && soff&7 == 0 {
		i := 0
		for ; i+8 <= n; i += 8 {
			atomic.StoreUint64(word64(dst, doff+i), atomic.LoadUint64(word64(src, soff+i)))
		}
		for ; i < n; i++ {
			Store8(dst, doff+i, Load8(src, soff+i))
		}
		return
	}
	for i := 0; i < n; i++ {
		Store8(dst, doff+i, Load8(src, soff+i))
	}
}
