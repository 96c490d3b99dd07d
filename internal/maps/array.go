package maps

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// arrayMap is BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY
// (kernel/bpf/arraymap.c): max_entries preallocated, zeroed values of
// round_up(value_size, 8) bytes (times the slots for per-CPU arrays),
// indexed by a u32 key. Nothing is ever allocated or locked after New.
type arrayMap struct {
	info   Info
	percpu bool
	vs     int    // value_size
	es     int    // element stride: round_up(value_size, 8)
	max    uint32 // max_entries
	slots  int
	mem    []byte // atomicmem storage
	*access
}

const arrayCreateFlags = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | bpfFAccessMask |
	BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP

// arrayAllocCheck is array_map_alloc_check.
func arrayAllocCheck(s *Spec) error {
	percpu := s.Type == BPF_MAP_TYPE_PERCPU_ARRAY
	switch {
	case s.MaxEntries == 0:
		return errf("create", syscall.EINVAL, "max_entries is 0")
	case s.KeySize != 4:
		return errf("create", syscall.EINVAL, "key_size %d: array keys are 4 bytes", s.KeySize)
	case s.ValueSize == 0:
		return errf("create", syscall.EINVAL, "value_size is 0")
	case s.Flags&^arrayCreateFlags != 0:
		return errf("create", syscall.EINVAL, "map_flags %#x not allowed for this type", s.Flags)
	case !accessOK(s.Flags):
		return errf("create", syscall.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case percpu && s.Flags&BPF_F_NUMA_NODE != 0:
		return errf("create", syscall.EINVAL, "per-CPU maps take no NUMA node")
	case s.Type != BPF_MAP_TYPE_ARRAY && s.Flags&(BPF_F_MMAPABLE|BPF_F_INNER_MAP) != 0:
		return errf("create", syscall.EINVAL, "BPF_F_MMAPABLE and BPF_F_INNER_MAP are for plain arrays")
	case s.Type != BPF_MAP_TYPE_PERF_EVENT_ARRAY && s.Flags&BPF_F_PRESERVE_ELEMS != 0:
		return errf("create", syscall.EINVAL, "BPF_F_PRESERVE_ELEMS is for perf event arrays")
	case s.ValueSize > 1<<31-1:
		return errf("create", syscall.E2BIG, "value_size %d above INT_MAX", s.ValueSize)
	case percpu && roundUp8(s.ValueSize) > pcpuMinUnitSize:
		return errf("create", syscall.E2BIG, "per-CPU value_size %d above %d", s.ValueSize, pcpuMinUnitSize)
	}
	return nil
}

func newArray(info Info, opts Options) (Map, error) {
	s := &info.Spec
	if err := arrayAllocCheck(s); err != nil {
		return nil, err
	}
	a := &arrayMap{
		info:   info,
		percpu: s.Type == BPF_MAP_TYPE_PERCPU_ARRAY,
		vs:     int(s.ValueSize),
		es:     int(roundUp8(s.ValueSize)),
		max:    s.MaxEntries,
		slots:  info.Slots,
		access: newAccess(s.Flags),
	}
	n := uint64(a.es) * uint64(a.max)
	if a.percpu {
		n *= uint64(a.slots)
	}
	if err := checkMemory(n, opts); err != nil {
		return nil, err
	}
	a.mem = atomicmem.Alloc(int(n))
	return a, nil
}

func (a *arrayMap) Info() *Info { return &a.info }

// elem returns the offset of index idx for slot.
func (a *arrayMap) elem(idx uint32, slot int) int {
	if a.percpu {
		return (int(idx)*a.slots + slot) * a.es
	}
	return int(idx) * a.es
}

func (a *arrayMap) Lookup(key []byte, slot uint32) []byte {
	if len(key) != 4 || int(slot) >= a.slots {
		return nil
	}
	idx := le32(key)
	if idx >= a.max {
		return nil
	}
	off := a.elem(idx, int(slot))
	return a.mem[off : off+a.vs : off+a.es]
}

// LookupSlot is bpf_map_lookup_percpu_elem for per-CPU arrays (and
// Lookup for plain ones): the value of another slot, or nil when the slot
// or index is out of range.
func (a *arrayMap) LookupSlot(key []byte, slot uint32) []byte {
	return a.Lookup(key, slot)
}

// update is array_map_update_elem (program side, and the syscall for plain
// arrays).
func (a *arrayMap) update(key, value []byte, flags uint64, slot int, all bool) syscall.Errno {
	if len(key) != 4 {
		return syscall.EINVAL
	}
	if flags&^BPF_F_LOCK > BPF_EXIST || (all && flags > BPF_EXIST) {
		return syscall.EINVAL
	}
	idx := le32(key)
	if idx >= a.max {
		return syscall.E2BIG
	}
	if flags&BPF_NOEXIST != 0 {
		return syscall.EEXIST
	}
	if flags&BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	if all {
		if len(value) != a.SysValueSize() {
			return syscall.EINVAL
		}
		for s := 0; s < a.slots; s++ {
			atomicmem.CopyIn(a.mem, a.elem(idx, s), value[s*a.es:(s+1)*a.es])
		}
		return 0
	}
	if len(value) != a.vs {
		return syscall.EINVAL
	}
	atomicmem.CopyIn(a.mem, a.elem(idx, slot), value)
	return 0
}

func (a *arrayMap) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	if int(slot) >= a.slots {
		return syscall.EINVAL
	}
	return a.update(key, value, flags, int(slot), false)
}

func (a *arrayMap) Delete(key []byte) syscall.Errno { return syscall.EINVAL }

func (a *arrayMap) SysValueSize() int {
	if a.percpu {
		return a.es * a.slots
	}
	return a.vs
}

func (a *arrayMap) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(a.access, flags); e != 0 {
		return e
	}
	if len(key) != 4 || len(value) != a.SysValueSize() {
		return syscall.EINVAL
	}
	idx := le32(key)
	if idx >= a.max {
		return syscall.ENOENT
	}
	if a.percpu {
		for s := 0; s < a.slots; s++ {
			atomicmem.CopyOut(value[s*a.es:(s+1)*a.es], a.mem, a.elem(idx, s))
		}
		return 0
	}
	atomicmem.CopyOut(value, a.mem, a.elem(idx, 0))
	return 0
}

func (a *arrayMap) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(a.access, flags); e != 0 {
		return e
	}
	return a.update(key, value, flags, 0, a.percpu)
}

func (a *arrayMap) SysDelete(key []byte) syscall.Errno {
	if !a.access.canWrite() {
		return syscall.EPERM
	}
	return syscall.EINVAL
}

func (a *arrayMap) SysNextKey(key, next []byte) syscall.Errno {
	if !a.access.canRead() {
		return syscall.EPERM
	}
	return arrayNextKey(a.max, key, next)
}

// arrayNextKey is array_map_get_next_key.
func arrayNextKey(max uint32, key, next []byte) syscall.Errno {
	if len(next) != 4 || key != nil && len(key) != 4 {
		return syscall.EINVAL
	}
	idx := uint32(1<<32 - 1)
	if key != nil {
		idx = le32(key)
	}
	if idx >= max {
		putLE32(next, 0)
		return 0
	}
	if idx == max-1 {
		return syscall.ENOENT
	}
	putLE32(next, idx+1)
	return 0
}

func (a *arrayMap) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(a.access, flags, false); e != 0 {
		return e
	}
	return ENOTSUPP
}

// Values returns the whole storage of a plain array with max_entries 1 as
// BPF_PSEUDO_MAP_VALUE needs it (array_map_direct_value_addr): nil for any
// other array.
func (a *arrayMap) DirectValue() []byte {
	if a.percpu || a.max != 1 {
		return nil
	}
	return a.mem[:a.vs:a.es]
}

// ForEach is bpf_for_each_array_elem.
func (a *arrayMap) ForEach(slot uint32, fn func(key, value []byte) bool) int {
	if int(slot) >= a.slots {
		return 0
	}
	var key [4]byte
	n := 0
	for i := uint32(0); i < a.max; i++ {
		putLE32(key[:], i)
		off := a.elem(i, int(slot))
		n++
		if fn(key[:], a.mem[off:off+a.vs:off+a.es]) {
			break
		}
	}
	return n
}
