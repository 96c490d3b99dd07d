package nlattr

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bpfPolicy is cls_bpf's bpf_policy (net/sched/cls_bpf.c).
var bpfPolicy = []Policy{
	3: {Type: U32},
	4: {Type: U16},
	5: {Type: Binary, Len: 8 * 4096},
	6: {Type: U32},
	7: {Type: NulString, Len: 256},
	8: {Type: U32},
	9: {Type: U32},
}

func TestParsePolicy(t *testing.T) {
	name := func(n int, tail string) []byte {
		return append(bytes.Repeat([]byte("a"), n), tail...)
	}
	// Rows measured on Linux 6.18 (spec cls_bpf.md §1.6).
	tests := []struct {
		name string
		typ  uint16
		data []byte
		want error
	}{
		{"ops_len_1_byte", 4, []byte{1}, syscall.ERANGE},
		{"ops_len_4_bytes", 4, []byte{1, 0, 0, 0}, nil},
		{"flags_2_bytes", 8, []byte{1, 0}, syscall.ERANGE},
		{"classid_2_bytes", 3, []byte{1, 0}, syscall.ERANGE},
		{"classid_8_bytes", 3, make([]byte, 8), nil},
		{"fd_2_bytes", 6, []byte{1, 0}, syscall.ERANGE},
		{"ops_32776_bytes", 5, make([]byte, 32776), syscall.ERANGE},
		{"ops_32768_bytes", 5, make([]byte, 32768), nil},
		{"name_without_nul", 7, []byte("abc"), syscall.EINVAL},
		{"name_empty", 7, nil, syscall.EINVAL},
		{"name_256_without_nul", 7, name(256, ""), syscall.EINVAL},
		{"name_257_with_nul", 7, name(257, "\x00"), syscall.EINVAL},
		{"name_300_with_nul", 7, name(300, "\x00"), syscall.EINVAL},
		{"name_nul_only", 7, []byte{0}, nil},
		{"name_256_with_nul", 7, name(256, "\x00"), nil},
		{"name_255_two_nuls", 7, name(255, "\x00\x00"), nil},
		{"name_abc_nul_252", 7, append([]byte("abc\x00"), name(252, "")...), nil},
		{"name_abc_nul_300", 7, append([]byte("abc\x00"), name(300, "")...), syscall.ERANGE},
		{"name_256_two_nuls", 7, name(256, "\x00\x00"), syscall.ERANGE},
		{"unknown_type_12", 12, []byte{1}, nil},
		{"type_0", 0, []byte{1}, nil},
		{"type_0x3fff", 0x3FFF, nil, nil},
		{"act_any_payload", 1, []byte{1, 2, 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Append(nil, tt.typ, tt.data)
			tb, err := Parse(b, 11, bpfPolicy)
			if tt.want != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.want)
				var e *Error
				require.True(t, errors.As(err, &e))
				assert.Equal(t, tt.typ, e.Type)
				assert.Nil(t, tb)
				return
			}
			require.NoError(t, err)
			if tt.typ > 0 && tt.typ <= 11 {
				require.True(t, tb.Has(tt.typ))
				assert.Equal(t, tt.data, []byte(tb[tt.typ].Data)[:len(tt.data):len(tt.data)])
			}
		})
	}
}

func TestParseStream(t *testing.T) {
	t.Run("last_duplicate_wins", func(t *testing.T) {
		b := AppendUint32(nil, 3, 1)
		b = AppendUint32(b, 3, 2)
		tb, err := Parse(b, 11, bpfPolicy)
		require.NoError(t, err)
		assert.Equal(t, uint32(2), tb.Uint32(3))
	})
	t.Run("every_duplicate_validated", func(t *testing.T) {
		b := Append(nil, 3, []byte{1})
		b = AppendUint32(b, 3, 2)
		_, err := Parse(b, 11, bpfPolicy)
		assert.ErrorIs(t, err, syscall.ERANGE)
	})
	t.Run("nested_flag_masked", func(t *testing.T) {
		b := AppendUint32(nil, 3|0x8000, 7)
		tb, err := Parse(b, 11, bpfPolicy)
		require.NoError(t, err)
		assert.Equal(t, uint32(7), tb.Uint32(3))
		assert.Equal(t, uint16(0x8000), tb[3].Flags)
	})
	t.Run("trailing_garbage_ignored", func(t *testing.T) {
		b := AppendUint32(nil, 3, 7)
		b = append(b, 0xFF, 0xFF, 0xFF)
		tb, err := Parse(b, 11, bpfPolicy)
		require.NoError(t, err)
		assert.True(t, tb.Has(3))
	})
	t.Run("short_header_ends_walk", func(t *testing.T) {
		b := []byte{2, 0, 3, 0}
		b = AppendUint32(b, 3, 7)
		tb, err := Parse(b, 11, bpfPolicy)
		require.NoError(t, err)
		assert.False(t, tb.Has(3))
	})
	t.Run("overlong_header_ends_walk", func(t *testing.T) {
		b := []byte{200, 0, 3, 0, 1, 2, 3, 4}
		tb, err := Parse(b, 11, bpfPolicy)
		require.NoError(t, err)
		assert.False(t, tb.Has(3))
	})
	t.Run("unaligned_last_attribute", func(t *testing.T) {
		b := []byte{5, 0, 12, 0, 1}
		n := Walk(b, func(Attr) bool { return true })
		assert.Equal(t, 0, n)
	})
	t.Run("leftover_count", func(t *testing.T) {
		b := AppendUint32(nil, 3, 7)
		b = append(b, 1, 2)
		assert.Equal(t, 2, Walk(b, func(Attr) bool { return true }))
	})
}

func FuzzParse(f *testing.F) {
	f.Add(AppendUint32(nil, 3, 0x10010))
	f.Add(AppendString(nil, 7, "x"))
	f.Add([]byte{4, 0, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tb, err := Parse(b, 11, bpfPolicy)
		if (err == nil) == (tb == nil) {
			t.Fatalf("error %v with table %v", err, tb)
		}
		for typ, a := range tb {
			if a == nil || typ >= len(bpfPolicy) {
				continue
			}
			if verr := Validate(*a, bpfPolicy[typ]); verr != nil {
				t.Fatalf("kept attribute %d fails validation: %v", typ, verr)
			}
		}
	})
}
