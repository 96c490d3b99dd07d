package maps

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
)

// Type is a map type, enum bpf_map_type of include/uapi/linux/bpf.h.
type Type uint32

// The map types this package implements, spelled as the kernel spells them.
const (
	BPF_MAP_TYPE_UNSPEC           Type = 0
	BPF_MAP_TYPE_HASH             Type = 1
	BPF_MAP_TYPE_ARRAY            Type = 2
	BPF_MAP_TYPE_PROG_ARRAY       Type = 3
	BPF_MAP_TYPE_PERF_EVENT_ARRAY Type = 4
	BPF_MAP_TYPE_PERCPU_HASH      Type = 5
	BPF_MAP_TYPE_PERCPU_ARRAY     Type = 6
	BPF_MAP_TYPE_LRU_HASH         Type = 9
	BPF_MAP_TYPE_LRU_PERCPU_HASH  Type = 10
	BPF_MAP_TYPE_LPM_TRIE         Type = 11
	BPF_MAP_TYPE_ARRAY_OF_MAPS    Type = 12
	BPF_MAP_TYPE_HASH_OF_MAPS     Type = 13
	BPF_MAP_TYPE_QUEUE            Type = 22
	BPF_MAP_TYPE_STACK            Type = 23
	BPF_MAP_TYPE_RINGBUF          Type = 27
	// BPF_MAP_TYPE_MAX is one past the last type the kernel this package
	// follows knows (BPF_MAP_TYPE_ARENA is 33): types below it that this
	// package lacks are ENOTSUPP-free EINVAL rejections, as in a kernel
	// built without them.
	BPF_MAP_TYPE_MAX Type = 34
)

var typeNames = map[Type]string{
	BPF_MAP_TYPE_UNSPEC: "BPF_MAP_TYPE_UNSPEC", BPF_MAP_TYPE_HASH: "BPF_MAP_TYPE_HASH",
	BPF_MAP_TYPE_ARRAY: "BPF_MAP_TYPE_ARRAY", BPF_MAP_TYPE_PROG_ARRAY: "BPF_MAP_TYPE_PROG_ARRAY",
	BPF_MAP_TYPE_PERF_EVENT_ARRAY: "BPF_MAP_TYPE_PERF_EVENT_ARRAY", BPF_MAP_TYPE_PERCPU_HASH: "BPF_MAP_TYPE_PERCPU_HASH",
	BPF_MAP_TYPE_PERCPU_ARRAY: "BPF_MAP_TYPE_PERCPU_ARRAY", BPF_MAP_TYPE_LRU_HASH: "BPF_MAP_TYPE_LRU_HASH",
	BPF_MAP_TYPE_LRU_PERCPU_HASH: "BPF_MAP_TYPE_LRU_PERCPU_HASH", BPF_MAP_TYPE_LPM_TRIE: "BPF_MAP_TYPE_LPM_TRIE",
	BPF_MAP_TYPE_ARRAY_OF_MAPS: "BPF_MAP_TYPE_ARRAY_OF_MAPS", BPF_MAP_TYPE_HASH_OF_MAPS: "BPF_MAP_TYPE_HASH_OF_MAPS",
	BPF_MAP_TYPE_QUEUE: "BPF_MAP_TYPE_QUEUE", BPF_MAP_TYPE_STACK: "BPF_MAP_TYPE_STACK",
	BPF_MAP_TYPE_RINGBUF: "BPF_MAP_TYPE_RINGBUF",
}

// String returns the kernel's name of the type, or "BPF_MAP_TYPE(n)".
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("BPF_MAP_TYPE(%d)", uint32(t))
}

// Update flags (the flags argument of bpf_map_update_elem and
// BPF_MAP_UPDATE_ELEM; BPF_F_LOCK also for lookups).
const (
	BPF_ANY     = 0
	BPF_NOEXIST = 1
	BPF_EXIST   = 2
	BPF_F_LOCK  = 4
)

// Creation flags (map_flags of BPF_MAP_CREATE).
const (
	BPF_F_NO_PREALLOC    = 1 << 0
	BPF_F_NO_COMMON_LRU  = 1 << 1
	BPF_F_NUMA_NODE      = 1 << 2
	BPF_F_RDONLY         = 1 << 3
	BPF_F_WRONLY         = 1 << 4
	BPF_F_STACK_BUILD_ID = 1 << 5
	BPF_F_ZERO_SEED      = 1 << 6
	BPF_F_RDONLY_PROG    = 1 << 7
	BPF_F_WRONLY_PROG    = 1 << 8
	BPF_F_CLONE          = 1 << 9
	BPF_F_MMAPABLE       = 1 << 10
	BPF_F_PRESERVE_ELEMS = 1 << 11
	BPF_F_INNER_MAP      = 1 << 12

	bpfFAccessMask = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG
)

// Kernel limits the creation checks use (include/linux/slab.h,
// include/linux/percpu.h, kernel/bpf/*.c; x86-64 values, verified on Linux
// 6.18).
const (
	// kmallocMaxSize is KMALLOC_MAX_SIZE: 1 << (MAX_PAGE_ORDER + PAGE_SHIFT).
	kmallocMaxSize = 1 << 22
	// pcpuMinUnitSize is PCPU_MIN_UNIT_SIZE, the bound on per-CPU values.
	pcpuMinUnitSize = 32 << 10
	// htabElemSize is sizeof(struct htab_elem).
	htabElemSize = 48
	// lpmNodeSize is sizeof(struct lpm_trie_node).
	lpmNodeSize = 24
	// PageSize is the page size ring buffer sizes are checked against and
	// record headers count in (PAGE_SIZE on x86-64).
	PageSize = 4096
	// bucketSize is sizeof(struct bucket) of the hash table.
	bucketSize = 16
)

// DefaultMaxMemory bounds the memory one map may preallocate unless
// Options.MaxMemory says otherwise: a map the kernel would build in a
// vmalloc area of many gigabytes fails here with ENOMEM, the errno the
// kernel returns when that allocation fails.
const DefaultMaxMemory = 1 << 30

// Spec describes a map as BPF_MAP_CREATE's attributes do.
type Spec struct {
	Type       Type
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// Name is map_name: at most 15 characters from [A-Za-z0-9_.].
	Name string
	// Inner is the template of the maps a map-in-map holds (the map the
	// kernel's inner_map_fd names); nil for other types.
	Inner *Spec
}

// LRUPolicy chooses which element an LRU map evicts when it is full.
type LRUPolicy uint8

// Eviction policies. Both are deterministic: the same sequence of
// operations evicts the same elements.
const (
	// LRUSecondChance evicts the least recently inserted element whose
	// reference bit is clear, clearing the bits of (and moving to the
	// recent end) those it passes. Lookups set the bit, as the kernel's
	// bpf_lru_node_set_ref does. This is the default.
	LRUSecondChance LRUPolicy = iota
	// LRUInsertionOrder evicts the least recently inserted or updated
	// element and ignores lookups.
	LRUInsertionOrder
)

// Options are the host-side choices a map makes where the kernel's are
// random or machine-dependent.
type Options struct {
	// Slots is the number of execution slots (possible CPUs) per-CPU
	// storage holds; 0 means runtime.GOMAXPROCS(0).
	Slots int
	// Seed is the hash seed (htab->hashrnd). The kernel draws it at random
	// unless BPF_F_ZERO_SEED is set; here it is this value, 0 by default,
	// so that iteration order is reproducible and, with seed 0, the
	// kernel's order under BPF_F_ZERO_SEED.
	Seed uint32
	// LRU is the eviction policy of LRU maps.
	LRU LRUPolicy
	// ID is the map id; 0 takes the next one of a process-wide counter.
	ID uint32
	// MaxMemory bounds preallocated storage; 0 means DefaultMaxMemory.
	MaxMemory int64
}

var nextID atomic.Uint32

// Info is what every map knows about itself.
type Info struct {
	Spec  Spec
	Slots int
	ID    uint32
	// Owner is the value that wraps the map for its users (the public
	// *ebpf.Map), set once by its creator before the map is shared, so
	// that a map found inside a map-in-map leads back to it.
	Owner any
}

// Error is a failure with the kernel's errno and a message saying what
// was wrong.
type Error struct {
	Op    string // "create", "update", ...
	Msg   string
	Errno syscall.Errno
}

// Error returns "maps: op: msg: errno".
func (e *Error) Error() string {
	return fmt.Sprintf("maps: %s: %s: %v", e.Op, e.Msg, e.Errno)
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }

// ENOTSUPP is the kernel's internal ENOTSUPP (524), which BPF syscalls do
// return to user space for operations a map type lacks; syscall has no
// name for it.
const ENOTSUPP = syscall.Errno(524)

func errf(op string, errno syscall.Errno, format string, args ...any) *Error {
	return &Error{Op: op, Msg: fmt.Sprintf(format, args...), Errno: errno}
}

// Map is the interface every map type implements. Program-side methods
// are the helpers' view (bpf_map_*_elem called from a program running on
// an execution slot); Sys methods are the bpf(2) syscall's view, which
// differs for per-CPU values (all slots at once), for lookups of missing
// keys (ENOENT instead of NULL) and for fd maps (ids instead of pointers).
//
// Keys and values are byte slices of exactly the map's sizes; another
// length is EINVAL (the kernel reads the size it knows from a pointer).
type Map interface {
	// Info returns the map's spec, slot count and id.
	Info() *Info

	// Lookup is bpf_map_lookup_elem: the value memory of key for slot,
	// or nil. The slice aliases the map's storage (use package atomicmem
	// to access it) and stays valid after the element is deleted.
	Lookup(key []byte, slot uint32) []byte
	// Update is bpf_map_update_elem from a program on slot: 0 or errno.
	Update(key, value []byte, flags uint64, slot uint32) syscall.Errno
	// Delete is bpf_map_delete_elem: 0 or errno.
	Delete(key []byte) syscall.Errno

	// SysValueSize is the size of a value in the Sys methods:
	// round_up(value_size, 8) * slots for per-CPU maps, 4 for fd maps,
	// value_size otherwise.
	SysValueSize() int
	// SysLookup is BPF_MAP_LOOKUP_ELEM.
	SysLookup(key, value []byte, flags uint64) syscall.Errno
	// SysUpdate is BPF_MAP_UPDATE_ELEM.
	SysUpdate(key, value []byte, flags uint64) syscall.Errno
	// SysDelete is BPF_MAP_DELETE_ELEM.
	SysDelete(key []byte) syscall.Errno
	// SysNextKey is BPF_MAP_GET_NEXT_KEY; key nil asks for the first key.
	SysNextKey(key, next []byte) syscall.Errno
	// SysLookupAndDelete is BPF_MAP_LOOKUP_AND_DELETE_ELEM.
	SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno
	// Freeze is BPF_MAP_FREEZE.
	Freeze() syscall.Errno
	// Frozen reports whether the map is frozen.
	Frozen() bool
}

// New checks spec as BPF_MAP_CREATE does (map_create and the type's
// map_alloc_check / map_alloc) and returns the map. Errors are *Error with
// the kernel's errno.
func New(spec *Spec, opts Options) (Map, error) {
	if spec == nil {
		return nil, errf("create", syscall.EINVAL, "nil spec")
	}
	if err := checkCommon(spec); err != nil {
		return nil, err
	}
	info := Info{Spec: *spec, Slots: opts.Slots, ID: opts.ID}
	info.Spec.Inner = nil
	if info.Slots <= 0 {
		info.Slots = runtime.GOMAXPROCS(0)
	}
	if info.Slots > 1<<16 {
		return nil, errf("create", syscall.EINVAL, "%d slots (limit 65536)", info.Slots)
	}
	if info.ID == 0 {
		info.ID = nextID.Add(1)
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	switch spec.Type {
	case BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY:
		return newArray(info, opts)
	case BPF_MAP_TYPE_PROG_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return newFdArray(info, spec.Inner, opts)
	case BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH,
		BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_HASH_OF_MAPS:
		return newHash(info, spec.Inner, opts)
	case BPF_MAP_TYPE_LPM_TRIE:
		return newTrie(info, opts)
	case BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK:
		return newQueue(info, opts)
	case BPF_MAP_TYPE_RINGBUF:
		return newRingBuf(info, opts)
	}
	if spec.Type == BPF_MAP_TYPE_UNSPEC || spec.Type >= BPF_MAP_TYPE_MAX {
		return nil, errf("create", syscall.EINVAL, "unknown map type %d", spec.Type)
	}
	return nil, errf("create", syscall.EINVAL, "map type %d is not implemented in userspace", spec.Type)
}

// checkCommon applies map_create's checks that come before the type's own.
func checkCommon(spec *Spec) error {
	if len(spec.Name) >= 16 {
		return errf("create", syscall.EINVAL, "map name %q longer than 15 characters", spec.Name)
	}
	for i := 0; i < len(spec.Name); i++ {
		c := spec.Name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return errf("create", syscall.EINVAL, "map name %q: character %q not allowed", spec.Name, c)
		}
	}
	if spec.Flags&BPF_F_RDONLY != 0 && spec.Flags&BPF_F_WRONLY != 0 {
		return errf("create", syscall.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together")
	}
	return nil
}

// accessOK is bpf_map_flags_access_ok: not both program-side restrictions.
func accessOK(flags uint32) bool {
	return flags&(BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG) != BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG
}

func roundUp8(n uint32) uint32 { return (n + 7) &^ 7 }

// checkMemory fails with ENOMEM when n bytes exceed the map's budget.
func checkMemory(n uint64, opts Options) error {
	if n > uint64(opts.MaxMemory) {
		return errf("create", syscall.ENOMEM, "map needs %d bytes of storage (limit %d)", n, opts.MaxMemory)
	}
	return nil
}

// access implements the syscall-side access rules (map_get_sys_perms):
// BPF_F_RDONLY forbids updates and deletes, BPF_F_WRONLY lookups and key
// walks (EPERM), and a frozen map takes no more syscall writes.
type access struct {
	flags  uint32
	frozen atomic.Bool
}

func newAccess(flags uint32) *access { return &access{flags: flags} }

func (a *access) canRead() bool { return a.flags&BPF_F_WRONLY == 0 }

func (a *access) canWrite() bool { return a.flags&BPF_F_RDONLY == 0 && !a.frozen.Load() }

// Freeze is BPF_MAP_FREEZE: from now on the syscall side may not write the
// map (EPERM); programs still may, unless BPF_F_RDONLY_PROG says
// otherwise. Freezing a map the syscall side may not write — BPF_F_RDONLY,
// or already frozen — is EPERM (map_freeze checks the write permission
// before its own EBUSY check, so a second freeze is EPERM).
func (a *access) Freeze() syscall.Errno {
	if a.flags&BPF_F_RDONLY != 0 || !a.frozen.CompareAndSwap(false, true) {
		return syscall.EPERM
	}
	return 0
}

// Frozen reports whether Freeze was called.
func (a *access) Frozen() bool { return a.frozen.Load() }

// Program is what a prog array holds: a loaded program, identified for
// BPF_MAP_LOOKUP_ELEM by its id and checked for compatibility by its type.
type Program interface {
	// ProgramType is the bpf_prog_type; a prog array holds programs of one
	// type only, set by the first program that uses it.
	ProgramType() uint32
	// ProgramID is the id BPF_MAP_LOOKUP_ELEM returns for the slot.
	ProgramID() uint32
}

// ObjectMap is implemented by the maps that hold objects instead of bytes:
// prog arrays (Program values), arrays and hashes of maps (Map values) and
// perf event arrays (*PerfBuffer values).
type ObjectMap interface {
	Map
	// UpdateObject stores obj under key: the user-space update with an
	// object where the kernel takes a file descriptor.
	UpdateObject(key []byte, obj any, flags uint64) syscall.Errno
	// LookupObject returns the object under key (the program-side lookup
	// of map-in-maps, the tail call's slot read), or nil.
	LookupObject(key []byte) any
}

// sysLookupPre is map_lookup_elem's checks before the type's lookup:
// unknown flags, read permission, BPF_F_LOCK without a bpf_spin_lock in
// the value (values here never have one: there is no BTF).
func sysLookupPre(p *access, flags uint64) syscall.Errno {
	if flags&^BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	if !p.canRead() {
		return syscall.EPERM
	}
	if flags&BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	return 0
}

// sysUpdatePre is map_update_elem's checks before the type's update.
func sysUpdatePre(p *access, flags uint64) syscall.Errno {
	if !p.canWrite() {
		return syscall.EPERM
	}
	if flags&BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	return 0
}

// sysLookupAndDeletePre is map_lookup_and_delete_elem's checks.
func sysLookupAndDeletePre(p *access, flags uint64, queue bool) syscall.Errno {
	if flags&^BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	if !p.canRead() || !p.canWrite() {
		return syscall.EPERM
	}
	if flags != 0 && queue {
		return syscall.EINVAL
	}
	if flags&BPF_F_LOCK != 0 {
		return syscall.EINVAL
	}
	return 0
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// QueueMap is implemented by queue and stack maps: the push, pop and peek
// helpers.
type QueueMap interface {
	Map
	Push(value []byte, flags uint64) syscall.Errno
	Pop(value []byte) syscall.Errno
	Peek(value []byte) syscall.Errno
}

// ProgArray is implemented by prog arrays, for tail calls.
type ProgArray interface {
	ObjectMap
	// At returns the program in slot i, or nil (empty or out of range).
	At(i uint32) any
	// Compatible is bpf_prog_map_compatible: the first program type that
	// uses the array owns it; later ones must be of the same type.
	Compatible(progType uint32) bool
}

// PercpuLookup is implemented by per-CPU arrays and hashes:
// bpf_map_lookup_percpu_elem, the value of another slot.
type PercpuLookup interface {
	LookupSlot(key []byte, slot uint32) []byte
}

// Counter is implemented by maps that count their elements.
type Counter interface {
	Len() int
}

// DirectValuer is implemented by arrays: the value memory
// BPF_PSEUDO_MAP_VALUE points into (single-element plain arrays only).
type DirectValuer interface {
	DirectValue() []byte
}

// ForEacher is implemented by the maps bpf_for_each_map_elem walks
// (arrays and hashes, plain and per-CPU): fn gets each element's key and
// the value memory of slot, in the kernel's order (index order; bucket
// by bucket for hashes), until it returns true. The result is the number
// of elements fn was called for, what the helper returns.
type ForEacher interface {
	ForEach(slot uint32, fn func(key, value []byte) (stop bool)) int
}
