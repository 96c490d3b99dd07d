package ebpf

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// BatchOptions are the flags of batch operations: ElemFlags per element
// and Flags for the batch. The kernel accepts only BPF_F_LOCK as ElemFlags
// (so none here: no value has a spin lock) and only 0 as Flags of hash
// map lookups; anything else is EINVAL.
type BatchOptions struct {
	ElemFlags uint64
	Flags     uint64
}

// MapBatchCursor remembers where a series of BatchLookup or
// BatchLookupAndDelete calls is (the kernel's in_batch/out_batch). The
// zero value starts at the beginning; use a cursor with one map only.
type MapBatchCursor struct {
	m   *Map
	pos []byte
}

// BatchLookup copies up to len(keysOut) elements, from where cursor is,
// into keysOut and valuesOut (slices of fixed-size keys and values, or
// []byte of whole multiples; per-CPU maps need one value per slot per key)
// and returns how many it copied. It returns ErrKeyNotExist with the
// last elements when the map is exhausted. Hash maps copy whole buckets:
// a bucket larger than the room left ends the batch, and is ENOSPC (a
// *MapError) when nothing fits at all, as BPF_MAP_LOOKUP_BATCH does.
func (m *Map) BatchLookup(cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions) (int, error) {
	return m.batchLookup("batch lookup", maps.BPF_MAP_LOOKUP_BATCH, cursor, keysOut, valuesOut, opts)
}

// BatchLookupAndDelete is BatchLookup that deletes what it copies (hash
// maps only; ErrNotSupported elsewhere).
func (m *Map) BatchLookupAndDelete(cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions) (int, error) {
	return m.batchLookup("batch lookup and delete", maps.BPF_MAP_LOOKUP_AND_DELETE_BATCH, cursor, keysOut, valuesOut, opts)
}

func (m *Map) batchLookup(op string, cmd maps.BatchCmd, cursor *MapBatchCursor, keysOut, valuesOut any, opts *BatchOptions) (int, error) {
	if cursor == nil {
		return 0, m.argError(op, "nil cursor")
	}
	if cursor.m != nil && cursor.m != m {
		return 0, m.argError(op, "cursor of another map")
	}
	ks := int(m.spec.KeySize)
	n, err := elems(keysOut, ks)
	if err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	vs := m.m.SysValueSize()
	if err := m.checkValues(valuesOut, n); err != nil {
		return 0, m.argError(op, "values: %v", err)
	}
	b := maps.Batch{
		InBatch:  cursor.pos,
		OutBatch: make([]byte, maps.BatchPosSize(m.m)),
		Keys:     make([]byte, n*ks),
		Values:   make([]byte, n*vs),
		Count:    uint32(n),
	}
	if opts != nil {
		b.ElemFlags, b.Flags = opts.ElemFlags, opts.Flags
	}
	got, errno := maps.SysBatch(m.m, cmd, &b)
	if errno != 0 && errno != syscall.ENOENT {
		return 0, m.opError(op, errno)
	}
	if got > uint32(n) {
		got = 0
	}
	if err := decodeElems(keysOut, b.Keys[:int(got)*ks], int(got)); err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	if err := m.decodeValues(valuesOut, b.Values[:int(got)*vs], int(got)); err != nil {
		return 0, m.argError(op, "values: %v", err)
	}
	cursor.m = m
	if got > 0 || maps.BatchPosSize(m.m) == 4 {
		cursor.pos = b.OutBatch
	}
	if errno == syscall.ENOENT {
		return int(got), ErrKeyNotExist
	}
	return int(got), nil
}

// BatchUpdate writes keys[i] = values[i] for each element (create or
// replace) and returns how many it wrote before the first failure.
func (m *Map) BatchUpdate(keys, values any, opts *BatchOptions) (int, error) {
	const op = "batch update"
	ks := int(m.spec.KeySize)
	n, err := elems(keys, ks)
	if err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	if err := m.checkValues(values, n); err != nil {
		return 0, m.argError(op, "values: %v", err)
	}
	b := maps.Batch{Count: uint32(n)}
	if b.Keys, err = encodeElems(keys); err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	if b.Values, err = m.encodeValues(values); err != nil {
		return 0, m.argError(op, "values: %v", err)
	}
	if opts != nil {
		b.ElemFlags, b.Flags = opts.ElemFlags, opts.Flags
	}
	got, errno := maps.SysBatch(m.m, maps.BPF_MAP_UPDATE_BATCH, &b)
	return batchCount(got, n, errno), m.opError(op, errno)
}

// BatchDelete deletes keys and returns how many it deleted before the
// first failure (ErrKeyNotExist for a missing key).
func (m *Map) BatchDelete(keys any, opts *BatchOptions) (int, error) {
	const op = "batch delete"
	n, err := elems(keys, int(m.spec.KeySize))
	if err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	b := maps.Batch{Count: uint32(n)}
	if b.Keys, err = encodeElems(keys); err != nil {
		return 0, m.argError(op, "keys: %v", err)
	}
	if opts != nil {
		b.ElemFlags, b.Flags = opts.ElemFlags, opts.Flags
	}
	got, errno := maps.SysBatch(m.m, maps.BPF_MAP_DELETE_BATCH, &b)
	return batchCount(got, n, errno), m.opError(op, errno)
}

// batchCount is the number of elements a batch processed: the count the
// kernel writes back, or 0 when it failed before writing one (then the
// count is still the one passed in, with an error).
func batchCount(got uint32, n int, errno syscall.Errno) int {
	if got > uint32(n) || errno != 0 && got == uint32(n) {
		return 0
	}
	return int(got)
}

// elems returns how many elements of size bytes s holds: a []byte of a
// multiple of size, or a slice of fixed-size values of that size.
func elems(s any, size int) (int, error) {
	if b, ok := s.([]byte); ok {
		if size == 0 || len(b)%size != 0 {
			return 0, fmt.Errorf("%d bytes are not a multiple of %d", len(b), size)
		}
		return len(b) / size, nil
	}
	rv := reflect.ValueOf(s)
	if rv.Kind() != reflect.Slice {
		return 0, fmt.Errorf("%T is not a slice", s)
	}
	if es := binary.Size(reflect.Zero(rv.Type().Elem()).Interface()); es != size {
		return 0, fmt.Errorf("elements of %T are %d bytes, want %d", s, es, size)
	}
	return rv.Len(), nil
}

// checkValues checks that values holds n values: in the syscall layout,
// or for per-CPU maps one value per slot per key, each of value_size bytes
// (as cilium/ebpf takes them) or of round_up(value_size, 8) bytes.
func (m *Map) checkValues(values any, n int) error {
	if m.spec.Type.HasPerCPUValue() {
		if _, ok := values.([]byte); !ok {
			want := n * m.Slots()
			got, err := elems(values, int(m.spec.ValueSize))
			if err != nil {
				got, err = elems(values, int(roundUp8(m.spec.ValueSize)))
			}
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%d values for %d keys (%d per key)", got, n, m.Slots())
			}
			return nil
		}
	}
	got, err := elems(values, m.m.SysValueSize())
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d values for %d keys", got, n)
	}
	return nil
}

func (m *Map) valuesPer() int {
	if m.spec.Type.HasPerCPUValue() {
		return m.Slots()
	}
	return 1
}

// unpadded reports whether s is a slice of per-CPU values of exactly
// value_size bytes that the syscall layout pads to a multiple of 8.
func (m *Map) unpadded(s any) bool {
	if _, ok := s.([]byte); ok || !m.spec.Type.HasPerCPUValue() || m.spec.ValueSize%8 == 0 {
		return false
	}
	rv := reflect.ValueOf(s)
	return rv.Kind() == reflect.Slice &&
		binary.Size(reflect.Zero(rv.Type().Elem()).Interface()) == int(m.spec.ValueSize)
}

// encodeElems lays a slice of fixed-size values out in bytes.
func encodeElems(s any) ([]byte, error) {
	if b, ok := s.([]byte); ok {
		return b, nil
	}
	return binary.Append(nil, nativeEndian, s)
}

func (m *Map) encodeValues(s any) ([]byte, error) {
	if !m.unpadded(s) {
		return encodeElems(s)
	}
	rv := reflect.ValueOf(s)
	vs, es := int(m.spec.ValueSize), int(roundUp8(m.spec.ValueSize))
	out := make([]byte, rv.Len()*es)
	for i := 0; i < rv.Len(); i++ {
		b, err := binary.Append(nil, nativeEndian, rv.Index(i).Interface())
		if err != nil {
			return nil, err
		}
		copy(out[i*es:i*es+vs], b)
	}
	return out, nil
}

// decodeElems fills the first n elements of s from data.
func decodeElems(s any, data []byte, n int) error {
	if b, ok := s.([]byte); ok {
		copy(b, data)
		return nil
	}
	sub := reflect.ValueOf(s).Slice(0, n).Interface()
	_, err := binary.Decode(data, nativeEndian, sub)
	return err
}

func (m *Map) decodeValues(s any, data []byte, n int) error {
	count := n * m.valuesPer()
	if !m.unpadded(s) {
		return decodeElems(s, data, count)
	}
	rv := reflect.ValueOf(s)
	vs, es := int(m.spec.ValueSize), int(roundUp8(m.spec.ValueSize))
	for i := 0; i < count; i++ {
		if _, err := binary.Decode(data[i*es:i*es+vs], nativeEndian, rv.Index(i).Addr().Interface()); err != nil {
			return err
		}
	}
	return nil
}
