package ebpfvm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestFuseForms pins which instructions fuse, so that the run tests in
// fuse_test.go exercise the fused forms and not only the plain ones.
func TestFuseForms(t *testing.T) {
	prog := []Instruction{
		{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_W, Dst: 2, Src: 1, Off: 76}, // r2 = skb->data
		{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_W, Dst: 3, Src: 1, Off: 80}, // r3 = skb->data_end
		{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 4, Src: 2},        // r4 = r2
		{Op: uapi.BPF_ALU64 | uapi.BPF_ADD | uapi.BPF_K, Dst: 4, Imm: 14},       // r4 += 14
		{Op: uapi.BPF_JMP | uapi.BPF_JGT | uapi.BPF_X, Dst: 4, Src: 3, Off: 4},  // if r4 > r3 goto drop
		{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_H, Dst: 0, Src: 2, Off: 12}, // r0 = *(u16 *)(r2 + 12)
		{Op: uapi.BPF_JMP | uapi.BPF_JNE | uapi.BPF_K, Dst: 0, Imm: 8, Off: 2},  // if r0 != 8 goto drop
		{Op: uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_B, Imm: 23},                  // r0 = ldb [23]
		{Op: uapi.BPF_JMP | uapi.BPF_JGT | uapi.BPF_K, Dst: 0, Imm: 6, Off: 0},  // if r0 > 6 goto +0
		{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_K, Dst: 0, Imm: 0},        // drop: r0 = 0
		{Op: uapi.BPF_JMP | uapi.BPF_EXIT},                                      // exit
	}
	// LD_ABS needs the context in R6.
	prog = append([]Instruction{{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 6, Src: 1}}, prog...) // r6 = r1
	p, err := Load(prog, Options{})
	require.NoError(t, err)
	want := []opcode{opMov64X, opCtxData, opCtxDataEnd, opMovAddKJgtX, opAddKJgtX, opJgtX, opLdxHJ, opJneK, opLdAbsBJ, opJgtK, opRetK, opExit}
	got := make([]opcode, len(p.insns))
	for i, in := range p.insns {
		got[i] = in.op
	}
	assert.Equal(t, want, got)
}
