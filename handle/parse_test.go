package handle

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// classIDCases are get_tc_classid's answers: every row of the table in
// cls_bpf.md §9.4 and the corners of strtoul. The kernel-differential test
// runs the same table through tc.
var classIDCases = []struct {
	in   string
	want Handle
	ok   bool
}{
	// §9.4
	{"root", 0xFFFFFFFF, true},
	{"none", 0, true},
	{"1:", 0x00010000, true},
	{"1:0", 0x00010000, true},
	{"1:10", 0x00010010, true},
	{"ffff:", 0xFFFF0000, true},
	{":a", 0x0000000A, true},
	{"10", 0x00000010, true},
	{"0x10000", 0x00010000, true},
	// more accepted forms
	{":", 0, true},
	{"0", 0, true},
	{"0:0", 0, true},
	{"ffff:ffff", 0xFFFFFFFF, true},
	{"FFFF:FFF2", 0xFFFFFFF2, true},
	{"0x1:0x2", 0x00010002, true},
	{"0X1:0Xa", 0x0001000A, true},
	{"00001:0010", 0x00010010, true},
	{"ffffffff", 0xFFFFFFFF, true},
	{"fffffff2", 0xFFFFFFF2, true},
	{"12345678", 0x12345678, true},
	{"100000001", 0x00000001, true}, // strtoul's 64-bit value truncated to 32
	{"fffffffffffffffff", 0xFFFFFFFF, true},
	{"-1", 0xFFFFFFFF, true},
	{"-2", 0xFFFFFFFE, true},
	{"+5", 0x00000005, true},
	{"-0:1", 0x00000001, true},
	{"1:-0", 0x00010000, true},
	{"1:+2", 0x00010002, true},
	{" 1:2", 0x00010002, true},
	{"1: 2", 0x00010002, true},
	{"\t1", 0x00000001, true},
	{"100000000", 0, true},          // a bare number is truncated to 32 bits
	{"-ffffffff", 0x00000001, true}, // 2^64 - 0xffffffff, truncated
	// refused
	{"", 0, false},
	{"ROOT", 0, false},
	{"None", 0, false},
	{"ingress", 0, false},
	{"egress", 0, false},
	{"x", 0, false},
	{"g:1", 0, false},
	{"1:g", 0, false},
	{"1:x", 0, false},
	{"1:1x", 0, false},
	{"1x", 0, false},
	{"1:2:3", 0, false},
	{"10000:", 0, false},
	{"10000:1", 0, false},
	{"1:10000", 0, false},
	{":10000", 0, false},
	{"1:-1", 0, false},
	{"10000ffff:1", 0, false}, // the range check sees all 64 bits
	{"1:10000ffff", 0, false}, // so does the minor's
	{"-ffffffff:1", 0, false}, // 2^64 - 0xffffffff as the major
	{"-1:", 0, false},
	{"0x", 0, false},
	{"0x:", 0, false},
	{"1:0x", 0, false},
	{"-", 0, false},
	{"-:1", 0, false},
	{"+", 0, false},
	{" ", 0, false},
	{"1 ", 0, false},
	{"1:2 ", 0, false},
	{"- 1", 0, false},
	{"root ", 0, false},
}

func TestParseClassID(t *testing.T) {
	for _, tt := range classIDCases {
		t.Run(tt.in, func(t *testing.T) {
			h, err := ParseClassID(tt.in)
			if !tt.ok {
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "classid", pe.Kind)
				assert.Equal(t, tt.in, pe.Input)
				assert.NotEmpty(t, pe.Reason)
				assert.Zero(t, h)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h, "got %#x", uint32(h))
		})
	}
}

func TestParseClassIDNUL(t *testing.T) {
	for _, s := range []string{"1\x00", "1:\x002", "\x00"} {
		_, err := ParseClassID(s)
		assert.Error(t, err, "%q", s)
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := ParseClassID("1:10000")
	assert.EqualError(t, err, `parse classid "1:10000": minor number exceeds ffff`)
	_, err = ParseParent("1:x")
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "parent", pe.Kind)
	assert.False(t, errors.Is(err, errors.ErrUnsupported))
}

// qdiscCases are get_qdisc_handle's answers.
var qdiscCases = []struct {
	in   string
	want Handle
	ok   bool
}{
	{"none", 0, true},
	{"1:", 0x00010000, true},
	{"1", 0x00010000, true},
	{"1:0", 0x00010000, true},
	{"1:ab", 0x00010000, true},
	{"1:zz", 0x00010000, true},
	{"1a:", 0x001A0000, true},
	{"0x1a:", 0x001A0000, true},
	{"ffff:", 0xFFFF0000, true},
	{"ffff", 0xFFFF0000, true},
	{"0:", 0, true},
	{"  2", 0x00020000, true},
	{"-0", 0, true},
	{"+7:", 0x00070000, true},
	{"", 0, false},
	{"root", 0, false},
	{":", 0, false},
	{":1", 0, false},
	{"10000", 0, false},
	{"10000:", 0, false},
	{"100000001:", 0, false},
	{"-1:", 0, false},
	{"1x", 0, false},
	{"1 :", 0, false},
	{"0x", 0, false},
	{"x:", 0, false},
}

func TestParseQdisc(t *testing.T) {
	for _, tt := range qdiscCases {
		t.Run(tt.in, func(t *testing.T) {
			h, err := ParseQdisc(tt.in)
			if !tt.ok {
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "qdisc handle", pe.Kind)
				assert.Zero(t, h)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h, "got %#x", uint32(h))
		})
	}
}

// filterCases are get_u32(str, 0)'s answers for tc's bpf "handle".
var filterCases = []struct {
	in   string
	want uint32
	ok   bool
}{
	{"0", 0, true},
	{"1", 1, true},
	{"10", 10, true},
	{"0x10", 0x10, true},
	{"0X1f", 0x1F, true},
	{"010", 8, true},
	{"0777", 0777, true},
	{"4294967295", 0xFFFFFFFF, true},
	{"0xffffffff", 0xFFFFFFFF, true},
	{"037777777777", 0xFFFFFFFF, true},
	{"2147483647", 0x7FFFFFFF, true},
	{"-0", 0, true},
	{"+5", 5, true},
	{" 7", 7, true},
	{"00", 0, true},
	{"", 0, false},
	{"4294967296", 0, false},
	{"0x100000000", 0, false},
	{"99999999999999999999999", 0, false},
	{"-1", 0, false},
	{"-4294967295", 0, false},
	{"08", 0, false},
	{"09", 0, false},
	{"0x", 0, false},
	{"0xg", 0, false},
	{"0b1", 0, false},
	{"1:", 0, false},
	{"1:1", 0, false},
	{"a", 0, false},
	{"12a", 0, false},
	{"7 ", 0, false},
	{" ", 0, false},
	{"-", 0, false},
	{"1e3", 0, false},
}

func TestParseFilter(t *testing.T) {
	for _, tt := range filterCases {
		t.Run(tt.in, func(t *testing.T) {
			h, err := ParseFilter(tt.in)
			if !tt.ok {
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "filter handle", pe.Kind)
				assert.Zero(t, h)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
		})
	}
}

func TestParseParent(t *testing.T) {
	tests := []struct {
		in   string
		want Handle
		ok   bool
	}{
		{"ingress", 0xFFFFFFF2, true},
		{"egress", 0xFFFFFFF3, true},
		{"root", 0xFFFFFFFF, true},
		{"none", 0, true},
		{"1:", 0x00010000, true},
		{"ffff:fff2", 0xFFFFFFF2, true},
		{"clsact", 0, false},
		{"Ingress", 0, false},
		{"ingress:", 0, false},
		{"1:x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, err := ParseParent(tt.in)
			if !tt.ok {
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "parent", pe.Kind)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
		})
	}
}

// TestStringParseRoundTrip checks ParseClassID(h.String()) == h over the
// edges of both halves and a bounded random sample.
func TestStringParseRoundTrip(t *testing.T) {
	edges := []uint16{0, 1, 2, 9, 0xa, 0xf, 0x10, 0xff, 0x100, 0x7fff, 0x8000, 0xfff0, 0xfff1, 0xfff2, 0xfff3, 0xfffe, 0xffff}
	check := func(h Handle) {
		got, err := ParseClassID(h.String())
		if !assert.NoError(t, err, "%#x", uint32(h)) || !assert.Equal(t, h, got, "%#x -> %q", uint32(h), h.String()) {
			t.FailNow()
		}
	}
	for _, maj := range edges {
		for _, min := range edges {
			check(Make(maj, min))
		}
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		check(Handle(r.Uint32()))
	}
	// Qdisc handles print as "major:" and parse back.
	for _, maj := range edges {
		h := Make(maj, 0)
		got, err := ParseQdisc(h.String())
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
}

func TestStrtoul(t *testing.T) {
	tests := []struct {
		in       string
		base     int
		v        uint64
		end      int
		overflow bool
	}{
		{"", 16, 0, 0, false},
		{"z", 16, 0, 0, false},
		{"  ", 16, 0, 0, false},
		{"1f", 16, 0x1f, 2, false},
		{"0x1f", 16, 0x1f, 4, false},
		{"0x", 16, 0, 1, false},
		{" -0x", 16, 0, 3, false},
		{"0xz", 0, 0, 1, false},
		{"0x10", 0, 0x10, 4, false},
		{"017", 0, 017, 3, false},
		{"019", 0, 01, 2, false},
		{"19", 0, 19, 2, false},
		{"-1", 10, 1<<64 - 1, 2, false},
		{"-2", 16, 1<<64 - 2, 2, false},
		{"ffffffffffffffff", 16, 1<<64 - 1, 16, false},
		{"10000000000000000", 16, 1<<64 - 1, 17, true},
		{"-10000000000000000", 16, 1<<64 - 1, 18, true},
		{"18446744073709551615", 10, 1<<64 - 1, 20, false},
		{"18446744073709551616", 10, 1<<64 - 1, 20, true},
		{"\v\f\r\n\t 5x", 10, 5, 7, false},
	}
	for _, tt := range tests {
		v, end, overflow := strtoul(tt.in, tt.base)
		assert.Equal(t, tt.v, v, "%q", tt.in)
		assert.Equal(t, tt.end, end, "%q", tt.in)
		assert.Equal(t, tt.overflow, overflow, "%q", tt.in)
	}
}

func BenchmarkParseClassID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseClassID("ffff:fff2")
	}
}
