package ebpf

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMapSmoke(t *testing.T) {
	m, err := NewMap(&MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	require.NoError(t, err)
	require.NoError(t, m.Put(uint32(1), uint64(10)))
	require.NoError(t, m.Put(uint32(2), uint64(20)))
	assert.True(t, errors.Is(m.Put(uint32(3), uint64(30)), syscall.E2BIG))
	var v uint64
	require.NoError(t, m.Lookup(uint32(2), &v))
	assert.Equal(t, uint64(20), v)
	assert.ErrorIs(t, m.Lookup(uint32(3), &v), ErrKeyNotExist)
	assert.ErrorIs(t, m.Update(uint32(1), uint64(1), UpdateNoExist), ErrKeyExist)
	var k uint32
	n := 0
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	require.NoError(t, it.Err())
	assert.Equal(t, 2, n)
}
