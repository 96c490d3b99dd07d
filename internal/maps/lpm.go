package maps

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// trieMap is BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): a binary
// radix trie of prefixes with path compression, where intermediate nodes
// (never returned) join two subtries. Keys are struct
// bpf_lpm_trie_key_u8: a host-order u32 prefix length, then data_size
// bytes compared most significant bit first.
//
// The trie has the kernel's shape for the same set of prefixes, so
// BPF_MAP_GET_NEXT_KEY walks it in the kernel's post-order. Nodes are
// never changed once linked, except for their child pointers: an update
// links a new node in place of the old one (a value pointer taken before
// keeps the old value, as in the kernel), and a delete that must keep a
// node as an intermediate one links an intermediate copy. Lookups follow
// atomic pointers without a lock; updates and deletes hold the map's mutex.
type trieMap struct {
	info      Info
	ds        int // data_size = key_size - 4
	vs        int
	es        int
	max       uint32
	maxPrefix uint32
	*access
	root atomic.Pointer[lnode]

	mu sync.Mutex
	n  uint32 // n_entries
}

// lnode is struct lpm_trie_node.
type lnode struct {
	child     [2]atomic.Pointer[lnode]
	prefixlen uint32
	im        bool   // LPM_TREE_NODE_FLAG_IM
	data      []byte // data_size bytes, immutable
	val       []byte // atomicmem value memory; nil for intermediate nodes
}

const (
	lpmCreateFlags = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | bpfFAccessMask
	lpmDataSizeMax = 256
	lpmValSizeMax  = kmallocMaxSize - lpmDataSizeMax - lpmNodeSize
)

func newTrie(info Info, opts Options) (Map, error) {
	s := &info.Spec
	if s.MaxEntries == 0 || s.Flags&BPF_F_NO_PREALLOC == 0 || s.Flags&^lpmCreateFlags != 0 ||
		!accessOK(s.Flags) || s.KeySize < 4+1 || s.KeySize > 4+lpmDataSizeMax ||
		s.ValueSize < 1 || s.ValueSize > lpmValSizeMax {
		return nil, errf("create", syscall.EINVAL,
			"LPM tries need BPF_F_NO_PREALLOC, key_size 5..260, value_size 1..%d, max_entries > 0 and flags within %#x",
			lpmValSizeMax, lpmCreateFlags)
	}
	return &trieMap{
		info:      info,
		ds:        int(s.KeySize) - 4,
		vs:        int(s.ValueSize),
		es:        int(roundUp8(s.ValueSize)),
		max:       s.MaxEntries,
		maxPrefix: (s.KeySize - 4) * 8,
		access:    newAccess(s.Flags),
	}, nil
}

func (t *trieMap) Info() *Info { return &t.info }

func extractBit(data []byte, i uint32) int {
	return int(data[i/8]>>(7-i%8)) & 1
}

// longestPrefixMatch is longest_prefix_match: the number of leading bits
// node and key share, at most the shorter prefix length.
func (t *trieMap) longestPrefixMatch(n *lnode, plen uint32, data []byte) uint32 {
	limit := min(n.prefixlen, plen)
	var m uint32
	i := 0
	for ; i+8 <= t.ds; i += 8 {
		d := binary.BigEndian.Uint64(n.data[i:]) ^ binary.BigEndian.Uint64(data[i:])
		m += uint32(bits.LeadingZeros64(d))
		if m >= limit {
			return limit
		}
		if d != 0 {
			return m
		}
	}
	for ; i+4 <= t.ds; i += 4 {
		d := binary.BigEndian.Uint32(n.data[i:]) ^ binary.BigEndian.Uint32(data[i:])
		m += uint32(bits.LeadingZeros32(d))
		if m >= limit {
			return limit
		}
		if d != 0 {
			return m
		}
	}
	for ; i < t.ds; i++ {
		d := n.data[i] ^ data[i]
		m += uint32(bits.LeadingZeros8(d))
		if m >= limit {
			return limit
		}
		if d != 0 {
			return m
		}
	}
	return m
}

func (t *trieMap) Lookup(key []byte, slot uint32) []byte {
	if len(key) != 4+t.ds {
		return nil
	}
	n := t.lookup(le32(key), key[4:])
	if n == nil {
		return nil
	}
	return n.val[:t.vs:t.es]
}

// lookup is trie_lookup_elem.
func (t *trieMap) lookup(plen uint32, data []byte) *lnode {
	if plen > t.maxPrefix {
		return nil
	}
	var found *lnode
	for n := t.root.Load(); n != nil; {
		m := t.longestPrefixMatch(n, plen, data)
		if m == t.maxPrefix {
			return n
		}
		if m < n.prefixlen {
			break
		}
		if !n.im {
			found = n
		}
		n = n.child[extractBit(data, n.prefixlen)].Load()
	}
	return found
}

// newNode allocates a node for (plen, data) with value (nil: intermediate).
func (t *trieMap) newNode(plen uint32, data, value []byte) *lnode {
	// One allocation holds the data (read plainly: it never changes) and,
	// from the next 8-byte boundary, the value (accessed atomically).
	ds8 := int(roundUp8(uint32(t.ds)))
	size := ds8
	if value != nil {
		size += t.es
	}
	mem := atomicmem.Alloc(size)
	n := &lnode{prefixlen: plen, data: mem[:t.ds:t.ds]}
	copy(n.data, data[:t.ds])
	if value != nil {
		n.val = mem[ds8 : ds8+t.vs : ds8+t.es]
		atomicmem.CopyIn(n.val, 0, value)
	} else {
		n.im = true
	}
	return n
}

// checkAdd is trie_check_add_elem.
func (t *trieMap) checkAdd(flags uint64) syscall.Errno {
	if flags == BPF_EXIST {
		return syscall.ENOENT
	}
	if t.n == t.max {
		return syscall.ENOSPC
	}
	t.n++
	return 0
}

// update is trie_update_elem.
func (t *trieMap) update(key, value []byte, flags uint64) syscall.Errno {
	if flags > BPF_EXIST {
		return syscall.EINVAL
	}
	if len(key) != 4+t.ds || len(value) != t.vs {
		return syscall.EINVAL
	}
	plen, data := le32(key), key[4:]
	if plen > t.maxPrefix {
		return syscall.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	nn := t.newNode(plen, data, value)
	slot := &t.root
	var n *lnode
	var m uint32
	for n = slot.Load(); n != nil; n = slot.Load() {
		m = t.longestPrefixMatch(n, plen, data)
		if n.prefixlen != m || n.prefixlen == plen {
			break
		}
		slot = &n.child[extractBit(data, n.prefixlen)]
	}
	if n == nil {
		if e := t.checkAdd(flags); e != 0 {
			return e
		}
		slot.Store(nn)
		return 0
	}
	if n.prefixlen == m {
		if !n.im {
			if flags == BPF_NOEXIST {
				return syscall.EEXIST
			}
		} else if e := t.checkAdd(flags); e != 0 {
			return e
		}
		nn.child[0].Store(n.child[0].Load())
		nn.child[1].Store(n.child[1].Load())
		slot.Store(nn)
		return 0
	}
	if e := t.checkAdd(flags); e != 0 {
		return e
	}
	if m == plen {
		nn.child[extractBit(n.data, m)].Store(n)
		slot.Store(nn)
		return 0
	}
	im := t.newNode(m, n.data, nil)
	if extractBit(data, m) != 0 {
		im.child[0].Store(n)
		im.child[1].Store(nn)
	} else {
		im.child[0].Store(nn)
		im.child[1].Store(n)
	}
	slot.Store(im)
	return 0
}

func (t *trieMap) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	return t.update(key, value, flags)
}

// Delete is trie_delete_elem: an exact (prefix length, data) match.
func (t *trieMap) Delete(key []byte) syscall.Errno {
	if len(key) != 4+t.ds {
		return syscall.EINVAL
	}
	plen, data := le32(key), key[4:]
	if plen > t.maxPrefix {
		return syscall.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	trim := &t.root
	trim2 := trim
	var parent, n *lnode
	var m uint32
	for n = trim.Load(); n != nil; n = trim.Load() {
		m = t.longestPrefixMatch(n, plen, data)
		if n.prefixlen != m || n.prefixlen == plen {
			break
		}
		parent = n
		trim2 = trim
		trim = &n.child[extractBit(data, n.prefixlen)]
	}
	if n == nil || n.prefixlen != plen || n.prefixlen != m || n.im {
		return syscall.ENOENT
	}
	t.n--
	c0, c1 := n.child[0].Load(), n.child[1].Load()
	if c0 != nil && c1 != nil {
		im := t.newNode(n.prefixlen, n.data, nil)
		im.child[0].Store(c0)
		im.child[1].Store(c1)
		trim.Store(im)
		return 0
	}
	if parent != nil && parent.im && c0 == nil && c1 == nil {
		if parent.child[0].Load() == n {
			trim2.Store(parent.child[1].Load())
		} else {
			trim2.Store(parent.child[0].Load())
		}
		return 0
	}
	switch {
	case c0 != nil:
		trim.Store(c0)
	case c1 != nil:
		trim.Store(c1)
	default:
		trim.Store(nil)
	}
	return 0
}

func (t *trieMap) SysValueSize() int { return t.vs }

func (t *trieMap) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(t.access, flags); e != 0 {
		return e
	}
	if len(key) != 4+t.ds || len(value) != t.vs {
		return syscall.EINVAL
	}
	n := t.lookup(le32(key), key[4:])
	if n == nil {
		return syscall.ENOENT
	}
	atomicmem.CopyOut(value, n.val, 0)
	return 0
}

func (t *trieMap) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(t.access, flags); e != 0 {
		return e
	}
	return t.update(key, value, flags)
}

func (t *trieMap) SysDelete(key []byte) syscall.Errno {
	if !t.access.canWrite() {
		return syscall.EPERM
	}
	return t.Delete(key)
}

// SysNextKey is trie_get_next_key: post-order, more specific prefixes
// before the ones containing them; a missing or invalid key restarts from
// the leftmost node.
func (t *trieMap) SysNextKey(key, next []byte) syscall.Errno {
	if !t.access.canRead() {
		return syscall.EPERM
	}
	if len(next) != 4+t.ds || key != nil && len(key) != 4+t.ds {
		return syscall.EINVAL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	root := t.root.Load()
	if root == nil {
		return syscall.ENOENT
	}
	var found *lnode
	if key != nil && le32(key) <= t.maxPrefix {
		plen, data := le32(key), key[4:]
		var stack []*lnode
		var n *lnode
		var m uint32
		for n = root; n != nil; {
			stack = append(stack, n)
			m = t.longestPrefixMatch(n, plen, data)
			if n.prefixlen != m || n.prefixlen == plen {
				break
			}
			n = n.child[extractBit(data, n.prefixlen)].Load()
		}
		if n != nil && n.prefixlen == m && !n.im {
			n = stack[len(stack)-1]
			for sp := len(stack) - 1; sp > 0; sp-- {
				p := stack[sp-1]
				if p.child[0].Load() == n {
					if r := p.child[1].Load(); r != nil {
						root = r
						goto leftmost
					}
				}
				if !p.im {
					found = p
					goto copyKey
				}
				n = p
			}
			return syscall.ENOENT
		}
	}
leftmost:
	for n := root; n != nil; {
		if n.im {
			n = n.child[0].Load()
			continue
		}
		found = n
		n = n.child[0].Load()
		if n == nil {
			n = found.child[1].Load()
		}
	}
copyKey:
	putLE32(next, found.prefixlen)
	copy(next[4:], found.data)
	return 0
}

func (t *trieMap) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(t.access, flags, false); e != 0 {
		return e
	}
	return ENOTSUPP
}

// Len returns n_entries.
func (t *trieMap) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.n)
}
