package trace

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTraceBounds(t *testing.T) {
	tr := Trace{MaxSteps: 2}
	for range 3 {
		if s := tr.Next(); s != nil {
			s.PC = tr.Executed - 1
		}
	}
	assert.Len(t, tr.Steps, 2)
	assert.True(t, tr.Truncated)
	assert.Equal(t, 3, tr.Executed)
	assert.Equal(t, 1, tr.Last().PC)

	tr.Fault = "x"
	tr.Reset()
	assert.Empty(t, tr.Steps)
	assert.Nil(t, tr.Last())
	assert.False(t, tr.Truncated)
	assert.Zero(t, tr.Executed)
	assert.Empty(t, tr.Fault)
	assert.Equal(t, 2, tr.MaxSteps)
}

func TestStepRegsBounded(t *testing.T) {
	var s Step
	for i := range MaxRegs + 2 {
		s.Read("r", uint64(i))
		s.Write("w", uint64(i))
	}
	assert.Len(t, s.Reads(), MaxRegs)
	assert.Len(t, s.Writes(), MaxRegs)
	assert.Equal(t, Reg{"r", MaxRegs - 1}, s.Reads()[MaxRegs-1])
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		a    Access
		want string
	}{
		{"packet", Access{Region: RegionPacket, Size: 2, Offset: 12, Value: 0x800}, "load pkt[12:2]=0x800"},
		{"net_relative", Access{Region: RegionPacket, Size: 1, Offset: -0x100000 + 9, Value: 6}, "load pkt[-1048567:1]=0x6"},
		{"fault", Access{Region: RegionPacket, Size: 4, Offset: 60, Fault: true}, "load pkt[60:4] fault"},
		{"store", Access{Region: RegionScratch, Write: true, Size: 4, Offset: 3, Value: 1}, "store M[3]=0x1"},
		{"ancillary", Access{Region: RegionAncillary, Size: 4, Offset: 0, Name: "proto", Value: 0x800}, "load anc[proto]=0x800"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.String())
		})
	}
	assert.Equal(t, "region(9)", Region(9).String())

	var tr Trace
	s := tr.Next()
	s.Insn, s.Bytecode, s.Branch = "(001) jeq #0x800 jt 2 jf 3", "21 0 1 2048", BranchTaken
	s.Read("A", 0x800)
	s = tr.Next()
	s.Insn, s.Bytecode, s.Ends = "(002) ret #1", "6 0 0 1", true
	tr.Result = 1
	want := "(001) jeq #0x800 jt 2 jf 3                   | 21 0 1 2048        | read A=0x800 | taken\n" +
		"(002) ret #1                                 | 6 0 0 1\n" +
		"result 0x1\n"
	assert.Equal(t, want, tr.String())
}

func TestCoverage(t *testing.T) {
	insns := []Insn{
		{Bytecode: "0 0 0 1", Text: "(000) ld #0x1"},
		{Bytecode: "21 0 1 1", Text: "(001) jeq #0x1 jt 2 jf 3", Cond: true},
		{Bytecode: "6 0 0 1", Text: "(002) ret #1"},
		{Bytecode: "6 0 0 0", Text: "(003) ret #0"},
	}
	c := NewCoverage(insns)
	insns[0].Text = "changed" // NewCoverage copies
	assert.Equal(t, "(000) ld #0x1", c.Insn(0).Text)
	c.AddRun()
	c.Hit(0)
	c.Hit(1)
	c.Branch(1, true)
	c.Hit(2)
	cov, n, dirs, all := c.Summary()
	assert.Equal(t, [4]int{3, 4, 1, 2}, [4]int{cov, n, dirs, all})

	var b bytes.Buffer
	require.NoError(t, c.WriteText(&b))
	assert.Equal(t, "coverage: 3/4 instructions (75.0%), 1/2 branch directions (50.0%), 1 runs\n"+
		"      hits    taken      not  bytecode             instruction\n"+
		"         1        -        -  0 0 0 1              (000) ld #0x1\n"+
		"~        1        1        0  21 0 1 1             (001) jeq #0x1 jt 2 jf 3\n"+
		"         1        -        -  6 0 0 1              (002) ret #1\n"+
		"!        0        -        -  6 0 0 0              (003) ret #0\n", b.String())

	b.Reset()
	require.NoError(t, c.WriteHTML(&b, "<t>"))
	assert.Contains(t, b.String(), "<title>&lt;t&gt;</title>")
	assert.Contains(t, b.String(), `<span class="cov0" id="pc3" title="0 hits">`)
	assert.Contains(t, b.String(), `<span class="br br-taken" id="br1">jt+ jf-</span>`)

	err := c.Merge(NewCoverage(insns))
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.True(t, strings.Contains(err.Error(), "instruction 0 differs"))
	require.ErrorIs(t, c.Merge(NewCoverage(insns[:2])), syscall.EINVAL)

	empty := NewCoverage(nil)
	b.Reset()
	require.NoError(t, empty.WriteText(&b))
	assert.Contains(t, b.String(), "0/0 instructions (100.0%)")
}
