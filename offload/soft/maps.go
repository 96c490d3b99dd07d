package soft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/clsbpf/clsbpf/offload"
)

// deviceMap is one map the device hosts: a hash or an array of byte
// strings, guarded by its own mutex (the control path's map syscalls; the
// programs the device runs keep their own maps in their software form).
type deviceMap struct {
	spec offload.Map

	mu    sync.Mutex
	hash  map[string][]byte
	array [][]byte
}

func newDeviceMap(m offload.Map) (*deviceMap, error) {
	if m.KeySize == 0 || m.ValueSize == 0 || m.MaxEntries == 0 {
		return nil, fmt.Errorf("soft: map %d: zero key size, value size or entries: %w", m.ID, syscall.EINVAL)
	}
	d := &deviceMap{spec: m}
	switch m.Type {
	case offload.MapHash:
		d.hash = map[string][]byte{}
	case offload.MapArray:
		if m.KeySize != 4 {
			return nil, fmt.Errorf("soft: array map %d: key size %d, need 4: %w", m.ID, m.KeySize, syscall.EINVAL)
		}
		d.array = make([][]byte, m.MaxEntries)
		for i := range d.array {
			d.array[i] = make([]byte, m.ValueSize)
		}
	default:
		return nil, fmt.Errorf("soft: map %d: type %d not hosted: %w", m.ID, m.Type, syscall.EOPNOTSUPP)
	}
	return d, nil
}

// attachMaps makes sure the device hosts every map of p, creating the
// missing ones; a map id already hosted with another geometry is EINVAL.
// Called with d.mu held. It returns the ids of p's maps.
func (d *Device) attachMaps(p *offload.Program) ([]uint32, error) {
	var ids []uint32
	created := map[uint32]*deviceMap{}
	for _, m := range p.Maps {
		if cur, ok := d.maps[m.ID]; ok {
			if cur.spec != m {
				return nil, fmt.Errorf("soft: map %d: hosted as %+v, asked as %+v: %w", m.ID, cur.spec, m, syscall.EINVAL)
			}
		} else if _, ok := created[m.ID]; !ok {
			dm, err := newDeviceMap(m)
			if err != nil {
				return nil, err
			}
			created[m.ID] = dm
		}
		ids = append(ids, m.ID)
	}
	for id, dm := range created {
		d.maps[id] = dm
	}
	return ids, nil
}

// dropUnusedMaps frees the maps no held program uses any more. Called with
// d.mu held.
func (d *Device) dropUnusedMaps(filters map[offload.FilterID]*entry) {
	for id := range d.maps {
		used := false
		for _, e := range filters {
			used = used || slices.Contains(e.maps, id)
		}
		if !used {
			delete(d.maps, id)
		}
	}
}

func (d *Device) deviceMap(id uint32) (*deviceMap, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.maps[id]
	if !ok {
		return nil, fmt.Errorf("soft: no map %d on the device: %w", id, syscall.ENOENT)
	}
	return m, nil
}

// Maps returns the ids of the maps the device hosts, in ascending order.
func (d *Device) Maps() []uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]uint32, 0, len(d.maps))
	for id := range d.maps {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (m *deviceMap) checkKey(key []byte) error {
	if uint32(len(key)) != m.spec.KeySize {
		return fmt.Errorf("soft: map %d: key of %d bytes, need %d: %w", m.spec.ID, len(key), m.spec.KeySize, syscall.EINVAL)
	}
	return nil
}

// MapLookup returns a copy of the value stored under key.
func (d *Device) MapLookup(id uint32, key []byte) ([]byte, error) {
	m, err := d.deviceMap(id)
	if err != nil {
		return nil, err
	}
	if err := m.checkKey(key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.array != nil {
		i := binary.LittleEndian.Uint32(key)
		if i >= m.spec.MaxEntries {
			return nil, fmt.Errorf("soft: map %d: index %d: %w", id, i, syscall.ENOENT)
		}
		return slices.Clone(m.array[i]), nil
	}
	v, ok := m.hash[string(key)]
	if !ok {
		return nil, fmt.Errorf("soft: map %d: no such key: %w", id, syscall.ENOENT)
	}
	return slices.Clone(v), nil
}

// MapUpdate stores value under key as flags allow (UpdateAny,
// UpdateNoExist, UpdateExist): EEXIST and ENOENT for the flags, E2BIG for
// a full hash or an index beyond an array, EINVAL for sizes or flags.
func (d *Device) MapUpdate(id uint32, key, value []byte, flags uint64) error {
	m, err := d.deviceMap(id)
	if err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	if uint32(len(value)) != m.spec.ValueSize {
		return fmt.Errorf("soft: map %d: value of %d bytes, need %d: %w", id, len(value), m.spec.ValueSize, syscall.EINVAL)
	}
	if flags > offload.UpdateExist {
		return fmt.Errorf("soft: map %d: update flags %#x: %w", id, flags, syscall.EINVAL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.array != nil {
		i := binary.LittleEndian.Uint32(key)
		if i >= m.spec.MaxEntries {
			return fmt.Errorf("soft: map %d: index %d beyond %d entries: %w", id, i, m.spec.MaxEntries, syscall.E2BIG)
		}
		if flags == offload.UpdateNoExist {
			return fmt.Errorf("soft: map %d: array elements always exist: %w", id, syscall.EEXIST)
		}
		copy(m.array[i], value)
		return nil
	}
	_, exists := m.hash[string(key)]
	switch {
	case exists && flags == offload.UpdateNoExist:
		return fmt.Errorf("soft: map %d: key exists: %w", id, syscall.EEXIST)
	case !exists && flags == offload.UpdateExist:
		return fmt.Errorf("soft: map %d: no such key: %w", id, syscall.ENOENT)
	case !exists && uint32(len(m.hash)) >= m.spec.MaxEntries:
		return fmt.Errorf("soft: map %d: full: %w", id, syscall.E2BIG)
	}
	m.hash[string(key)] = slices.Clone(value)
	return nil
}

// MapDelete removes key from a hash map; arrays cannot delete (EINVAL).
func (d *Device) MapDelete(id uint32, key []byte) error {
	m, err := d.deviceMap(id)
	if err != nil {
		return err
	}
	if err := m.checkKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.array != nil {
		return fmt.Errorf("soft: map %d: array elements cannot be deleted: %w", id, syscall.EINVAL)
	}
	if _, ok := m.hash[string(key)]; !ok {
		return fmt.Errorf("soft: map %d: no such key: %w", id, syscall.ENOENT)
	}
	delete(m.hash, string(key))
	return nil
}

// MapNextKey returns the key after key: array indexes in order, hash keys
// in ascending byte order. A nil or missing key gives the first key; the
// last key gives ENOENT.
func (d *Device) MapNextKey(id uint32, key []byte) ([]byte, error) {
	m, err := d.deviceMap(id)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if err := m.checkKey(key); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	end := fmt.Errorf("soft: map %d: no next key: %w", id, syscall.ENOENT)
	if m.array != nil {
		next := uint32(0)
		if key != nil {
			if i := binary.LittleEndian.Uint32(key); i < m.spec.MaxEntries {
				next = i + 1
			}
		}
		if next >= m.spec.MaxEntries {
			return nil, end
		}
		return binary.LittleEndian.AppendUint32(nil, next), nil
	}
	keys := make([]string, 0, len(m.hash))
	for k := range m.hash {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	i := 0
	if key != nil {
		if j, found := slices.BinarySearch(keys, string(key)); found {
			i = j + 1
		}
	}
	if i >= len(keys) {
		return nil, end
	}
	return bytes.Clone([]byte(keys[i])), nil
}
