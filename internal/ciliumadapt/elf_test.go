package ciliumadapt

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elfMapTail is iproute2's bpf_elf_map after bpf_map_def: id, pinning,
// inner_id, inner_idx.
func elfMapTail(words ...uint32) *bytes.Reader {
	var b []byte
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return bytes.NewReader(b)
}

func TestConvertMap(t *testing.T) {
	base := func() *ebpf.MapSpec {
		return &ebpf.MapSpec{Name: "m", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}
	}
	tests := []struct {
		name    string
		spec    func() *ebpf.MapSpec
		pinning uint32
		id      uint32
		errno   syscall.Errno
	}{
		{"plain", base, PinNone, 0, 0},
		{"pin_by_name", func() *ebpf.MapSpec { s := base(); s.Pinning = ebpf.PinByName; return s }, PinGlobalNS, 0, 0},
		{"elf_map_global", func() *ebpf.MapSpec { s := base(); s.Extra = elfMapTail(7, 2, 0, 0); return s }, PinGlobalNS, 7, 0},
		{"elf_map_object", func() *ebpf.MapSpec { s := base(); s.Extra = elfMapTail(0, 1, 0, 0); return s }, PinObjectNS, 0, 0},
		{"elf_map_custom_pinning", func() *ebpf.MapSpec { s := base(); s.Extra = elfMapTail(0, 3, 0, 0); return s }, 0, 0, syscall.EOPNOTSUPP},
		{"odd_tail", func() *ebpf.MapSpec { s := base(); s.Extra = bytes.NewReader([]byte{1, 2, 3}); return s }, 0, 0, syscall.EINVAL},
		{"long_tail_nonzero", func() *ebpf.MapSpec { s := base(); s.Extra = elfMapTail(0, 0, 0, 0, 9); return s }, 0, 0, syscall.EINVAL},
		{"long_tail_zero", func() *ebpf.MapSpec { s := base(); s.Extra = elfMapTail(0, 2, 0, 0, 0); return s }, PinGlobalNS, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := convertMap(tc.spec())
			if tc.errno != 0 {
				assert.ErrorIs(t, err, tc.errno)
				assert.Nil(t, m)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.pinning, m.Pinning)
			assert.Equal(t, tc.id, m.ID)
			assert.Equal(t, uint32(ebpf.Array), m.Type)
		})
	}
}

func TestInnerIDResolution(t *testing.T) {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"inner": {Name: "inner", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2, Extra: elfMapTail(5, 0, 0, 0)},
		"outer": {Name: "outer", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, Extra: elfMapTail(0, 0, 5, 0)},
	}}
	obj, err := convert(spec, nil, nil)
	require.NoError(t, err)
	require.Len(t, obj.Maps, 2)
	outer := obj.Maps[1]
	require.Equal(t, "outer", outer.Name)
	require.NotNil(t, outer.Inner)
	assert.Equal(t, "inner", outer.Inner.Name)

	spec.Maps["outer"].Extra = elfMapTail(0, 0, 6, 0)
	_, err = convert(spec, nil, nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
}

func TestIsDataSection(t *testing.T) {
	for name, want := range map[string]bool{
		".data": true, ".bss": true, ".rodata": true, ".rodata.str1.1": true, ".data.custom": true,
		"data": false, ".database": false, ".maps": false, "maps": false,
	} {
		assert.Equal(t, want, isDataSection(name), name)
	}
}

func TestLoadObjectRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("\x7fELF"), bytes.Repeat([]byte{0xff}, 64)} {
		obj, err := LoadObject(b)
		assert.Nil(t, obj)
		assert.ErrorIs(t, err, syscall.EINVAL)
	}
}
