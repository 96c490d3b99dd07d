package maps

import (
	"bytes"
	"sort"
	"syscall"
	"testing"
)

// FuzzHash replays a byte string as hash map operations (program and
// syscall side, every flag) on a HASH map and on a Go map model with the
// kernel's rules, and demands the same results and contents, including a
// get_next_key walk that visits every key exactly once.
func FuzzHash(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 1, 2, 0, 1, 1, 0, 2, 0, 3, 3, 0})
	f.Add([]byte{0, 1, 0, 0, 2, 1, 1, 0, 3, 2, 5, 0, 1, 4, 0, 0, 5, 6, 0, 6, 2})
	f.Add(bytes.Repeat([]byte{0, 7, 1, 0, 9, 3}, 20))
	f.Fuzz(func(t *testing.T, prog []byte) {
		const max = 4
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 3, ValueSize: 2, MaxEntries: max}, 2)
		model := map[string][]byte{}
		for len(prog) >= 3 {
			op, k, v := prog[0]%6, []byte{prog[1] % 9, 0, prog[1] / 9 % 2}, []byte{prog[2], prog[0]}
			flags := uint64(prog[2] % 5)
			prog = prog[3:]
			_, exists := model[string(k)]
			switch op {
			case 0, 1:
				var want syscall.Errno
				switch {
				case flags > BPF_EXIST:
					want = syscall.EINVAL
				case exists && flags == BPF_NOEXIST:
					want = syscall.EEXIST
				case !exists && flags == BPF_EXIST:
					want = syscall.ENOENT
				case !exists && len(model) == max:
					want = syscall.E2BIG
				}
				var got syscall.Errno
				if op == 0 {
					got = m.Update(k, v, flags, uint32(op))
				} else {
					got = m.SysUpdate(k, v, flags)
				}
				if got != want {
					t.Fatalf("update %x flags %d: %v, model %v", k, flags, got, want)
				}
				if want == 0 {
					model[string(k)] = v
				}
			case 2:
				want := syscall.Errno(0)
				if !exists {
					want = syscall.ENOENT
				}
				if got := m.Delete(k); got != want {
					t.Fatalf("delete %x: %v, model %v", k, got, want)
				}
				delete(model, string(k))
			case 3:
				got := m.Lookup(k, 1)
				if exists != (got != nil) || exists && !bytes.Equal(got, model[string(k)]) {
					t.Fatalf("lookup %x: %x, model %x", k, got, model[string(k)])
				}
			case 4:
				out := make([]byte, 2)
				got := m.SysLookupAndDelete(k, out, 0)
				if exists != (got == 0) || exists && !bytes.Equal(out, model[string(k)]) {
					t.Fatalf("lookup and delete %x: %v %x, model %x", k, got, out, model[string(k)])
				}
				delete(model, string(k))
			case 5:
				next := make([]byte, 3)
				got := m.SysNextKey(k, next)
				if got != 0 && got != syscall.ENOENT || len(model) == 0 && got == 0 || !exists && len(model) > 0 && got != 0 {
					t.Fatalf("next key %x: %v with %d keys", k, got, len(model))
				}
				if got == 0 {
					if _, ok := model[string(next)]; !ok {
						t.Fatalf("next key %x: %x not in the map", k, next)
					}
				}
			}
		}
		var walked []string
		var cur []byte
		for i := 0; i <= max; i++ {
			next := make([]byte, 3)
			if m.SysNextKey(cur, next) != 0 {
				break
			}
			walked = append(walked, string(next))
			cur = next
		}
		var want []string
		for k := range model {
			want = append(want, k)
		}
		sort.Strings(walked)
		sort.Strings(want)
		if len(walked) != len(want) {
			t.Fatalf("walk %q, model %q", walked, want)
		}
		for i := range want {
			if walked[i] != want[i] {
				t.Fatalf("walk %q, model %q", walked, want)
			}
		}
	})
}

// lpmEntry is a prefix of the LPM model.
type lpmEntry struct {
	plen uint32
	data [2]byte
	val  byte
}

func prefixMatch(plen uint32, a, b [2]byte) bool {
	for i := uint32(0); i < plen; i++ {
		if a[i/8]>>(7-i%8)&1 != b[i/8]>>(7-i%8)&1 {
			return false
		}
	}
	return true
}

// FuzzLPM replays a byte string as LPM trie operations on a 16-bit trie and
// on a list model (longest matching prefix by brute force; exact-match
// updates and deletes with the kernel's flags and ENOSPC), and checks that
// a get_next_key walk visits every prefix once, more specific prefixes
// before the ones containing them.
func FuzzLPM(f *testing.F) {
	f.Add([]byte{0, 8, 10, 0, 1, 0, 16, 10, 1, 2, 1, 17, 10, 1, 3, 2, 8, 10, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 1, 128, 0, 2, 0, 1, 0, 0, 3, 1, 0, 0, 0, 4})
	f.Add(bytes.Repeat([]byte{0, 12, 0xc0, 0xa8, 5, 1, 3, 0xc0, 0, 1}, 10))
	f.Fuzz(func(t *testing.T, prog []byte) {
		const max = 6
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 6, ValueSize: 1, MaxEntries: max, Flags: BPF_F_NO_PREALLOC}, 1)
		var model []lpmEntry
		find := func(plen uint32, d [2]byte) int {
			for i, e := range model {
				if e.plen == plen && prefixMatch(plen, e.data, d) {
					return i
				}
			}
			return -1
		}
		for len(prog) >= 5 {
			op := prog[0] % 4
			plen := uint32(prog[1] % 19)
			d := [2]byte{prog[2], prog[3]}
			flags := uint64(prog[4] % 4)
			val := prog[4]
			prog = prog[5:]
			key := append(k32(plen), d[0], d[1])
			switch op {
			case 0:
				var want syscall.Errno
				i := find(plen, d)
				switch {
				case flags > BPF_EXIST || plen > 16:
					want = syscall.EINVAL
				case i >= 0 && flags == BPF_NOEXIST:
					want = syscall.EEXIST
				case i < 0 && flags == BPF_EXIST:
					want = syscall.ENOENT
				case i < 0 && len(model) == max:
					want = syscall.ENOSPC
				}
				if got := m.Update(key, []byte{val}, flags, 0); got != want {
					t.Fatalf("update %d/%x flags %d: %v, model %v", plen, d, flags, got, want)
				}
				if want == 0 {
					if i >= 0 {
						model[i].val = val
					} else {
						model = append(model, lpmEntry{plen, d, val})
					}
				}
			case 1:
				var want syscall.Errno
				i := find(plen, d)
				switch {
				case plen > 16:
					want = syscall.EINVAL
				case i < 0:
					want = syscall.ENOENT
				}
				if got := m.Delete(key); got != want {
					t.Fatalf("delete %d/%x: %v, model %v", plen, d, got, want)
				}
				if want == 0 {
					model = append(model[:i], model[i+1:]...)
				}
			default:
				best := -1
				for i, e := range model {
					if plen <= 16 && e.plen <= plen && prefixMatch(e.plen, e.data, d) && (best < 0 || e.plen > model[best].plen) {
						best = i
					}
				}
				got := m.Lookup(key, 0)
				if (best >= 0) != (got != nil) || best >= 0 && got[0] != model[best].val {
					t.Fatalf("lookup %d/%x: %x, model %v", plen, d, got, best)
				}
			}
		}
		if got := m.(Counter).Len(); got != len(model) {
			t.Fatalf("n_entries %d, model %d", got, len(model))
		}
		var walked []lpmEntry
		var cur []byte
		for i := 0; i <= max; i++ {
			next := make([]byte, 6)
			if m.SysNextKey(cur, next) != 0 {
				break
			}
			walked = append(walked, lpmEntry{plen: le32(next), data: [2]byte{next[4], next[5]}})
			cur = next
		}
		if len(walked) != len(model) {
			t.Fatalf("walk %v, model %v", walked, model)
		}
		for i, w := range walked {
			if find(w.plen, w.data) < 0 {
				t.Fatalf("walk %v: %v not in the model", walked, w)
			}
			for _, later := range walked[i+1:] {
				if later.plen > w.plen && prefixMatch(w.plen, w.data, later.data) {
					t.Fatalf("walk %v: %v comes after %v, which contains it", walked, later, w)
				}
			}
		}
	})
}
