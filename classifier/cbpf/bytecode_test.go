package cbpf

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The tc bytecode formats (iproute2 lib/bpf_legacy.c, spec/cls_bpf.md
// §9.3). TestKernelBytecode feeds the same strings to the real tc.

// bytecodeCase is one bytecode text and what parsing it gives.
type bytecodeCase struct {
	name string
	text string
	file bool                 // a bytecode-file, not the bytecode argument
	want []bpf.RawInstruction // nil: an error
	msg  string               // part of the error message
}

var bytecodeCases = []bytecodeCase{
	{name: "tcpdump_ip", text: "4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0", want: []bpf.RawInstruction{
		{Op: 40, K: 12}, {Op: 21, Jf: 1, K: 2048}, {Op: 6, K: 262144}, {Op: 6},
	}},
	{name: "trailing_comma", text: "1,6 0 0 7,", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "two_trailing_commas", text: "1,6 0 0 7,,", msg: "Real program length exceeds"},
	{name: "leading_blanks", text: " \t1,6 0 0 7", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "blank_before_comma", text: "1 ,6 0 0 7", msg: "instruction count"},
	{name: "no_count", text: "6 0 0 7", msg: "instruction count"},
	{name: "count_only", text: "1", msg: "instruction count"},
	{name: "count_zero", text: "0,6 0 0 7", msg: "not in 1..4096"},
	{name: "count_4097", text: "4097,6 0 0 7", msg: "not in 1..4096"},
	{name: "count_wraps_to_1", text: "65537,6 0 0 7", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "fields_wrap", text: "1,65542 256 257 4294967302", want: []bpf.RawInstruction{{Op: 6, Jt: 0, Jf: 1, K: 6}}},
	{name: "minus_one", text: "1,6 0 0 -1", want: []bpf.RawInstruction{{Op: 6, K: 0xffffffff}}},
	{name: "plus_sign", text: "1,+6 +0 +0 +9", want: []bpf.RawInstruction{{Op: 6, K: 9}}},
	{name: "huge_saturates", text: "1,6 0 0 99999999999999999999999", want: []bpf.RawInstruction{{Op: 6, K: 0xffffffff}}},
	{name: "junk_after_fourth", text: "1,6 0 0 7 and more", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "newlines_inside", text: "1,6\n0\n0\n7", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "three_numbers", text: "1,6 0 0", msg: "Error at instruction 0!"},
	{name: "letters", text: "1,x 0 0 0", msg: "Error at instruction 0!"},
	{name: "hex_not_read", text: "1,0x6 0 0 0", msg: "Error at instruction 0!"},
	{name: "comma_separated_fields", text: "1,6,0,0,7", msg: "Error at instruction 0!"},
	{name: "empty_instruction", text: "2,,6 0 0 7", msg: "Error at instruction 0!"},
	{name: "fewer_than_count", text: "2,6 0 0 7", msg: "less than encoded length"},
	{name: "more_than_count", text: "1,6 0 0 7,6 0 0 8", msg: "Real program length exceeds"},
	{name: "nul_ends_text", text: "1,6 0 0 7\x00,6 0 0 8", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "file_tcpdump_ddd", file: true, text: "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n", want: []bpf.RawInstruction{
		{Op: 40, K: 12}, {Op: 21, Jf: 1, K: 2048}, {Op: 6, K: 262144}, {Op: 6},
	}},
	{name: "file_blank_runs_and_empty_lines", file: true, text: "2\n\n6  0\t\t0   7\n\n6 0 0 8\n\n", want: []bpf.RawInstruction{
		{Op: 6, K: 7}, {Op: 6, K: 8},
	}},
	{name: "file_commas_and_newlines", file: true, text: "2,\n6 0 0 7,\n6 0 0 8", want: []bpf.RawInstruction{
		{Op: 6, K: 7}, {Op: 6, K: 8},
	}},
	{name: "file_crlf", file: true, text: "1\r\n6 0 0 7\r\n", msg: "instruction count"},
	{name: "file_no_final_newline", file: true, text: "1\n6 0 0 7", want: []bpf.RawInstruction{{Op: 6, K: 7}}},
	{name: "file_empty", file: true, text: "", msg: "instruction count"},
}

func TestParseBytecode(t *testing.T) {
	for _, c := range bytecodeCases {
		t.Run(c.name, func(t *testing.T) {
			var got []bpf.RawInstruction
			var err error
			if c.file {
				got, err = ParseBytecodeFile(strings.NewReader(c.text))
			} else {
				got, err = ParseBytecode(c.text)
			}
			if c.want == nil {
				require.Error(t, err)
				require.ErrorIs(t, err, syscall.EINVAL)
				var be *BytecodeError
				require.True(t, errors.As(err, &be))
				assert.Contains(t, err.Error(), c.msg)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			again, err := ParseBytecode(FormatBytecode(got))
			require.NoError(t, err)
			assert.Equal(t, got, again, "FormatBytecode round trip")
			again, err = ParseBytecodeFile(strings.NewReader(FormatBytecodeFile(got)))
			require.NoError(t, err)
			assert.Equal(t, got, again, "FormatBytecodeFile round trip")
		})
	}
}

func TestParseBytecodeFileLimits(t *testing.T) {
	full := FormatBytecodeFile(repeat(uapi.BPF_MAXINSNS, bpf.RawInstruction{Op: 65535, Jt: 255, Jf: 255, K: 4294967295}))
	got, err := ParseBytecodeFile(strings.NewReader(full))
	require.NoError(t, err, "the longest program tc can print fits its buffer")
	assert.Len(t, got, uapi.BPF_MAXINSNS)

	_, err = ParseBytecodeFile(strings.NewReader(full + strings.Repeat("x", maxBytecodeFile-len(full)-1)))
	require.Error(t, err)
	require.NotErrorIs(t, err, syscall.E2BIG, "one byte short of the buffer is read whole")

	_, err = ParseBytecodeFile(strings.NewReader(full + strings.Repeat("x", maxBytecodeFile-len(full))))
	require.ErrorIs(t, err, syscall.E2BIG)
	require.ErrorIs(t, err, ErrBytecodeFileTooBig)

	_, err = ParseBytecodeFile(strings.NewReader("1" + strings.Repeat("\n", 2*maxBytecodeFile) + "6 0 0 0" + strings.Repeat(" ", 2*maxBytecodeFile)))
	require.NoError(t, err, "newlines after a comma and blank runs take no room")
	_, err = ParseBytecodeFile(strings.NewReader("\n1\n6 0 0 0"))
	require.Error(t, err, "a leading newline becomes a leading comma")

	readErr := errors.New("disk on fire")
	_, err = ParseBytecodeFile(iotest.ErrReader(readErr))
	require.ErrorIs(t, err, readErr)
}

func TestFormatBytecode(t *testing.T) {
	raw, err := ParseBytecode(bytecodeTCPDst80)
	require.NoError(t, err)
	assert.Equal(t, bytecodeTCPDst80, FormatBytecode(raw))
	assert.Equal(t, "11\n40 0 0 12\n21 0 8 2048\n48 0 0 23\n21 0 6 6\n40 0 0 20\n69 4 0 8191\n"+
		"177 0 0 14\n72 0 0 16\n21 0 1 80\n6 0 0 262144\n6 0 0 0\n", FormatBytecodeFile(raw))
}

func FuzzBytecode(f *testing.F) {
	for _, c := range bytecodeCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := ParseBytecode(s)
		if err != nil {
			if !errors.Is(err, syscall.EINVAL) || raw != nil {
				t.Fatalf("error %v with result %v", err, raw)
			}
		} else {
			if len(raw) == 0 || len(raw) > uapi.BPF_MAXINSNS {
				t.Fatalf("%d instructions", len(raw))
			}
			again, err := ParseBytecode(FormatBytecode(raw))
			if err != nil || len(again) != len(raw) {
				t.Fatalf("round trip: %v", err)
			}
			for i := range raw {
				if raw[i] != again[i] {
					t.Fatalf("round trip changes instruction %d", i)
				}
			}
			_ = Check(raw)
		}
		if _, err := ParseBytecodeFile(strings.NewReader(s)); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.E2BIG) {
			t.Fatalf("file: %v", err)
		}
	})
}
