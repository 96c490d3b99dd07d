package maps

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// hashMap is BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and
// HASH_OF_MAPS (kernel/bpf/hashtab.c).
//
// The table has roundup_pow_of_two(max_entries) buckets, each a singly
// linked list whose elements are inserted at the head, and whose last
// link points to the bucket's own terminator (the kernel's hlist_nulls
// marker). Lookups take no lock: they follow atomic pointers and compare
// keys with atomic loads. Updates and deletes hold the map's mutex (the
// kernel's bucket locks, as one lock).
//
// Preallocated maps (the default) hold max_entries elements from creation
// on and reuse a deleted element for the next insert at once, as the
// kernel's free list does; a lookup that was walking the element when it
// moved to another bucket reaches that bucket's terminator and starts
// again, as __htab_map_lookup_elem does with the nulls value. Replacing the
// value of an existing key copies it in place and moves the element to the
// head of its bucket, where the kernel links a fresh element: the bucket
// order, and so the order of BPF_MAP_GET_NEXT_KEY, is the kernel's.
type hashMap struct {
	info     Info
	percpu   bool
	lru      bool
	prealloc bool
	ofMaps   bool
	ks       int // key_size
	ks8      int // round_up(key_size, 8)
	vs       int // value_size
	es       int // round_up(value_size, 8)
	slots    int
	max      uint32
	seed     uint32
	mask     uint32
	heads    []atomic.Pointer[helem]
	ends     []helem
	*access
	inner  *Spec
	policy LRUPolicy

	mu      sync.Mutex
	count   int
	free    []*helem // preallocated elements not in the table
	lruOld  *helem   // least recently inserted live element (LRU maps)
	lruNew  *helem   // most recently inserted live element
	scratch []byte   // a value-sized zero buffer for new per-CPU elements
}

// helem is one element (struct htab_elem).
type helem struct {
	next atomic.Pointer[helem]
	hash atomic.Uint32
	ref  atomic.Uint32 // LRU reference bit
	obj  atomic.Pointer[objRef]
	key  []byte // atomicmem; len key_size, zero-padded to a multiple of 8
	val  []byte // atomicmem; value_size (slots * round_up(value_size, 8) per-CPU)
	end  bool   // bucket terminator
	bkt  uint32 // the terminator's bucket

	lprev, lnext *helem // LRU list, under mu
}

// objRef boxes the object a hash of maps holds.
type objRef struct{ v any }

const htabCreateFlags = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE |
	bpfFAccessMask | BPF_F_ZERO_SEED

// htabAllocCheck is htab_map_alloc_check (and fd_htab_map_alloc_check).
func htabAllocCheck(s *Spec) error {
	percpu := s.Type == BPF_MAP_TYPE_PERCPU_HASH || s.Type == BPF_MAP_TYPE_LRU_PERCPU_HASH
	lru := s.Type == BPF_MAP_TYPE_LRU_HASH || s.Type == BPF_MAP_TYPE_LRU_PERCPU_HASH
	percpuLRU := s.Flags&BPF_F_NO_COMMON_LRU != 0
	prealloc := s.Flags&BPF_F_NO_PREALLOC == 0
	switch {
	case s.Type == BPF_MAP_TYPE_HASH_OF_MAPS && s.ValueSize != 4:
		return errf("create", syscall.EINVAL, "value_size %d: map-in-map values are 4-byte fds", s.ValueSize)
	case s.Flags&^htabCreateFlags != 0:
		return errf("create", syscall.EINVAL, "map_flags %#x not allowed for this type", s.Flags)
	case !accessOK(s.Flags):
		return errf("create", syscall.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case !lru && percpuLRU:
		return errf("create", syscall.EINVAL, "BPF_F_NO_COMMON_LRU is for LRU maps")
	case lru && !prealloc:
		return errf("create", ENOTSUPP, "LRU maps are always preallocated (BPF_F_NO_PREALLOC)")
	case s.Flags&BPF_F_NUMA_NODE != 0 && (percpu || percpuLRU):
		return errf("create", syscall.EINVAL, "per-CPU maps take no NUMA node")
	case s.MaxEntries == 0 || s.KeySize == 0 || s.ValueSize == 0:
		return errf("create", syscall.EINVAL, "max_entries, key_size and value_size must not be 0")
	case uint64(s.KeySize)+uint64(s.ValueSize) >= kmallocMaxSize-htabElemSize:
		return errf("create", syscall.E2BIG, "key_size + value_size = %d too large", uint64(s.KeySize)+uint64(s.ValueSize))
	case percpu && roundUp8(s.ValueSize) > pcpuMinUnitSize:
		return errf("create", syscall.E2BIG, "per-CPU value_size %d above %d", s.ValueSize, pcpuMinUnitSize)
	}
	return nil
}

func newHash(info Info, inner *Spec, opts Options) (Map, error) {
	s := &info.Spec
	if err := htabAllocCheck(s); err != nil {
		return nil, err
	}
	h := &hashMap{
		info:     info,
		percpu:   s.Type == BPF_MAP_TYPE_PERCPU_HASH || s.Type == BPF_MAP_TYPE_LRU_PERCPU_HASH,
		lru:      s.Type == BPF_MAP_TYPE_LRU_HASH || s.Type == BPF_MAP_TYPE_LRU_PERCPU_HASH,
		prealloc: s.Flags&BPF_F_NO_PREALLOC == 0,
		ofMaps:   s.Type == BPF_MAP_TYPE_HASH_OF_MAPS,
		ks:       int(s.KeySize),
		ks8:      int(roundUp8(s.KeySize)),
		vs:       int(s.ValueSize),
		es:       int(roundUp8(s.ValueSize)),
		slots:    info.Slots,
		seed:     opts.Seed,
		access:   newAccess(s.Flags),
		policy:   opts.LRU,
	}
	if s.Flags&BPF_F_ZERO_SEED != 0 {
		h.seed = 0
	}
	if h.ofMaps {
		if err := innerCheck(inner); err != nil {
			return nil, err
		}
		h.inner = inner
	}
	max := uint64(s.MaxEntries)
	if s.Flags&BPF_F_NO_COMMON_LRU != 0 {
		// Each CPU's list gets the same number of elements.
		n := uint64(info.Slots)
		r := (max + n - 1) / n * n
		if r > 1<<32-1 {
			r = max / n * n
		}
		max = r
	}
	if max > 1<<31 {
		return nil, errf("create", syscall.E2BIG, "max_entries %d above 2^31", max)
	}
	nb := uint64(1)
	for nb < max {
		nb <<= 1
	}
	if nb > (1<<32-1)/bucketSize {
		return nil, errf("create", syscall.E2BIG, "%d buckets too many", nb)
	}
	h.info.Spec.MaxEntries = uint32(max)
	h.max = uint32(max)
	h.mask = uint32(nb - 1)
	perElem := uint64(h.ks8) + uint64(h.valBytes()) + 96
	storage := nb * 40
	if h.prealloc {
		storage += max * perElem
	}
	if err := checkMemory(storage, opts); err != nil {
		return nil, err
	}
	h.heads = make([]atomic.Pointer[helem], nb)
	h.ends = make([]helem, nb)
	for i := range h.ends {
		h.ends[i].end = true
		h.ends[i].bkt = uint32(i)
		h.heads[i].Store(&h.ends[i])
	}
	if h.prealloc {
		elems := make([]helem, max)
		keys := atomicmem.Alloc(int(max) * h.ks8)
		vals := atomicmem.Alloc(int(max) * h.valBytes())
		h.free = make([]*helem, 0, max)
		vb := h.valBytes()
		for i := int(max) - 1; i >= 0; i-- {
			e := &elems[i]
			e.key = keys[i*h.ks8 : i*h.ks8+h.ks : (i+1)*h.ks8]
			e.val = vals[i*vb : (i+1)*vb : (i+1)*vb]
			h.free = append(h.free, e)
		}
	}
	if h.percpu {
		h.scratch = make([]byte, h.es)
	}
	return h, nil
}

// valBytes is the storage of one element's value.
func (h *hashMap) valBytes() int {
	if h.percpu {
		return h.es * h.slots
	}
	return h.es
}

func (h *hashMap) Info() *Info { return &h.info }

// keyEqual compares an element's key with k, one atomic word at a time.
func keyEqual(ekey, k []byte) bool {
	full := ekey[:cap(ekey)]
	n := len(k)
	i := 0
	for ; i+8 <= n; i += 8 {
		if atomicmem.Load64(full, i) != binary.LittleEndian.Uint64(k[i:]) {
			return false
		}
	}
	if i < n {
		var t [8]byte
		copy(t[:], k[i:])
		if atomicmem.Load64(full, i) != binary.LittleEndian.Uint64(t[:]) {
			return false
		}
	}
	return true
}

// find returns the element of key, or nil, without locking.
func (h *hashMap) find(key []byte, hash uint32) *helem {
	b := hash & h.mask
again:
	for e := h.heads[b].Load(); ; e = e.next.Load() {
		if e.end {
			if e.bkt != b {
				goto again
			}
			return nil
		}
		if e.hash.Load() == hash && keyEqual(e.key, key) {
			return e
		}
	}
}

// slotVal returns slot's part of an element's value.
func (h *hashMap) slotVal(e *helem, slot int) []byte {
	if h.percpu {
		off := slot * h.es
		return e.val[off : off+h.vs : off+h.es]
	}
	return e.val[:h.vs:h.es]
}

func (h *hashMap) Lookup(key []byte, slot uint32) []byte {
	if len(key) != h.ks || int(slot) >= h.slots || h.ofMaps {
		return nil
	}
	e := h.find(key, htabHash(key, h.seed))
	if e == nil {
		return nil
	}
	if h.lru && e.ref.Load() == 0 {
		e.ref.Store(1)
	}
	return h.slotVal(e, int(slot))
}

// LookupSlot is bpf_map_lookup_percpu_elem: slot's value of key in a
// per-CPU hash (marking an LRU element referenced), or nil.
func (h *hashMap) LookupSlot(key []byte, slot uint32) []byte {
	return h.Lookup(key, slot)
}

func (h *hashMap) LookupObject(key []byte) any {
	if len(key) != h.ks || !h.ofMaps {
		return nil
	}
	e := h.find(key, htabHash(key, h.seed))
	if e == nil {
		return nil
	}
	if r := e.obj.Load(); r != nil {
		return r.v
	}
	return nil
}

// unlink removes e from its bucket. Under mu.
func (h *hashMap) unlink(e *helem) {
	b := e.hash.Load() & h.mask
	p := h.heads[b].Load()
	if p == e {
		h.heads[b].Store(e.next.Load())
		return
	}
	for !p.end {
		n := p.next.Load()
		if n == e {
			p.next.Store(e.next.Load())
			return
		}
		p = n
	}
}

// linkHead puts e at the head of bucket b. Under mu.
func (h *hashMap) linkHead(e *helem, b uint32) {
	e.next.Store(h.heads[b].Load())
	h.heads[b].Store(e)
}

// LRU list operations, under mu. lruOld is the eviction end.
func (h *hashMap) lruRemove(e *helem) {
	if e.lprev != nil {
		e.lprev.lnext = e.lnext
	} else {
		h.lruOld = e.lnext
	}
	if e.lnext != nil {
		e.lnext.lprev = e.lprev
	} else {
		h.lruNew = e.lprev
	}
	e.lprev, e.lnext = nil, nil
}

func (h *hashMap) lruPush(e *helem) {
	e.lprev, e.lnext = h.lruNew, nil
	if h.lruNew != nil {
		h.lruNew.lnext = e
	} else {
		h.lruOld = e
	}
	h.lruNew = e
}

// evict removes the policy's victim and returns it for reuse. Under mu;
// the map is full, so the list is not empty.
func (h *hashMap) evict() *helem {
	for {
		e := h.lruOld
		if h.policy == LRUSecondChance && e.ref.Load() != 0 && e != h.lruNew {
			e.ref.Store(0)
			h.lruRemove(e)
			h.lruPush(e)
			continue
		}
		h.lruRemove(e)
		h.unlink(e)
		h.count--
		return e
	}
}

// alloc returns an element for a new key, or an errno. Under mu.
func (h *hashMap) alloc() (*helem, syscall.Errno) {
	if h.prealloc {
		if n := len(h.free); n > 0 {
			e := h.free[n-1]
			h.free = h.free[:n-1]
			return e, 0
		}
		if h.lru {
			return h.evict(), 0
		}
		return nil, syscall.E2BIG
	}
	if h.count >= int(h.max) {
		return nil, syscall.E2BIG
	}
	vb := h.valBytes()
	return &helem{
		key: atomicmem.Alloc(h.ks8)[:h.ks],
		val: atomicmem.Alloc(vb)[:vb],
	}, 0
}

// release returns a removed element to the free list. Under mu.
func (h *hashMap) release(e *helem) {
	e.obj.Store(nil)
	if h.prealloc {
		h.free = append(h.free, e)
	}
}

// setKey writes key into e, zero-padded.
func (h *hashMap) setKey(e *helem, key []byte) {
	full := e.key[:cap(e.key)]
	atomicmem.CopyIn(full, 0, key)
	if h.ks8 > h.ks {
		atomicmem.CopyIn(full, h.ks, make8[:h.ks8-h.ks])
	}
}

var make8 [8]byte

// update implements the program-side update (all false: value is one
// slot's value_size bytes) and the syscall one (all true: per-CPU values
// of every slot). obj is the object of a hash of maps.
func (h *hashMap) update(key, value []byte, flags uint64, slot int, all bool, obj any) syscall.Errno {
	if h.percpu || h.lru {
		if flags > BPF_EXIST {
			return syscall.EINVAL
		}
	} else if flags&^BPF_F_LOCK > BPF_EXIST {
		return syscall.EINVAL
	}
	if len(key) != h.ks {
		return syscall.EINVAL
	}
	if flags&BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	if !h.ofMaps {
		want := h.vs
		if all && h.percpu {
			want = h.valBytes()
		}
		if len(value) != want {
			return syscall.EINVAL
		}
	}
	hash := htabHash(key, h.seed)
	b := hash & h.mask
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.find(key, hash)
	if old != nil && flags == BPF_NOEXIST {
		return syscall.EEXIST
	}
	if old == nil && flags == BPF_EXIST {
		return syscall.ENOENT
	}
	if old != nil {
		h.setValue(old, value, slot, all, false)
		if h.ofMaps {
			old.obj.Store(&objRef{v: obj})
		}
		if !h.percpu {
			// The kernel links a new element at the head and unlinks the
			// old one.
			if h.heads[b].Load() != old {
				h.unlink(old)
				h.linkHead(old, b)
			}
		}
		if h.lru {
			old.ref.Store(1)
			if !h.percpu {
				h.lruRemove(old)
				h.lruPush(old)
			}
		}
		return 0
	}
	e, errno := h.alloc()
	if errno != 0 {
		return errno
	}
	e.hash.Store(hash)
	h.setKey(e, key)
	h.setValue(e, value, slot, all, true)
	if h.ofMaps {
		e.obj.Store(&objRef{v: obj})
	}
	e.ref.Store(0)
	h.linkHead(e, b)
	h.count++
	if h.lru {
		h.lruPush(e)
	}
	return 0
}

// setValue copies value into e: one slot's value (zeroing the other slots
// of a new per-CPU element, as pcpu_init_value does) or all slots.
func (h *hashMap) setValue(e *helem, value []byte, slot int, all, fresh bool) {
	switch {
	case h.ofMaps:
		return
	case !h.percpu:
		atomicmem.CopyIn(e.val, 0, value)
	case all:
		atomicmem.CopyIn(e.val, 0, value)
	default:
		for s := 0; s < h.slots; s++ {
			off := s * h.es
			if s == slot {
				atomicmem.CopyIn(e.val, off, value)
				if h.es > h.vs && fresh {
					atomicmem.CopyIn(e.val, off+h.vs, h.scratch[:h.es-h.vs])
				}
			} else if fresh {
				atomicmem.CopyIn(e.val, off, h.scratch)
			}
		}
	}
}

func (h *hashMap) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	if int(slot) >= h.slots || h.ofMaps {
		return syscall.EINVAL
	}
	return h.update(key, value, flags, int(slot), false, nil)
}

// remove deletes key; it copies the value out first when value is not nil
// (lookup-and-delete). Under no lock.
func (h *hashMap) remove(key, value []byte) syscall.Errno {
	if len(key) != h.ks {
		return syscall.EINVAL
	}
	hash := htabHash(key, h.seed)
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.find(key, hash)
	if e == nil {
		return syscall.ENOENT
	}
	if value != nil {
		h.copyOut(e, value)
	}
	h.unlink(e)
	h.count--
	if h.lru {
		h.lruRemove(e)
	}
	h.release(e)
	return 0
}

func (h *hashMap) Delete(key []byte) syscall.Errno { return h.remove(key, nil) }

func (h *hashMap) SysValueSize() int {
	switch {
	case h.ofMaps:
		return 4
	case h.percpu:
		return h.valBytes()
	}
	return h.vs
}

// copyOut copies an element's value as the syscall returns it.
func (h *hashMap) copyOut(e *helem, value []byte) {
	if h.ofMaps {
		var id uint32
		if r := e.obj.Load(); r != nil {
			if m, ok := r.v.(Map); ok {
				id = m.Info().ID
			}
		}
		putLE32(value, id)
		return
	}
	atomicmem.CopyOut(value, e.val, 0)
}

func (h *hashMap) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(h.access, flags); e != 0 {
		return e
	}
	if len(key) != h.ks || len(value) != h.SysValueSize() {
		return syscall.EINVAL
	}
	e := h.find(key, htabHash(key, h.seed))
	if e == nil {
		return syscall.ENOENT
	}
	h.copyOut(e, value)
	return 0
}

func (h *hashMap) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(h.access, flags); e != 0 {
		return e
	}
	if h.ofMaps {
		// The kernel takes a map fd here; maps are objects in Go.
		return syscall.EBADF
	}
	return h.update(key, value, flags, 0, true, nil)
}

func (h *hashMap) UpdateObject(key []byte, obj any, flags uint64) syscall.Errno {
	if e := sysUpdatePre(h.access, flags); e != 0 {
		return e
	}
	if !h.ofMaps {
		return syscall.EINVAL
	}
	if e := innerMatch(h.inner, obj); e != 0 {
		return e
	}
	return h.update(key, nil, flags, 0, true, obj)
}

func (h *hashMap) SysDelete(key []byte) syscall.Errno {
	if !h.access.canWrite() {
		return syscall.EPERM
	}
	return h.remove(key, nil)
}

// SysNextKey is htab_map_get_next_key: the next element in the same
// bucket, else the first element of the next non-empty bucket; a key that
// is not in the map restarts from the first bucket.
func (h *hashMap) SysNextKey(key, next []byte) syscall.Errno {
	if !h.access.canRead() {
		return syscall.EPERM
	}
	if len(next) != h.ks || key != nil && len(key) != h.ks {
		return syscall.EINVAL
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	i := uint32(0)
	if key != nil {
		hash := htabHash(key, h.seed)
		if e := h.find(key, hash); e != nil {
			if n := e.next.Load(); !n.end {
				atomicmem.CopyOut(next, n.key, 0)
				return 0
			}
			i = (hash & h.mask) + 1
		}
	}
	for b := uint64(i); b <= uint64(h.mask); b++ {
		if e := h.heads[b].Load(); !e.end {
			atomicmem.CopyOut(next, e.key, 0)
			return 0
		}
	}
	return syscall.ENOENT
}

func (h *hashMap) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(h.access, flags, false); e != 0 {
		return e
	}
	if h.ofMaps {
		return ENOTSUPP
	}
	if len(value) != h.SysValueSize() {
		return syscall.EINVAL
	}
	return h.remove(key, value)
}

// Len returns the number of elements.
func (h *hashMap) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// ForEach is bpf_for_each_hash_elem: bucket by bucket, each bucket from
// its head, without a lock (elements changed meanwhile may be seen or
// not, as under RCU in the kernel). The key passed to fn is a copy.
func (h *hashMap) ForEach(slot uint32, fn func(key, value []byte) bool) int {
	if int(slot) >= h.slots || h.ofMaps {
		return 0
	}
	key := make([]byte, h.ks)
	n := 0
	for b := range h.heads {
		for e := h.heads[b].Load(); !e.end; e = e.next.Load() {
			atomicmem.CopyOut(key, e.key, 0)
			n++
			if fn(key, h.slotVal(e, int(slot))) {
				return n
			}
		}
	}
	return n
}
