package handle

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestConstants(t *testing.T) {
	assert.Equal(t, Handle(0), Unspec)
	assert.Equal(t, Handle(0xFFFFFFFF), Root)
	assert.Equal(t, Handle(0xFFFFFFF1), Ingress)
	assert.Equal(t, Ingress, Clsact)
	assert.Equal(t, Handle(0xFFFFFFF2), IngressParent)
	assert.Equal(t, Handle(0xFFFFFFF3), EgressParent)
	assert.Equal(t, uint16(0xFFE0), MinPriority)
	assert.Equal(t, uint16(0xFFF2), MinIngress)
	assert.Equal(t, uint16(0xFFF3), MinEgress)
	assert.Equal(t, Make(0xFFFF, MinIngress), IngressParent)
	assert.Equal(t, Make(0xFFFF, MinEgress), EgressParent)
	assert.Equal(t, uint32(1), AutoMin)
	assert.Equal(t, uint32(0x7FFFFFFF), AutoMax)
}

func TestMake(t *testing.T) {
	tests := []struct {
		major, minor uint16
		want         Handle
	}{
		{0, 0, 0},
		{1, 0, 0x00010000},
		{1, 0x10, 0x00010010},
		{0, 0xa, 0x0000000a},
		{0xffff, 0xffff, 0xFFFFFFFF},
		{0xffff, 0xfff2, 0xFFFFFFF2},
		{0x1234, 0xabcd, 0x1234abcd},
	}
	for _, tt := range tests {
		h := Make(tt.major, tt.minor)
		assert.Equal(t, tt.want, h)
		assert.Equal(t, tt.major, h.Major())
		assert.Equal(t, tt.minor, h.Minor())
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		h    Handle
		want string
	}{
		{0xFFFFFFFF, "root"},
		{0, "none"},
		{0x00010000, "1:"},
		{0x00010010, "1:10"},
		{0xFFFF0000, "ffff:"},
		{0x0000000A, ":a"},
		{0x00000010, ":10"},
		{0x0000FFFF, ":ffff"},
		{0xFFFFFFF2, "ffff:fff2"},
		{0xFFFFFFF3, "ffff:fff3"},
		{0xFFFFFFF1, "ffff:fff1"},
		{0xFFFFFFFE, "ffff:fffe"},
		{0xABCD1234, "abcd:1234"},
		{0x00FF0001, "ff:1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.h.String())
		})
	}
}

func TestStringAllocs(t *testing.T) {
	h := Make(0x1234, 0x5678)
	allocs := testing.AllocsPerRun(100, func() {
		_ = h.Major()
		_ = h.Minor()
	})
	assert.Zero(t, allocs)
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	h := Make(0x1234, 0x5678)
	for b.Loop() {
		_ = h.String()
	}
}
