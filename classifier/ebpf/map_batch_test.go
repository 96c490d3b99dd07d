package ebpf

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchHash(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	keys := make([]uint32, 40)
	vals := make([]uint64, 40)
	for i := range keys {
		keys[i], vals[i] = uint32(i), uint64(i)*10
	}
	n, err := m.BatchUpdate(keys, vals, nil)
	require.NoError(t, err)
	assert.Equal(t, 40, n)
	n, err = m.BatchUpdate(keys[:2], vals[:2], &BatchOptions{ElemFlags: uint64(UpdateNoExist)})
	assert.ErrorIs(t, err, syscall.EINVAL, "the kernel takes only BPF_F_LOCK per element")
	assert.Zero(t, n)

	got := map[uint32]uint64{}
	var cursor MapBatchCursor
	kout, vout := make([]uint32, 8), make([]uint64, 8)
	for i := 0; ; i++ {
		require.Less(t, i, 100)
		n, err := m.BatchLookup(&cursor, kout, vout, nil)
		for j := 0; j < n; j++ {
			got[kout[j]] = vout[j]
		}
		if errors.Is(err, ErrKeyNotExist) {
			break
		}
		require.NoError(t, err)
	}
	assert.Len(t, got, 40)
	for k, v := range got {
		assert.Equal(t, uint64(k)*10, v)
	}

	// One slot is too small for any bucket holding two keys.
	small := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	require.NoError(t, small.Put(uint32(1), uint32(1)))
	var c2 MapBatchCursor
	n, err = small.BatchLookup(&c2, make([]uint32, 0), make([]uint32, 0), nil)
	assert.NoError(t, err, "count 0 does nothing")
	assert.Zero(t, n)
	n, err = small.BatchLookup(&c2, make([]uint32, 1), make([]uint32, 1), &BatchOptions{Flags: 1})
	assert.ErrorIs(t, err, syscall.EINVAL)
	assert.Zero(t, n)

	var c3 MapBatchCursor
	n, err = m.BatchLookupAndDelete(&c3, make([]byte, 4*64), make([]byte, 8*64), nil)
	assert.ErrorIs(t, err, ErrKeyNotExist, "everything fits: the end is reached")
	assert.Equal(t, 40, n)
	var k uint32
	assert.ErrorIs(t, m.NextKey(nil, &k), ErrKeyNotExist, "empty")

	require.NoError(t, m.Put(uint32(5), uint64(5)))
	n, err = m.BatchDelete([]uint32{5, 6}, nil)
	assert.ErrorIs(t, err, ErrKeyNotExist)
	assert.Equal(t, 1, n)

	_, err = m.BatchLookup(&c3, make([]uint16, 2), make([]uint64, 2), nil)
	assert.ErrorIs(t, err, syscall.EINVAL, "2-byte keys for 4")
	_, err = m.BatchLookup(&c3, make([]uint32, 2), make([]uint64, 3), nil)
	assert.ErrorIs(t, err, syscall.EINVAL, "value count")
	_, err = small.BatchLookup(&c3, make([]uint32, 2), make([]uint32, 2), nil)
	assert.ErrorIs(t, err, syscall.EINVAL, "cursor of another map")
}

func TestBatchArrayAndOthers(t *testing.T) {
	a := newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 5})
	n, err := a.BatchUpdate([]uint32{1, 3}, []uint32{11, 33}, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	var c MapBatchCursor
	k, v := make([]uint32, 3), make([]uint32, 3)
	n, err = a.BatchLookup(&c, k, v, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []uint32{0, 1, 2}, k)
	assert.Equal(t, []uint32{0, 11, 0}, v)
	n, err = a.BatchLookup(&c, k, v, nil)
	assert.ErrorIs(t, err, ErrKeyNotExist)
	assert.Equal(t, 2, n)
	assert.Equal(t, []uint32{3, 4}, k[:2])
	assert.Equal(t, []uint32{33, 0}, v[:2])
	_, err = a.BatchDelete([]uint32{1}, nil)
	assert.ErrorIs(t, err, ErrNotSupported)
	_, err = a.BatchLookupAndDelete(&MapBatchCursor{}, k, v, nil)
	assert.ErrorIs(t, err, ErrNotSupported)

	pc := newMap(t, &MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 2}, WithSlots(2))
	require.NoError(t, pc.Put(uint32(1), []uint32{7, 8}))
	pv := make([]uint64, 4) // 2 keys x 2 slots, 8 bytes each
	n, err = pc.BatchLookup(&MapBatchCursor{}, make([]uint32, 2), pv, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []uint64{0, 0, 7, 8}, pv)

	// Values of value_size bytes, as cilium/ebpf takes them, are padded.
	n, err = pc.BatchUpdate([]uint32{0}, []uint32{5, 6}, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	pv32 := make([]uint32, 4)
	_, err = pc.BatchLookup(&MapBatchCursor{}, make([]uint32, 2), pv32, nil)
	require.NoError(t, err)
	assert.Equal(t, []uint32{5, 6, 7, 8}, pv32)

	q := newMap(t, &MapSpec{Type: Queue, ValueSize: 4, MaxEntries: 2})
	_, err = q.BatchUpdate([]byte{}, []byte{}, nil)
	assert.Error(t, err)
	ro := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 2, Flags: FlagRdOnly})
	_, err = ro.BatchUpdate([]uint32{1}, []uint32{1}, nil)
	assert.ErrorIs(t, err, syscall.EPERM)
}
