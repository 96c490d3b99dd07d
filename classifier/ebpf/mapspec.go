package ebpf

import (
	"fmt"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// MapType is a map type, enum bpf_map_type.
type MapType uint32

// Map types with their kernel values. The ones this package creates are
// documented; the others exist so that a spec read from an object names
// its type, and NewMap rejects them with EINVAL.
const (
	UnspecifiedMap MapType = 0
	// Hash is BPF_MAP_TYPE_HASH: keys of any size, up to max_entries.
	Hash MapType = 1
	// Array is BPF_MAP_TYPE_ARRAY: u32 keys 0..max_entries-1, all present.
	Array MapType = 2
	// ProgramArray is BPF_MAP_TYPE_PROG_ARRAY: tail call targets.
	ProgramArray MapType = 3
	// PerfEventArray is BPF_MAP_TYPE_PERF_EVENT_ARRAY: per-slot sample
	// buffers for perf_event_output, read with a PerfReader.
	PerfEventArray MapType = 4
	// PerCPUHash is BPF_MAP_TYPE_PERCPU_HASH: a hash with one value per
	// execution slot.
	PerCPUHash MapType = 5
	// PerCPUArray is BPF_MAP_TYPE_PERCPU_ARRAY: an array with one value
	// per execution slot.
	PerCPUArray MapType = 6
	StackTrace  MapType = 7
	CgroupArray MapType = 8
	// LRUHash is BPF_MAP_TYPE_LRU_HASH: a hash that evicts when full.
	LRUHash MapType = 9
	// LRUCPUHash is BPF_MAP_TYPE_LRU_PERCPU_HASH.
	LRUCPUHash MapType = 10
	// LPMTrie is BPF_MAP_TYPE_LPM_TRIE: longest-prefix match on
	// {u32 prefixlen; u8 data[]} keys.
	LPMTrie MapType = 11
	// ArrayOfMaps is BPF_MAP_TYPE_ARRAY_OF_MAPS.
	ArrayOfMaps MapType = 12
	// HashOfMaps is BPF_MAP_TYPE_HASH_OF_MAPS.
	HashOfMaps          MapType = 13
	DevMap              MapType = 14
	SockMap             MapType = 15
	CPUMap              MapType = 16
	XSKMap              MapType = 17
	SockHash            MapType = 18
	CgroupStorage       MapType = 19
	ReusePortSockArray  MapType = 20
	PerCPUCgroupStorage MapType = 21
	// Queue is BPF_MAP_TYPE_QUEUE: FIFO of values (key size 0).
	Queue MapType = 22
	// Stack is BPF_MAP_TYPE_STACK: LIFO of values (key size 0).
	Stack        MapType = 23
	SkStorage    MapType = 24
	DevMapHash   MapType = 25
	StructOpsMap MapType = 26
	// RingBuf is BPF_MAP_TYPE_RINGBUF: a shared ring of records, read
	// with a RingBufReader.
	RingBuf      MapType = 27
	InodeStorage MapType = 28
	TaskStorage  MapType = 29
	BloomFilter  MapType = 30
	UserRingbuf  MapType = 31
	CgrpStorage  MapType = 32
	Arena        MapType = 33
)

var mapTypeNames = [...]string{
	"UnspecifiedMap", "Hash", "Array", "ProgramArray", "PerfEventArray", "PerCPUHash",
	"PerCPUArray", "StackTrace", "CgroupArray", "LRUHash", "LRUCPUHash", "LPMTrie",
	"ArrayOfMaps", "HashOfMaps", "DevMap", "SockMap", "CPUMap", "XSKMap", "SockHash",
	"CgroupStorage", "ReusePortSockArray", "PerCPUCgroupStorage", "Queue", "Stack",
	"SkStorage", "DevMapHash", "StructOpsMap", "RingBuf", "InodeStorage", "TaskStorage",
	"BloomFilter", "UserRingbuf", "CgrpStorage", "Arena",
}

// String returns the Go name of the type ("Hash"), or MapType(n).
func (t MapType) String() string {
	if int(t) < len(mapTypeNames) {
		return mapTypeNames[t]
	}
	return fmt.Sprintf("MapType(%d)", uint32(t))
}

// HasPerCPUValue reports whether values are per execution slot.
func (t MapType) HasPerCPUValue() bool {
	return t == PerCPUHash || t == PerCPUArray || t == LRUCPUHash || t == PerCPUCgroupStorage
}

// canStoreMap reports whether values are maps.
func (t MapType) canStoreMap() bool { return t == ArrayOfMaps || t == HashOfMaps }

// Map creation flags (map_flags), with the kernel's values.
const (
	// FlagNoPrealloc is BPF_F_NO_PREALLOC: hash elements are allocated on
	// insert; LPM tries require it.
	FlagNoPrealloc uint32 = maps.BPF_F_NO_PREALLOC
	// FlagNoCommonLRU is BPF_F_NO_COMMON_LRU: an LRU list per slot
	// (max_entries is rounded to a multiple of the slots).
	FlagNoCommonLRU uint32 = maps.BPF_F_NO_COMMON_LRU
	// FlagNUMANode is BPF_F_NUMA_NODE; accepted where the kernel accepts
	// it, without effect.
	FlagNUMANode uint32 = maps.BPF_F_NUMA_NODE
	// FlagRdOnly is BPF_F_RDONLY: the Go API may not update or delete.
	FlagRdOnly uint32 = maps.BPF_F_RDONLY
	// FlagWrOnly is BPF_F_WRONLY: the Go API may not look up or iterate.
	FlagWrOnly uint32 = maps.BPF_F_WRONLY
	// FlagZeroSeed is BPF_F_ZERO_SEED: hash seed 0 whatever the seed
	// option says.
	FlagZeroSeed uint32 = maps.BPF_F_ZERO_SEED
	// FlagRdOnlyProg is BPF_F_RDONLY_PROG: programs may only read.
	FlagRdOnlyProg uint32 = maps.BPF_F_RDONLY_PROG
	// FlagWrOnlyProg is BPF_F_WRONLY_PROG: programs may only write.
	FlagWrOnlyProg uint32 = maps.BPF_F_WRONLY_PROG
	// FlagMmapable is BPF_F_MMAPABLE (arrays).
	FlagMmapable uint32 = maps.BPF_F_MMAPABLE
	// FlagPreserveElems is BPF_F_PRESERVE_ELEMS (perf event arrays).
	FlagPreserveElems uint32 = maps.BPF_F_PRESERVE_ELEMS
	// FlagInnerMap is BPF_F_INNER_MAP: an array template whose
	// max_entries need not match the inner maps'.
	FlagInnerMap uint32 = maps.BPF_F_INNER_MAP
)

// UpdateFlags are the flags of Update (BPF_ANY, BPF_NOEXIST, BPF_EXIST,
// BPF_F_LOCK).
type UpdateFlags uint64

// Update flags.
const (
	// UpdateAny is BPF_ANY: create or replace.
	UpdateAny UpdateFlags = maps.BPF_ANY
	// UpdateNoExist is BPF_NOEXIST: create only (ErrKeyExist otherwise).
	UpdateNoExist UpdateFlags = maps.BPF_NOEXIST
	// UpdateExist is BPF_EXIST: replace only (ErrKeyNotExist otherwise);
	// for queues and stacks, make room by dropping the oldest value.
	UpdateExist UpdateFlags = maps.BPF_EXIST
	// UpdateLock is BPF_F_LOCK: copy under the value's bpf_spin_lock. No
	// value here has one (there is no BTF yet), so it is always EINVAL,
	// as for kernel maps whose values lack the lock.
	UpdateLock UpdateFlags = maps.BPF_F_LOCK
)

// MapSpec describes a map: the attributes of BPF_MAP_CREATE plus initial
// contents. It is plain data; NewMap makes a Map from it.
type MapSpec struct {
	// Name is map_name: up to 15 characters of [A-Za-z0-9_.].
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// Flags are the creation flags (FlagNoPrealloc, ...).
	Flags uint32
	// InnerMap is the template of the maps an ArrayOfMaps or HashOfMaps
	// holds (the kernel's inner_map_fd); only its type, sizes, flags and,
	// for arrays, max_entries matter.
	InnerMap *MapSpec
	// Contents are written with UpdateAny when the map is created.
	Contents []MapKV
	// Pinning is how NewCollection shares the map between collections
	// (iproute2's bpf_elf_map pinning); NewMap ignores it.
	Pinning Pinning
}

// MapKV is a key and a value of MapSpec.Contents, each in any form Update
// accepts.
type MapKV struct {
	Key   any
	Value any
}

// Copy returns a deep copy of the spec (Contents keys and values are
// copied as interface values).
func (ms *MapSpec) Copy() *MapSpec {
	if ms == nil {
		return nil
	}
	c := *ms
	c.Contents = append([]MapKV(nil), ms.Contents...)
	c.InnerMap = ms.InnerMap.Copy()
	return &c
}

// String describes the spec briefly.
func (ms *MapSpec) String() string {
	return fmt.Sprintf("%s(keySize=%d, valueSize=%d, maxEntries=%d, flags=%#x)",
		ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags)
}

func (ms *MapSpec) internal() *maps.Spec {
	if ms == nil {
		return nil
	}
	return &maps.Spec{
		Type:       maps.Type(ms.Type),
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		Name:       ms.Name,
		Inner:      ms.InnerMap.internal(),
	}
}
