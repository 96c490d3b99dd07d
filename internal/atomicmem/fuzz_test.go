package atomicmem

import (
	"testing"
)

// FuzzAccesses replays a byte string as a sequence of stores, atomics and
// copies on a 32-byte memory and on a plain little-endian model of it, and
// demands the same bytes and the same loaded values.
func FuzzAccesses(f *testing.F) {
	f.Add([]byte{0, 3, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{1, 7, 9, 9, 9, 9, 9, 9, 9, 9, 2, 8, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{3, 5, 4, 0, 1, 2, 3, 4, 4, 16, 0xff})
	f.Fuzz(func(t *testing.T, prog []byte) {
		mem := Alloc(32)
		model := make([]byte, 32)
		for len(prog) >= 10 {
			op, off := prog[0]%5, int(prog[1]%32)
			size := []int{1, 2, 4, 8}[prog[0]/5%4]
			v := get(prog[2:10], 8)
			prog = prog[10:]
			if off+size > 32 {
				continue
			}
			switch op {
			case 0:
				Store(mem, off, size, v)
				put(model[off:], size, v)
			case 1:
				if got, want := Load(mem, off, size), get(model[off:], size); got != want {
					t.Fatalf("load %d at %d: %#x, model %#x", size, off, got, want)
				}
			case 2:
				if size == 4 {
					old, ok := RMW32(mem, off, Op(v%5), uint32(v>>8))
					if ok != (off%4 == 0) {
						t.Fatalf("RMW32 at %d: ok %v", off, ok)
					}
					if ok {
						want := get(model[off:], 4)
						if uint64(old) != want {
							t.Fatalf("RMW32 old %#x, model %#x", old, want)
						}
						put(model[off:], 4, uint64(apply(Op(v%5), old, uint32(v>>8))))
					}
				} else if size == 8 {
					old, ok := RMW64(mem, off, Op(v%5), v>>8)
					if ok != (off%8 == 0) {
						t.Fatalf("RMW64 at %d: ok %v", off, ok)
					}
					if ok {
						if want := get(model[off:], 8); old != want {
							t.Fatalf("RMW64 old %#x, model %#x", old, want)
						}
						put(model[off:], 8, apply(Op(v%5), old, v>>8))
					}
				}
			case 3:
				n := int(v % 16)
				if off+n <= 32 {
					src := make([]byte, n)
					for i := range src {
						src[i] = byte(v >> (i % 8 * 8))
					}
					CopyIn(mem, off, src)
					copy(model[off:], src)
				}
			case 4:
				n := int(v % 16)
				if off+n <= 32 {
					out := make([]byte, n)
					CopyOut(out, mem, off)
					if string(out) != string(model[off:off+n]) {
						t.Fatalf("CopyOut %d at %d: %x, model %x", n, off, out, model[off:off+n])
					}
				}
			}
		}
		if string(mem) != string(model) {
			t.Fatalf("memory %x, model %x", mem, model)
		}
	})
}
