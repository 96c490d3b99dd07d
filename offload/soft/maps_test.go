package soft_test

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func withMaps(maps ...offload.Map) *offload.Program {
	return &offload.Program{Kind: offload.Extended, Runner: constRunner(0), Maps: maps}
}

func TestDeviceMaps(t *testing.T) {
	hash := offload.Map{ID: 1, Type: offload.MapHash, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	array := offload.Map{ID: 2, Type: offload.MapArray, KeySize: 4, ValueSize: 4, MaxEntries: 3}
	d := soft.New(soft.Capabilities(nil, []uint32{offload.MapHash, offload.MapArray}))
	a := offload.FilterID{Handle: 1}
	b := offload.FilterID{Handle: 2}
	require.NoError(t, d.Setup(&offload.Request{Command: offload.Add, Filter: a, Prog: withMaps(hash, array)}))
	require.NoError(t, d.Setup(&offload.Request{Command: offload.Add, Filter: b, Prog: withMaps(hash)}), "a shared map")
	assert.Equal(t, []uint32{1, 2}, d.Maps())
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Add, Filter: offload.FilterID{Handle: 3}, Prog: withMaps(offload.Map{ID: 1, Type: offload.MapHash, KeySize: 4, ValueSize: 4, MaxEntries: 2})}), syscall.EINVAL, "same id, other geometry")

	t.Run("hash", func(t *testing.T) {
		v := []byte{1, 2, 3, 4, 5, 6, 7, 8}
		_, err := d.MapLookup(1, u32(7))
		assert.ErrorIs(t, err, syscall.ENOENT)
		assert.ErrorIs(t, d.MapUpdate(1, u32(7), v, offload.UpdateExist), syscall.ENOENT)
		require.NoError(t, d.MapUpdate(1, u32(7), v, offload.UpdateNoExist))
		assert.ErrorIs(t, d.MapUpdate(1, u32(7), v, offload.UpdateNoExist), syscall.EEXIST)
		require.NoError(t, d.MapUpdate(1, u32(3), v, offload.UpdateAny))
		assert.ErrorIs(t, d.MapUpdate(1, u32(9), v, offload.UpdateAny), syscall.E2BIG, "full")
		got, err := d.MapLookup(1, u32(7))
		require.NoError(t, err)
		assert.Equal(t, v, got)
		got[0] = 99
		again, _ := d.MapLookup(1, u32(7))
		assert.Equal(t, byte(1), again[0], "lookups return copies")
		k, err := d.MapNextKey(1, nil)
		require.NoError(t, err)
		assert.Equal(t, u32(3), k)
		k, err = d.MapNextKey(1, k)
		require.NoError(t, err)
		assert.Equal(t, u32(7), k)
		_, err = d.MapNextKey(1, k)
		assert.ErrorIs(t, err, syscall.ENOENT)
		k, err = d.MapNextKey(1, u32(5))
		require.NoError(t, err)
		assert.Equal(t, u32(3), k, "a missing key starts over")
		require.NoError(t, d.MapDelete(1, u32(7)))
		assert.ErrorIs(t, d.MapDelete(1, u32(7)), syscall.ENOENT)
		assert.ErrorIs(t, d.MapUpdate(1, u32(7), v[:4], offload.UpdateAny), syscall.EINVAL, "value size")
		assert.ErrorIs(t, d.MapUpdate(1, []byte{1}, v, offload.UpdateAny), syscall.EINVAL, "key size")
		assert.ErrorIs(t, d.MapUpdate(1, u32(7), v, 3), syscall.EINVAL, "flags")
	})
	t.Run("array", func(t *testing.T) {
		got, err := d.MapLookup(2, u32(2))
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 4), got, "elements start zeroed")
		require.NoError(t, d.MapUpdate(2, u32(2), u32(42), offload.UpdateExist))
		got, _ = d.MapLookup(2, u32(2))
		assert.Equal(t, u32(42), got)
		assert.ErrorIs(t, d.MapUpdate(2, u32(3), u32(1), offload.UpdateAny), syscall.E2BIG)
		assert.ErrorIs(t, d.MapUpdate(2, u32(0), u32(1), offload.UpdateNoExist), syscall.EEXIST)
		assert.ErrorIs(t, d.MapDelete(2, u32(0)), syscall.EINVAL)
		_, err = d.MapLookup(2, u32(3))
		assert.ErrorIs(t, err, syscall.ENOENT)
		k, err := d.MapNextKey(2, u32(1))
		require.NoError(t, err)
		assert.Equal(t, u32(2), k)
		_, err = d.MapNextKey(2, u32(2))
		assert.ErrorIs(t, err, syscall.ENOENT)
	})
	t.Run("maps_go_with_their_last_program", func(t *testing.T) {
		require.NoError(t, d.Setup(&offload.Request{Command: offload.Destroy, Filter: a}))
		assert.Equal(t, []uint32{1}, d.Maps(), "b still uses map 1")
		_, err := d.MapLookup(2, u32(0))
		assert.ErrorIs(t, err, syscall.ENOENT)
		require.NoError(t, d.Setup(&offload.Request{Command: offload.Replace, Filter: b, Prog: withMaps()}))
		assert.Empty(t, d.Maps())
	})
	t.Run("unhosted_type", func(t *testing.T) {
		err := d.Setup(&offload.Request{Command: offload.Add, Filter: a, Prog: withMaps(offload.Map{ID: 5, Type: 27, KeySize: 4, ValueSize: 4, MaxEntries: 1})})
		assert.ErrorIs(t, err, syscall.EOPNOTSUPP)
		assert.Empty(t, d.Maps())
	})
}
