package offload

// Map types a driver may host (enum bpf_map_type values).
const (
	// MapHash is BPF_MAP_TYPE_HASH.
	MapHash uint32 = 1
	// MapArray is BPF_MAP_TYPE_ARRAY.
	MapArray uint32 = 2
)

// Update flags of MapOffloader.MapUpdate (BPF_ANY, BPF_NOEXIST, BPF_EXIST).
const (
	// UpdateAny creates or replaces an element.
	UpdateAny uint64 = 0
	// UpdateNoExist creates an element that must not exist (EEXIST).
	UpdateNoExist uint64 = 1
	// UpdateExist replaces an element that must exist (ENOENT).
	UpdateExist uint64 = 2
)

// Map describes one map an offloaded program uses. The map lives on the
// device: the driver owns its memory, and the embedding program reads and
// writes it through the driver (MapOffloader), as the kernel's
// bpf_map_offload_* operations go through the device's bpf_map_dev_ops.
type Map struct {
	// ID is the map's id; programs sharing a map name the same id.
	ID uint32
	// Type is the map type (BPF_MAP_TYPE_*).
	Type uint32
	// KeySize, ValueSize and MaxEntries are the map's geometry.
	KeySize, ValueSize, MaxEntries uint32
}

// MapOffloader is implemented by drivers that host the maps of the
// programs they hold. Keys and values are the map's raw bytes; errors wrap
// the errno the kernel's map syscalls return: ENOENT for a missing map or
// key, EINVAL for sizes that do not fit the map or an operation its type
// does not have, EEXIST and ENOENT for the update flags, E2BIG for a full
// map. MapNextKey with a nil or missing key returns the first key.
type MapOffloader interface {
	MapLookup(id uint32, key []byte) (value []byte, err error)
	MapUpdate(id uint32, key, value []byte, flags uint64) error
	MapDelete(id uint32, key []byte) error
	MapNextKey(id uint32, key []byte) (next []byte, err error)
}
