package action

import (
	"errors"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerdictValues(t *testing.T) {
	// include/uapi/linux/pkt_cls.h, cls_bpf.md §1.1.
	tests := []struct {
		v    Verdict
		want int64
	}{
		{Unspec, -1},
		{OK, 0},
		{Reclassify, 1},
		{Shot, 2},
		{Pipe, 3},
		{Stolen, 4},
		{Queued, 5},
		{Repeat, 6},
		{Redirect, 7},
		{Trap, 8},
		{ValueMax, 8},
		{ExtJump, 0x10000000},
		{ExtGotoChain, 0x20000000},
		{ExtOpcodeMax, 0x20000000},
		{ExtValueMask, 0x0FFFFFFF},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, int64(tt.v), "%v", tt.v)
	}
	mask := ExtOpcodeMask
	assert.Equal(t, uint32(0xF0000000), uint32(mask))
}

func TestJumpGotoChain(t *testing.T) {
	v, err := Jump(3)
	require.NoError(t, err)
	assert.Equal(t, Verdict(0x10000003), v)
	assert.True(t, v.IsJump())
	assert.False(t, v.IsGotoChain())
	assert.Equal(t, ExtJump, v.ExtOpcode())
	assert.Equal(t, uint32(3), v.ExtValue())

	v, err = GotoChain(0x0FFFFFFF)
	require.NoError(t, err)
	assert.Equal(t, Verdict(0x2FFFFFFF), v)
	assert.True(t, v.IsGotoChain())
	assert.True(t, v.IsExt(ExtGotoChain))
	assert.Equal(t, uint32(0x0FFFFFFF), v.ExtValue())

	v, err = GotoChain(0)
	require.NoError(t, err)
	assert.Equal(t, ExtGotoChain, v)

	_, err = Jump(0x10000000)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = GotoChain(0x10000000)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = GotoChain(math.MaxUint32)
	assert.ErrorIs(t, err, syscall.EINVAL)
}

func TestExtOpcode(t *testing.T) {
	tests := []struct {
		v      Verdict
		op     Verdict
		value  uint32
		jump   bool
		gotoCh bool
	}{
		{OK, 0, 0, false, false},
		{Trap, 0, 8, false, false},
		{Unspec, ExtOpcodeMask, 0x0FFFFFFF, false, false},
		{0x10000000, ExtJump, 0, true, false},
		{0x1000ABCD, ExtJump, 0xABCD, true, false},
		{0x20000007, ExtGotoChain, 7, false, true},
		{0x30000001, 0x30000000, 1, false, false},
		{math.MinInt32, math.MinInt32, 0, false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.op, tt.v.ExtOpcode(), "%#x", uint32(tt.v))
		assert.Equal(t, tt.value, tt.v.ExtValue(), "%#x", uint32(tt.v))
		assert.Equal(t, tt.jump, tt.v.IsJump(), "%#x", uint32(tt.v))
		assert.Equal(t, tt.gotoCh, tt.v.IsGotoChain(), "%#x", uint32(tt.v))
	}
}

// validCases are tcf_action_check_ctrlact's answers; the kernel test
// sends each one in a mirred action.
var validCases = []struct {
	v     Verdict
	valid bool
}{
	{math.MinInt32, true},
	{-0x10000001, true},
	{-2, true},
	{Unspec, true},
	{OK, true},
	{Reclassify, true},
	{Shot, true},
	{Pipe, true},
	{Stolen, true},
	{Queued, true},
	{Repeat, true},
	{Redirect, true},
	{Trap, true},
	{9, false},
	{10, false},
	{0x0FFFFFFF, false},
	{0x10000000, true},
	{0x10000001, true},
	{0x1FFFFFFF, true},
	{0x20000000, true},
	{0x20000005, true},
	{0x2FFFFFFF, true},
	{0x30000000, false},
	{0x40000000, false},
	{0x70000000, false},
	{0x7FFFFFFF, false},
}

func TestValid(t *testing.T) {
	for _, tt := range validCases {
		assert.Equal(t, tt.valid, tt.v.Valid(), "%d (%#x)", int32(tt.v), uint32(tt.v))
		err := tt.v.Validate()
		if tt.valid {
			assert.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, syscall.EINVAL)
		var ce *ControlError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.v, ce.Verdict)
		assert.Contains(t, err.Error(), "invalid control action")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		v    Verdict
		want string
	}{
		{Unspec, "continue"},
		{OK, "pass"},
		{Reclassify, "reclassify"},
		{Shot, "drop"},
		{Pipe, "pipe"},
		{Stolen, "stolen"},
		{Queued, "5"},
		{Repeat, "6"},
		{Redirect, "7"},
		{Trap, "trap"},
		{9, "9"},
		{-2, "-2"},
		{math.MinInt32, "-2147483648"},
		{0x10000000, "jump 0"},
		{0x10000003, "jump 3"},
		{0x1FFFFFFF, "jump 268435455"},
		{0x20000000, "goto chain 0"},
		{0x2000000A, "goto chain 10"},
		{0x30000000, "805306368"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.v.String())
		})
	}
}

// parseCases are parse_action_control's answers (numbers allowed); the
// kernel test gives the word forms to tc.
var parseCases = []struct {
	in   string
	want Verdict
	ok   bool
}{
	{"continue", Unspec, true},
	{"c", Unspec, true},
	{"cont", Unspec, true},
	{"drop", Shot, true},
	{"d", Shot, true},
	{"shot", Shot, true},
	{"s", Shot, true},
	{"sh", Shot, true},
	{"pass", OK, true},
	{"p", OK, true},
	{"pa", OK, true},
	{"ok", OK, true},
	{"o", OK, true},
	{"reclassify", Reclassify, true},
	{"r", Reclassify, true},
	{"pipe", Pipe, true},
	{"pi", Pipe, true},
	{"trap", Trap, true},
	{"t", Trap, true},
	{"goto chain 5", 0x20000005, true},
	{"g c 7", 0x20000007, true},
	{"goto ch 0", 0x20000000, true},
	{"goto chain 268435455", 0x2FFFFFFF, true},
	{"goto chain +3", 0x20000003, true},
	{"goto chain -0", 0x20000000, true},
	{"goto chain 010", 0x2000000A, true},
	{"jump 3", 0x10000003, true},
	{"j 0", 0x10000000, true},
	{"jump 268435455", 0x1FFFFFFF, true},
	{"  jump\t2  ", 0x10000002, true},
	// numbers, as sscanf("%d") reads them
	{"0", OK, true},
	{"4", Stolen, true},
	{"7", Redirect, true},
	{"-1", Unspec, true},
	{"+2", Shot, true},
	{"-0", OK, true},
	{"007", Redirect, true},
	{"805306368", 0x30000000, true},
	{"2147483647", math.MaxInt32, true},
	{"-2147483648", math.MinInt32, true},
	{"4294967295", -1, true},                // low 32 bits of a long
	{"4294967298", 2, true},                 // likewise
	{"99999999999999999999", -1, true},      // strtol saturates at LONG_MAX
	{"-99999999999999999999", 0, true},      // and at LONG_MIN
	{"268435456 3", 0x10000003, true},       // TC_ACT_JUMP as a number
	{"536870912 chain 9", 0x20000009, true}, // TC_ACT_GOTO_CHAIN as a number
	{"268435457", 0x10000001, true},         // a jump with its count: no count word
	// tc's printed word that it does not parse
	{"stolen", Stolen, true},
	// refused
	{"", 0, false},
	{"   ", 0, false},
	{"x", 0, false},
	{"drops", 0, false},
	{"reclassifyx", 0, false},
	{"st", 0, false},
	{"stole", 0, false},
	{"stolenx", 0, false},
	{"queued", 0, false},
	{"redirect", 0, false},
	{"goto", 0, false},
	{"goto 5", 0, false},
	{"goto chain", 0, false},
	{"goto chain x", 0, false},
	{"goto chain -1", 0, false},
	{"goto chain 268435456", 0, false},
	{"goto chain 4294967296", 0, false},
	{"goto chains 1", 0, false},
	{"goto chain 0x5", 0, false},
	{"jump", 0, false},
	{"jump x", 0, false},
	{"jump -1", 0, false},
	{"jump 268435456", 0, false},
	{"jump 1 2", 0, false},
	{"drop now", 0, false},
	{"0x5", 0, false},
	{"5x", 0, false},
	{"1e2", 0, false},
	{"+", 0, false},
	{"-", 0, false},
}

func TestParseVerdict(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.in, func(t *testing.T) {
			v, err := ParseVerdict(tt.in)
			if !tt.ok {
				var pe *ParseVerdictError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.in, pe.Input)
				assert.NotEmpty(t, pe.Reason)
				assert.Zero(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v, "got %d (%#x)", int32(v), uint32(v))
		})
	}
}

func TestParseVerdictErrorMessage(t *testing.T) {
	_, err := ParseVerdict("goto chain 268435456")
	assert.EqualError(t, err, `parse verdict "goto chain 268435456": illegal "chain index" "268435456"`)
	assert.False(t, errors.Is(err, syscall.EINVAL), "a parse error is not a kernel errno")
}

// TestStringRoundTrip checks ParseVerdict(v.String()) == v on the edges of
// every opcode and a bounded random sample of all 32-bit values.
func TestStringRoundTrip(t *testing.T) {
	check := func(v Verdict) {
		got, err := ParseVerdict(v.String())
		if !assert.NoError(t, err, "%#x", uint32(v)) || !assert.Equal(t, v, got, "%q", v.String()) {
			t.FailNow()
		}
	}
	for op := range 16 {
		for _, val := range []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x1FF, 0x0FFFFFFE, 0x0FFFFFFF} {
			check(Verdict(uint32(op)<<28 | val))
		}
	}
	n := 100000
	if testing.Short() {
		n = 10000
	}
	r := rand.New(rand.NewPCG(8, 9))
	for range n {
		check(Verdict(r.Uint32()))
	}
}

func TestVerdictMethodsAllocs(t *testing.T) {
	v := Verdict(0x20000005)
	var sink bool
	var sinkU uint32
	allocs := testing.AllocsPerRun(100, func() {
		sink = v.IsJump() || v.IsGotoChain() || v.Valid() || v.IsExt(ExtJump)
		sinkU = v.ExtValue() + uint32(v.ExtOpcode())
		_ = Shot.Validate()
	})
	assert.Zero(t, allocs)
	_, _ = sink, sinkU
}

// FuzzParseVerdict: no panic; an error is a *ParseVerdictError with a zero
// verdict; an accepted verdict prints to a string that parses back to it,
// and printing is stable.
func FuzzParseVerdict(f *testing.F) {
	for _, tt := range parseCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVerdict(s)
		if err != nil {
			var pe *ParseVerdictError
			require.ErrorAs(t, err, &pe)
			require.Zero(t, v)
			return
		}
		again, err := ParseVerdict(v.String())
		require.NoError(t, err)
		require.Equal(t, v, again)
		require.Equal(t, v.String(), again.String())
		require.Equal(t, v.Valid(), v.Validate() == nil)
	})
}

func BenchmarkVerdict(b *testing.B) {
	b.Run("classify_checks", func(b *testing.B) {
		b.ReportAllocs()
		vs := []Verdict{OK, Shot, Unspec, 0x20000005, 0x10000002, Trap, 9}
		n := 0
		for b.Loop() {
			for _, v := range vs {
				if v.IsGotoChain() || v.IsJump() || v.Valid() {
					n++
				}
			}
		}
		_ = n
	})
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Shot.String()
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ParseVerdict("goto chain 5")
		}
	})
}
