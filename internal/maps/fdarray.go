package maps

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// fdArray is BPF_MAP_TYPE_PROG_ARRAY, PERF_EVENT_ARRAY and ARRAY_OF_MAPS
// (kernel/bpf/arraymap.c, the fd_array_* functions): an array of object
// slots. User space fills a slot with an object where the kernel takes a
// file descriptor (a program, a perf event buffer, an inner map); programs
// read slots through tail calls, perf_event_output and map lookups.
type fdArray struct {
	info  Info
	max   uint32
	slots []atomic.Pointer[objRef]
	*access
	inner *Spec

	ownerMu sync.Mutex
	owner   uint32 // program type of a prog array, 0 until the first user
}

// fdArrayAllocCheck is fd_array_map_alloc_check.
func fdArrayAllocCheck(s *Spec) error {
	if s.ValueSize != 4 {
		return errf("create", syscall.EINVAL, "value_size %d: fd arrays hold 4-byte fds", s.ValueSize)
	}
	if s.Flags&(BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG) != 0 {
		return errf("create", syscall.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are not for fd arrays")
	}
	return arrayAllocCheck(s)
}

func newFdArray(info Info, inner *Spec, opts Options) (Map, error) {
	s := &info.Spec
	if err := fdArrayAllocCheck(s); err != nil {
		return nil, err
	}
	if s.Type == BPF_MAP_TYPE_ARRAY_OF_MAPS {
		if err := innerCheck(inner); err != nil {
			return nil, err
		}
	}
	if err := checkMemory(uint64(s.MaxEntries)*8, opts); err != nil {
		return nil, err
	}
	return &fdArray{
		info:   info,
		max:    s.MaxEntries,
		slots:  make([]atomic.Pointer[objRef], s.MaxEntries),
		access: newAccess(s.Flags),
		inner:  inner,
	}, nil
}

// innerCheck is bpf_map_meta_alloc: the template of a map-in-map's values.
func innerCheck(inner *Spec) error {
	if inner == nil {
		return errf("create", syscall.EINVAL, "map-in-map needs an inner map")
	}
	switch inner.Type {
	case BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS:
		return errf("create", syscall.EINVAL, "inner map is itself a map-in-map")
	case BPF_MAP_TYPE_PROG_ARRAY:
		return errf("create", ENOTSUPP, "a prog array cannot be an inner map")
	}
	return nil
}

// innerMatch is bpf_map_meta_equal (array_map_meta_equal for arrays): obj
// must be a Map of the template's type, sizes and flags.
func innerMatch(inner *Spec, obj any) syscall.Errno {
	m, ok := obj.(Map)
	if !ok || inner == nil {
		return syscall.EINVAL
	}
	s := &m.Info().Spec
	const perm = ^uint32(BPF_F_RDONLY | BPF_F_WRONLY)
	if s.Type != inner.Type || s.KeySize != inner.KeySize || s.ValueSize != inner.ValueSize ||
		s.Flags&perm != inner.Flags&perm {
		return syscall.EINVAL
	}
	if inner.Type == BPF_MAP_TYPE_ARRAY && inner.Flags&BPF_F_INNER_MAP == 0 && s.MaxEntries != inner.MaxEntries {
		return syscall.EINVAL
	}
	return 0
}

func (a *fdArray) Info() *Info { return &a.info }

// index returns the slot of key, or false.
func (a *fdArray) index(key []byte) (uint32, bool) {
	if len(key) != 4 {
		return 0, false
	}
	i := le32(key)
	return i, i < a.max
}

// Lookup returns nil: programs read fd arrays through LookupObject (map
// in map), TailCallTarget or perf_event_output, never as memory.
func (a *fdArray) Lookup(key []byte, slot uint32) []byte { return nil }

// Update is rejected: programs cannot write fd arrays (the verifier
// refuses the call).
func (a *fdArray) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	return syscall.EINVAL
}

// Delete is fd_array_map_delete_elem: E2BIG out of range, ENOENT for an
// empty slot.
func (a *fdArray) Delete(key []byte) syscall.Errno {
	if len(key) != 4 {
		return syscall.EINVAL
	}
	i, ok := a.index(key)
	if !ok {
		return syscall.E2BIG
	}
	if a.slots[i].Swap(nil) == nil {
		return syscall.ENOENT
	}
	return 0
}

// LookupObject returns the object in slot key, or nil.
func (a *fdArray) LookupObject(key []byte) any {
	i, ok := a.index(key)
	if !ok {
		return nil
	}
	if r := a.slots[i].Load(); r != nil {
		return r.v
	}
	return nil
}

// At returns the object in slot i, or nil: the tail call's and
// perf_event_output's read of the array.
func (a *fdArray) At(i uint32) any {
	if i >= a.max {
		return nil
	}
	if r := a.slots[i].Load(); r != nil {
		return r.v
	}
	return nil
}

// Compatible is bpf_prog_map_compatible for a prog array: the first
// program type that uses the array owns it, later ones must match.
func (a *fdArray) Compatible(progType uint32) bool {
	a.ownerMu.Lock()
	defer a.ownerMu.Unlock()
	if a.owner == 0 {
		a.owner = progType + 1
		return true
	}
	return a.owner == progType+1
}

func (a *fdArray) SysValueSize() int { return 4 }

// SysLookup is bpf_fd_array_map_lookup_elem: the program id of a prog
// array slot, the map id of an array of maps; perf event arrays have no
// syscall lookup (ENOTSUPP).
func (a *fdArray) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(a.access, flags); e != 0 {
		return e
	}
	if len(key) != 4 || len(value) != 4 {
		return syscall.EINVAL
	}
	if a.info.Spec.Type == BPF_MAP_TYPE_PERF_EVENT_ARRAY {
		return ENOTSUPP
	}
	obj := a.LookupObject(key)
	if obj == nil {
		return syscall.ENOENT
	}
	var id uint32
	switch o := obj.(type) {
	case Program:
		id = o.ProgramID()
	case Map:
		id = o.Info().ID
	}
	putLE32(value, id)
	return 0
}

// SysUpdate checks flags and index as bpf_fd_array_map_update_elem does
// and then fails with EBADF: the slots hold objects, which UpdateObject
// stores, where the kernel reads a file descriptor from the value.
func (a *fdArray) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(a.access, flags); e != 0 {
		return e
	}
	if flags != BPF_ANY || len(key) != 4 || len(value) != 4 {
		return syscall.EINVAL
	}
	if _, ok := a.index(key); !ok {
		return syscall.E2BIG
	}
	return syscall.EBADF
}

// UpdateObject is bpf_fd_array_map_update_elem with the object the fd
// stands for.
func (a *fdArray) UpdateObject(key []byte, obj any, flags uint64) syscall.Errno {
	if e := sysUpdatePre(a.access, flags); e != 0 {
		return e
	}
	if flags != BPF_ANY {
		return syscall.EINVAL
	}
	i, ok := a.index(key)
	if len(key) != 4 {
		return syscall.EINVAL
	}
	if !ok {
		return syscall.E2BIG
	}
	switch a.info.Spec.Type {
	case BPF_MAP_TYPE_PROG_ARRAY:
		p, ok := obj.(Program)
		if !ok || p == nil {
			return syscall.EINVAL
		}
		if !a.Compatible(p.ProgramType()) {
			return syscall.EINVAL
		}
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		if e := innerMatch(a.inner, obj); e != 0 {
			return e
		}
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
		pb, ok := obj.(*PerfBuffer)
		if !ok || pb == nil {
			return syscall.EINVAL
		}
	}
	a.slots[i].Store(&objRef{v: obj})
	return 0
}

func (a *fdArray) SysDelete(key []byte) syscall.Errno {
	if !a.access.canWrite() {
		return syscall.EPERM
	}
	return a.Delete(key)
}

func (a *fdArray) SysNextKey(key, next []byte) syscall.Errno {
	if !a.access.canRead() {
		return syscall.EPERM
	}
	return arrayNextKey(a.max, key, next)
}

func (a *fdArray) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(a.access, flags, false); e != 0 {
		return e
	}
	return ENOTSUPP
}
