package cbpfvm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// TestCodesMatchSpec pins the opcode table to the list of spec/bpf.md
// §1.2 (chk_code_allowed).
func TestCodesMatchSpec(t *testing.T) {
	spec := []uint16{
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x14, 0x15, 0x16, 0x1c, 0x1d,
		0x20, 0x24, 0x25, 0x28, 0x2c, 0x2d, 0x30, 0x34, 0x35, 0x3c, 0x3d, 0x40, 0x44, 0x45,
		0x48, 0x4c, 0x4d, 0x50, 0x54, 0x5c, 0x60, 0x61, 0x64, 0x6c, 0x74, 0x7c, 0x80, 0x81,
		0x84, 0x87, 0x94, 0x9c, 0xa4, 0xac, 0xb1,
	}
	assert.Equal(t, spec, Codes())
	for code := range 0x10000 {
		assert.Equal(t, contains(spec, uint16(code)), Allowed(uint16(code)), "code %#x", code)
	}
}

func contains(s []uint16, v uint16) bool {
	for _, c := range s {
		if c == v {
			return true
		}
	}
	return false
}

// TestTrace shows the reference interpreter's trace hook.
func TestTrace(t *testing.T) {
	prog := []Insn{
		{Code: 0x00, K: 7},        // ld #7
		{Code: 0x07},              // tax
		{Code: 0x0c},              // add x
		{Code: 0x15, Jt: 1, K: 1}, // jeq #1 jt 5 jf 4
		{Code: 0x16},              // ret a
		{Code: 0x06, K: 9},        // ret #9
	}
	require.Nil(t, Check(prog))
	type step struct {
		pc   int
		a, x uint32
	}
	var steps []step
	env := &Env{Trace: func(pc int, a, x uint32) { steps = append(steps, step{pc, a, x}) }}
	assert.Equal(t, uint32(14), Interpret(prog, &packet.Packet{}, env))
	assert.Equal(t, []step{{0, 0, 0}, {1, 7, 0}, {2, 7, 7}, {3, 14, 7}, {4, 14, 7}}, steps)
}
