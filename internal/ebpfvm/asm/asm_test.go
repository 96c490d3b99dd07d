package asm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/ebpfvm/asm"
)

func TestParseData(t *testing.T) {
	tf, err := asm.ParseData("# header\n-- asm\nmov %r0, 1 # one\n\nexit\n-- mem\n01 02\n03\n-- result\n0X1f\n-- c\nint x; # not a comment\n")
	require.NoError(t, err)
	assert.Equal(t, "mov %r0, 1\nexit", tf.Asm)
	assert.Equal(t, []byte{1, 2, 3}, tf.Mem)
	assert.True(t, tf.HasResult)
	assert.Equal(t, uint64(0x1f), tf.Result)
	assert.False(t, tf.HasError)

	tf, err = asm.ParseData("-- asm\nexit\n-- error\n\n-- unknown thing\n")
	require.NoError(t, err)
	assert.True(t, tf.HasError)
	assert.Equal(t, "", tf.Error)
	assert.Equal(t, "unknown thing", tf.Unknown)

	_, err = asm.ParseData("-- mem\nzz\n")
	require.Error(t, err)
}

func TestParseRaw(t *testing.T) {
	a, err := asm.ParseRaw([]string{"0x5566778800000018", "0x1122334400000000"})
	require.NoError(t, err)
	assert.Equal(t, []ebpfvm.Instruction{{Op: 0x18, Imm: 0x55667788}, {Imm: 0x11223344}}, a)
	b, err := asm.ParseRaw([]string{"07 01 02 00 03 00 00 00"})
	require.NoError(t, err)
	assert.Equal(t, []ebpfvm.Instruction{{Op: 0x07, Dst: 1, Off: 2, Imm: 3}}, b)
}

func TestAssemble(t *testing.T) {
	tests := []struct {
		src  string
		want []ebpfvm.Instruction
	}{
		{"add32 %r1, -1", []ebpfvm.Instruction{{Op: 0x04, Dst: 1, Imm: -1}}},
		{"sdiv %r1, %r2", []ebpfvm.Instruction{{Op: 0x3f, Dst: 1, Src: 2, Off: 1}}},
		{"movsx1632 %r1, %r2", []ebpfvm.Instruction{{Op: 0xbc, Dst: 1, Src: 2, Off: 16}}},
		{"ldxsh %r0, [%r1-2]", []ebpfvm.Instruction{{Op: 0x89, Dst: 0, Src: 1, Off: -2}}},
		{"stdw [%r10-8], 0xffffffff", []ebpfvm.Instruction{{Op: 0x7a, Dst: 10, Off: -8, Imm: -1}}},
		{"lock fetch xor32 [%r10-4], %r3", []ebpfvm.Instruction{{Op: 0xc3, Dst: 10, Src: 3, Off: -4, Imm: 0xa1}}},
		{"swap16 %r3", []ebpfvm.Instruction{{Op: 0xd7, Dst: 3, Imm: 16}}},
		{"be32 %r3", []ebpfvm.Instruction{{Op: 0xdc, Dst: 3, Imm: 32}}},
		{"call %r2", []ebpfvm.Instruction{{Op: 0x8d, Dst: 2}}},
		{"ja32 +1\nexit\nexit", []ebpfvm.Instruction{{Op: 0x06, Imm: 1}, {Op: 0x95}, {Op: 0x95}}},
		{"jsle32 %r1, 5, l\nl:\nexit", []ebpfvm.Instruction{{Op: 0xd6, Dst: 1, Imm: 5, Off: 0}, {Op: 0x95}}},
		{"call local f\nexit\nf:\nexit", []ebpfvm.Instruction{{Op: 0x85, Src: 1, Imm: 1}, {Op: 0x95}, {Op: 0x95}}},
		{"ja exit\nlddw %r1, 0x100000000\nexit", []ebpfvm.Instruction{{Op: 0x05, Off: 2}, {Op: 0x18, Dst: 1}, {Imm: 1}, {Op: 0x95}}},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			got, err := asm.Assemble(tc.src)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAssembleErrors(t *testing.T) {
	tests := []struct{ src, msg string }{
		{"or %r0, %r50", "Invalid register: %r50"},
		{"ja NOT_A_LABEL", "Invalid label: NOT_A_LABEL"},
		{"mov32 %r0, 0x100000000", "Immediate out of 32-bit range: 0x100000000"},
		{"mov32 %r0, 2147483648", "Immediate out of 32-bit range: 2147483648"},
		{"lock or [%r10-8]", "Invalid number of operands for lock"},
		{"ldxq %r0, %r1", "Invalid mnemonic: ldxq"},
		{"ldxb %r0, [%r1+0x10000]", "Invalid offset"},
		{"lddw %r0", "Invalid number of operands for lddw"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := asm.Assemble(tc.src)
			var ae *asm.Error
			require.ErrorAs(t, err, &ae)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}
