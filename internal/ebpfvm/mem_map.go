package ebpfvm

import (
	"errors"
	"unsafe"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// Map value memory. Every region with an id at or above regStatic is map
// value memory shared with other runs and with Go code: the static regions
// the Linker hands out for global data (BPF_PSEUDO_MAP_VALUE) and the
// dynamic regions helpers create for the values they return
// (bpf_map_lookup_elem). Loads and stores to such regions go through
// package atomicmem, so each access of the program's width is one atomic
// access (or a compare-and-swap on its containing word for bytes and
// halfwords) and concurrent runs and Go callers stay free of data races;
// BPF_ATOMIC instructions on them are sync/atomic operations.
//
// Dynamic regions live in a fixed table of DynamicRegions entries per
// machine, after the static ones. A helper that returns a map value calls
// MapValue, which reuses the entry already created in this run for the
// same memory or takes the next free one; the table is emptied when the
// run ends. Creating a region allocates nothing. A run that touches more
// than DynamicRegions distinct values ends with ErrTooManyValues.

// DynamicRegions is how many distinct map values one run can hold
// pointers to.
const DynamicRegions = 256

// ErrTooManyValues is the cause of the helper error a run gets when it
// obtains pointers to more than DynamicRegions distinct map values.
var ErrTooManyValues = errors.New("ebpfvm: more distinct map values in one run than the region table holds")

// errNotShared reports memory that package atomicmem cannot operate on.
var errNotShared = errors.New("ebpfvm: map value memory is not 8-byte aligned atomicmem memory")

// dynState is the machine's table of dynamic map value regions and of
// map handles helpers hand out (inner maps of map-in-maps).
type dynState struct {
	first int // index in Machine.regions of the first dynamic region
	used  int // entries taken in this run
	objs  [DynamicHandles]any
	nobjs int
}

// DynamicHandles is how many distinct maps one run can get handles to
// from helpers (bpf_map_lookup_elem on an array or hash of maps).
const DynamicHandles = 64

// MapHandle returns a handle the program can pass to helpers for obj (an
// inner map a map-in-map lookup found), as LD_IMM64 handles are; helpers
// get obj back through Object. The handle is valid until the run ends.
// obj must be comparable (the maps are pointers).
func (m *Machine) MapHandle(obj any) (uint64, error) {
	d := &m.dyn
	for i := 0; i < d.nobjs; i++ {
		if d.objs[i] == obj {
			return uint64(handleTag)<<32 | uint64(len(m.prog.objects)+i), nil
		}
	}
	if d.nobjs == DynamicHandles {
		return 0, ErrTooManyValues
	}
	d.objs[d.nobjs] = obj
	d.nobjs++
	return uint64(handleTag)<<32 | uint64(len(m.prog.objects)+d.nobjs-1), nil
}

// dynObject returns dynamic handle i's object.
func (m *Machine) dynObject(i uint32) (any, bool) {
	if i >= uint32(m.dyn.nobjs) {
		return nil, false
	}
	return m.dyn.objs[i], true
}

// isMapAddr reports whether address a is in a map value region (static or
// dynamic), whose accesses must be atomic.
func isMapAddr(a uint64) bool {
	return uint32(a>>32)-regionTag >= regStatic && uint32(a>>32) >= regionTag
}

// MapValue returns a pointer the program can use to the map value memory
// mem (as bpf_map_lookup_elem returns it), read-only when ro is set
// (BPF_F_RDONLY_PROG). mem must be atomicmem memory: its first byte
// 8-byte aligned and its capacity a multiple of 8, as map values are.
// A nil mem returns 0, the kernel's NULL.
func (m *Machine) MapValue(mem []byte, ro bool) (uint64, error) {
	if mem == nil {
		return 0, nil
	}
	if !atomicmem.Valid(mem) || len(mem) >= 1<<31 {
		return 0, errNotShared
	}
	d := &m.dyn
	p := unsafe.SliceData(mem)
	for i := d.first; i < d.first+d.used; i++ {
		rg := &m.regions[i]
		if unsafe.SliceData(rg.mem) == p && len(rg.mem) == len(mem) && rg.ro == ro {
			return addrOf(i, 0), nil
		}
	}
	if d.used == DynamicRegions {
		return 0, ErrTooManyValues
	}
	i := d.first + d.used
	d.used++
	m.regions[i] = region{mem: mem, ro: ro}
	return addrOf(i, 0), nil
}

// resetDynamic empties the dynamic region table at the end of a run, so
// that the machine keeps no reference to map memory, and forgets the tail
// call count.
func (m *Machine) resetDynamic() {
	d := &m.dyn
	clear(m.regions[d.first : d.first+d.used])
	d.used = 0
	clear(d.objs[:d.nobjs])
	d.nobjs = 0
	m.tail.count = 0
}

// accessAny is access for every region kind; callers that read or write
// the bytes of a map value region must use atomicmem on the result.
func (m *Machine) accessAny(a uint64, size uint32, write bool) []byte {
	id := uint32(a>>32) - regionTag
	if id >= uint32(len(m.regions)) {
		return nil
	}
	rg := &m.regions[id]
	o := uint32(a)
	if o < rg.lo || uint64(o)+uint64(size) > uint64(len(rg.mem)) || (write && rg.ro) {
		return nil
	}
	return rg.mem[o : o+size : o+size]
}

// mapRegion returns the map value region and offset of an access of size
// bytes at a, or nil.
func (m *Machine) mapRegion(a uint64, size uint32, write bool) ([]byte, int) {
	id := uint32(a>>32) - regionTag
	if id >= uint32(len(m.regions)) || id < regStatic {
		return nil, 0
	}
	rg := &m.regions[id]
	o := uint32(a)
	if o < rg.lo || uint64(o)+uint64(size) > uint64(len(rg.mem)) || (write && rg.ro) {
		return nil, 0
	}
	return rg.mem, int(o)
}

// ldMap is a load of size bytes from a map value region.
func (m *Machine) ldMap(a uint64, size uint32) (uint64, bool) {
	mem, o := m.mapRegion(a, size, false)
	if mem == nil {
		return 0, false
	}
	return atomicmem.Load(mem, o, int(size)), true
}

// stMap is a store of size bytes to a map value region.
func (m *Machine) stMap(a uint64, size uint32, v uint64) bool {
	mem, o := m.mapRegion(a, size, true)
	if mem == nil {
		return false
	}
	atomicmem.Store(mem, o, int(size), v)
	return true
}

// Read copies len(dst) bytes of program memory at addr into dst, with the
// check a load gets, for helpers that take a pointer to memory the
// program initialised (ARG_PTR_TO_MEM, keys, values). Map value memory is
// read word by word through atomicmem. ok is false when the range is not
// inside one readable region.
func (m *Machine) Read(dst []byte, addr uint64) bool {
	n := len(dst)
	if n == 0 {
		return true
	}
	if n > 1<<30 {
		return false
	}
	if isMapAddr(addr) {
		mem, o := m.mapRegion(addr, uint32(n), false)
		if mem == nil {
			return false
		}
		atomicmem.CopyOut(dst, mem, o)
		return true
	}
	b := m.access(addr, uint32(n), false)
	if b == nil {
		return false
	}
	copy(dst, b)
	return true
}

// Write copies src into program memory at addr, with the check a store
// gets, for helpers that fill memory the program passed
// (ARG_PTR_TO_UNINIT_MEM). ok is false when the range is not inside one
// writable region.
func (m *Machine) Write(addr uint64, src []byte) bool {
	n := len(src)
	if n == 0 {
		return true
	}
	if n > 1<<30 {
		return false
	}
	if isMapAddr(addr) {
		mem, o := m.mapRegion(addr, uint32(n), true)
		if mem == nil {
			return false
		}
		atomicmem.CopyIn(mem, o, src)
		return true
	}
	b := m.access(addr, uint32(n), true)
	if b == nil {
		return false
	}
	copy(b, src)
	return true
}

// Scratch returns n bytes of per-machine memory for helper i's temporary
// copies (0 <= i < 4), valid until the next call of Scratch with the same
// i. It allocates only when n exceeds every earlier request for i.
func (m *Machine) Scratch(i, n int) []byte {
	s := &m.scratch[i&3]
	if cap(*s) < n {
		*s = make([]byte, n)
	}
	return (*s)[:n]
}

// RegionAt returns the memory of the map value region addr points into
// and addr's offset in it, for helpers that take back a pointer they
// handed out with MapValue (bpf_ringbuf_submit and discard,
// bpf_spin_lock). ok is false for an address outside every map value
// region.
func (m *Machine) RegionAt(addr uint64) (mem []byte, off uint32, ok bool) {
	if !isMapAddr(addr) {
		return nil, 0, false
	}
	id := uint32(addr>>32) - regionTag
	if id >= uint32(len(m.regions)) {
		return nil, 0, false
	}
	rg := &m.regions[id]
	if rg.mem == nil || uint32(addr) >= uint32(len(rg.mem)) {
		return nil, 0, false
	}
	return rg.mem, uint32(addr), true
}
