package cbpf

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The tc bytecode formats of iproute2's lib/bpf_legacy.c (bpf_parse_string,
// bpf_ops_parse, bpf_print_ops): "N,code jt jf k,code jt jf k,...", the
// output of `tcpdump -ddd` with newlines turned into commas. Parsing follows
// the C code's sscanf calls exactly, including what they tolerate: numbers
// wrap into their fields, text after an instruction's fourth number is
// ignored, and one trailing comma is allowed.

// maxBytecodeFile is the largest normalised bytecode file tc reads:
// sizeof("4096,") + BPF_MAXINSNS * sizeof("65535 255 255 4294967295,").
const maxBytecodeFile = len("4096,") + 1 + uapi.BPF_MAXINSNS*(len("65535 255 255 4294967295,")+1)

// ErrBytecodeFileTooBig is returned by ParseBytecodeFile for input longer
// than tc accepts; it wraps syscall.E2BIG.
var ErrBytecodeFileTooBig = fmt.Errorf("cbpf: bytecode file longer than %d bytes: %w", maxBytecodeFile, syscall.E2BIG)

// BytecodeError is a rejection of bytecode text, carrying tc's message.
// It wraps syscall.EINVAL.
type BytecodeError struct {
	// Index is the instruction that failed to parse, or -1.
	Index int
	// Msg is what tc prints, or a description where tc prints nothing.
	Msg string
}

// Error returns "cbpf: bytecode: " and the message.
func (e *BytecodeError) Error() string {
	return "cbpf: bytecode: " + e.Msg + ": " + syscall.EINVAL.Error()
}

// Unwrap returns syscall.EINVAL.
func (e *BytecodeError) Unwrap() error { return syscall.EINVAL }

// ParseBytecode parses the tc `bytecode` argument, "N,c t f k,c t f k,...",
// as iproute2 does. It does not check the program; Load or Check does.
func ParseBytecode(s string) ([]bpf.RawInstruction, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i] // tc sees a C string
	}
	n, rest, ok := scanUint(s, 16)
	if !ok || len(rest) == 0 || rest[0] != ',' {
		return nil, &BytecodeError{Index: -1, Msg: "missing instruction count followed by ','"}
	}
	if n == 0 || n > uapi.BPF_MAXINSNS {
		return nil, &BytecodeError{Index: -1, Msg: fmt.Sprintf("instruction count %d not in 1..%d", n, uapi.BPF_MAXINSNS)}
	}
	raw := make([]bpf.RawInstruction, 0, n)
	token := s
	for {
		c := strings.IndexByte(token, ',')
		if c < 0 || c+1 == len(token) {
			break
		}
		token = token[c+1:]
		if len(raw) >= int(n) {
			return nil, &BytecodeError{Index: len(raw), Msg: "Real program length exceeds encoded length parameter!"}
		}
		in, ok := scanInsn(token)
		if !ok {
			return nil, &BytecodeError{Index: len(raw), Msg: fmt.Sprintf("Error at instruction %d!", len(raw))}
		}
		raw = append(raw, in)
	}
	if len(raw) != int(n) {
		return nil, &BytecodeError{Index: -1, Msg: "Parsed program length is less than encoded length parameter!"}
	}
	return raw, nil
}

// ParseBytecodeFile parses the contents of a tc `bytecode-file`: the text
// is normalised as tc does (each newline becomes a comma unless a comma
// precedes it, runs of blanks collapse to one) and then parsed as by
// ParseBytecode. Text that normalises to tc's buffer size or more gives
// ErrBytecodeFileTooBig, whatever follows; read errors are returned
// wrapped. r is read to its end otherwise, as tc reads the file.
func ParseBytecodeFile(r io.Reader) ([]bpf.RawInstruction, error) {
	br := bufio.NewReader(r)
	var b strings.Builder
	prev := byte(' ')
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cbpf: read bytecode file: %w", err)
		}
		switch c {
		case '\n':
			if prev != ',' {
				b.WriteByte(',')
			}
			prev = ','
		case ' ', '\t':
			if prev != ' ' {
				b.WriteByte(c)
			}
			prev = ' '
		default:
			b.WriteByte(c)
			prev = c
		}
		if b.Len() == maxBytecodeFile {
			return nil, ErrBytecodeFileTooBig
		}
	}
	return ParseBytecode(b.String())
}

// FormatBytecode prints raw as tc shows it and takes it back:
// "4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0".
func FormatBytecode(raw []bpf.RawInstruction) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(raw)))
	for _, in := range raw {
		fmt.Fprintf(&b, ",%d %d %d %d", in.Op, in.Jt, in.Jf, in.K)
	}
	return b.String()
}

// FormatBytecodeFile prints raw as `tcpdump -ddd` does, the bytecode-file
// form: the count on the first line, then one "code jt jf k" line per
// instruction.
func FormatBytecodeFile(raw []bpf.RawInstruction) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(raw)))
	b.WriteByte('\n')
	for _, in := range raw {
		fmt.Fprintf(&b, "%d %d %d %d\n", in.Op, in.Jt, in.Jf, in.K)
	}
	return b.String()
}

// scanInsn reads "%hu %hhu %hhu %u" from the start of s.
func scanInsn(s string) (bpf.RawInstruction, bool) {
	var v [4]uint64
	bits := [4]int{16, 8, 8, 32}
	for i := range v {
		if i > 0 {
			s = skipSpace(s) // the ' ' directive: any whitespace, possibly none
		}
		n, rest, ok := scanUint(s, bits[i])
		if !ok {
			return bpf.RawInstruction{}, false
		}
		v[i], s = n, rest
	}
	return bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}, true
}

// scanUint is glibc's scanf %u with a size modifier: skip whitespace, an
// optional sign, decimal digits converted as strtoul does (saturating at
// 2^64-1, negated for '-'), then truncated to bits.
func scanUint(s string, bits int) (uint64, string, bool) {
	s = skipSpace(s)
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	var v uint64
	overflow := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		} else {
			v = v*10 + d
		}
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	switch {
	case overflow:
		v = ^uint64(0)
	case neg:
		v = -v
	}
	if bits < 64 {
		v &= 1<<bits - 1
	}
	return v, s[i:], true
}

// skipSpace drops leading C whitespace (isspace).
func skipSpace(s string) string {
	for len(s) > 0 {
		switch s[0] {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			s = s[1:]
		default:
			return s
		}
	}
	return s
}
