package asm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// ErrNoProgram is returned by ParseData users when a file has no program
// (the upstream runner's "no BPF instructions").
var ErrNoProgram = errors.New("no BPF instructions")

// TestFile is one parsed `.data` file.
type TestFile struct {
	Asm       string   // the `-- asm` section
	HasAsm    bool     // an `-- asm` header was present
	Raw       []string // the `-- raw` lines
	HasRaw    bool     // a `-- raw` header was present
	Mem       []byte   // the `-- mem` bytes
	HasMem    bool     // a `-- mem` header was present
	Result    uint64   // the `-- result` value
	HasResult bool     // a `-- result` header with a value was present
	Error     string   // the `-- error` text (may be empty)
	HasError  bool     // an `-- error` header was present
	Unknown   string   // the first unknown `-- ` header, if any
}

// ParseData parses a `.data` file. Comments (from '#') and blank lines are
// dropped; text before the first header is ignored; `-- c` and `-- no
// register offset` sections are ignored.
func ParseData(text string) (*TestFile, error) {
	t := &TestFile{}
	section := ""
	var asmLines []string
	var errLines []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "-- ") {
			section = strings.TrimSpace(line[3:])
			switch section {
			case "asm":
				t.HasAsm = true
			case "raw":
				t.HasRaw = true
			case "mem":
				t.HasMem = true
			case "result":
			case "error":
				t.HasError = true
			case "c", "no register offset":
			default:
				if t.Unknown == "" {
					t.Unknown = section
				}
			}
			continue
		}
		if section == "c" {
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch section {
		case "asm":
			asmLines = append(asmLines, line)
		case "raw":
			t.Raw = append(t.Raw, line)
		case "mem":
			for _, f := range strings.Fields(line) {
				b, err := strconv.ParseUint(f, 16, 8)
				if err != nil {
					return nil, fmt.Errorf("mem: bad byte %q: %w", f, err)
				}
				t.Mem = append(t.Mem, byte(b))
			}
		case "result":
			v, err := parseUint64(line)
			if err != nil {
				return nil, fmt.Errorf("result: %w", err)
			}
			t.Result, t.HasResult = v, true
		case "error":
			errLines = append(errLines, line)
		}
	}
	t.Asm = strings.Join(asmLines, "\n")
	t.Error = strings.Join(errLines, "\n")
	return t, nil
}

func parseUint64(s string) (uint64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

// ParseRaw reads a `-- raw` section: either one 64-bit little-endian slot
// value per token ("0x5566778800000018") or eight hex bytes per line in
// memory order ("07 00 01 00 01 00 00 00").
func ParseRaw(lines []string) ([]ebpfvm.Instruction, error) {
	var code []byte
	for _, line := range lines {
		fs := strings.Fields(line)
		if len(fs) == 8 && len(fs[0]) == 2 {
			for _, f := range fs {
				b, err := strconv.ParseUint(f, 16, 8)
				if err != nil {
					return nil, fmt.Errorf("raw: bad byte %q: %w", f, err)
				}
				code = append(code, byte(b))
			}
			continue
		}
		for _, f := range fs {
			v, err := parseUint64(f)
			if err != nil {
				return nil, fmt.Errorf("raw: bad slot %q: %w", f, err)
			}
			for i := 0; i < 8; i++ {
				code = append(code, byte(v>>(8*i)))
			}
		}
	}
	return ebpfvm.Decode(code)
}

var aluCodes = map[string]uint8{
	"add": uapi.BPF_ADD, "sub": uapi.BPF_SUB, "mul": uapi.BPF_MUL, "div": uapi.BPF_DIV,
	"or": uapi.BPF_OR, "and": uapi.BPF_AND, "lsh": uapi.BPF_LSH, "rsh": uapi.BPF_RSH,
	"neg": uapi.BPF_NEG, "mod": uapi.BPF_MOD, "xor": uapi.BPF_XOR, "mov": uapi.BPF_MOV,
	"arsh": uapi.BPF_ARSH, "sdiv": uapi.BPF_DIV, "smod": uapi.BPF_MOD,
}

var jmpCodes = map[string]uint8{
	"jeq": uapi.BPF_JEQ, "jgt": uapi.BPF_JGT, "jge": uapi.BPF_JGE, "jset": uapi.BPF_JSET,
	"jne": uapi.BPF_JNE, "jsgt": uapi.BPF_JSGT, "jsge": uapi.BPF_JSGE, "jlt": uapi.BPF_JLT,
	"jle": uapi.BPF_JLE, "jslt": uapi.BPF_JSLT, "jsle": uapi.BPF_JSLE,
}

var sizeCodes = map[string]uint8{"b": uapi.BPF_B, "h": uapi.BPF_H, "w": uapi.BPF_W, "dw": uapi.BPF_DW}

var atomicCodes = map[string]int32{
	"add": uapi.BPF_ADD, "or": uapi.BPF_OR, "and": uapi.BPF_AND, "xor": uapi.BPF_XOR,
	"xchg": uapi.BPF_XCHG, "cmpxchg": uapi.BPF_CMPXCHG,
}

// item is one assembled instruction with an unresolved target.
type item struct {
	line   int
	ins    ebpfvm.Instruction
	wide   bool   // lddw: second slot follows
	hi     int32  // lddw: upper half
	target string // label or "+N"/"-N" for jumps and local calls
	inImm  bool   // target goes to Imm (ja32, call local) instead of Off
}

// Assemble assembles the conformance dialect.
func Assemble(src string) ([]ebpfvm.Instruction, error) {
	var items []item
	labels := map[string]int{}
	slot := 0
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		if strings.HasSuffix(line, ":") && !strings.ContainsAny(line, " \t") {
			labels[strings.TrimSuffix(line, ":")] = slot
			continue
		}
		it, err := assembleLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		it.line = n + 1
		if it.ins.Op == uapi.BPF_JMP|uapi.BPF_EXIT {
			if _, ok := labels["exit"]; !ok {
				labels["exit"] = slot
			}
		}
		items = append(items, it)
		slot++
		if it.wide {
			slot++
		}
	}
	// "exit" may also refer forward to the first exit instruction.
	if _, ok := labels["exit"]; !ok {
		s := 0
		for _, it := range items {
			if it.ins.Op == uapi.BPF_JMP|uapi.BPF_EXIT {
				labels["exit"] = s
				break
			}
			s++
			if it.wide {
				s++
			}
		}
	}
	var out []ebpfvm.Instruction
	for _, it := range items {
		here := len(out)
		if it.target != "" {
			var rel int
			if it.target[0] == '+' || it.target[0] == '-' {
				v, err := strconv.ParseInt(it.target, 0, 32)
				if err != nil {
					return nil, fail("line %d: Invalid offset: %s", it.line, it.target)
				}
				rel = int(v)
			} else {
				t, ok := labels[it.target]
				if !ok {
					return nil, fail("line %d: Invalid label: %s", it.line, it.target)
				}
				rel = t - here - 1
			}
			if it.inImm {
				it.ins.Imm = int32(rel)
			} else {
				if rel < -32768 || rel > 32767 {
					return nil, fail("line %d: Jump offset out of range: %d", it.line, rel)
				}
				it.ins.Off = int16(rel)
			}
		}
		out = append(out, it.ins)
		if it.wide {
			out = append(out, ebpfvm.Instruction{Imm: it.hi})
		}
	}
	return out, nil
}

func parseReg(s string) (uint8, error) {
	if !strings.HasPrefix(s, "%r") {
		return 0, fail("Invalid register: %s", s)
	}
	n, err := strconv.Atoi(s[2:])
	if err != nil || n < 0 || n > 10 {
		return 0, fail("Invalid register: %s", s)
	}
	return uint8(n), nil
}

// parseImm32 parses a 32-bit immediate: hex up to 0xffffffff (as bits),
// decimal within int32, either with a leading '-'.
func parseImm32(s string) (int32, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	var v uint64
	var err error
	hex := strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X")
	if hex {
		v, err = strconv.ParseUint(body[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(body, 10, 64)
	}
	if err != nil {
		return 0, fail("Invalid immediate: %s", s)
	}
	switch {
	case hex && !neg && v <= 0xffffffff:
		return int32(uint32(v)), nil
	case hex && neg && v <= 0x80000000:
		return int32(-int64(v)), nil
	case !hex && !neg && v <= 0x7fffffff:
		return int32(v), nil
	case !hex && neg && v <= 0x80000000:
		return int32(-int64(v)), nil
	}
	return 0, fail("Immediate out of 32-bit range: %s", s)
}

func parseImm64(s string) (uint64, error) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	var v uint64
	var err error
	if strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X") {
		v, err = strconv.ParseUint(body[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(body, 10, 64)
	}
	if err != nil {
		return 0, fail("Invalid immediate: %s", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// parseMem parses "[%rN]", "[%rN+off]" or "[%rN-off]".
func parseMem(s string) (uint8, int16, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return 0, 0, fail("Invalid memory operand: %s", s)
	}
	body := s[1 : len(s)-1]
	i := strings.IndexAny(body, "+-")
	regS, offS := body, ""
	if i >= 0 {
		regS, offS = body[:i], body[i:]
	}
	r, err := parseReg(regS)
	if err != nil {
		return 0, 0, err
	}
	if offS == "" {
		return r, 0, nil
	}
	v, err := strconv.ParseInt(offS, 0, 64)
	if err != nil || v < -32768 || v > 32767 {
		return 0, 0, fail("Invalid offset: %s", offS)
	}
	return r, int16(v), nil
}

func operands(rest string) []string {
	var out []string
	for _, f := range strings.Split(rest, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func want(mn string, ops []string, n int) error {
	if len(ops) != n {
		return fail("Invalid number of operands for %s", mn)
	}
	return nil
}

func assembleLine(line string) (item, error) {
	mn, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	ops := operands(rest)
	var it item
	switch {
	case mn == "exit":
		if err := want(mn, ops, 0); err != nil {
			return it, err
		}
		it.ins.Op = uapi.BPF_JMP | uapi.BPF_EXIT
		return it, nil
	case mn == "ja" || mn == "ja32":
		if err := want(mn, ops, 1); err != nil {
			return it, err
		}
		it.ins.Op = uapi.BPF_JMP | uapi.BPF_JA
		if mn == "ja32" {
			it.ins.Op, it.inImm = uapi.BPF_JMP32|uapi.BPF_JA, true
		}
		it.target = ops[0]
		return it, nil
	case mn == "call":
		f := strings.Fields(rest)
		switch {
		case len(f) == 2 && f[0] == "local":
			it.ins = ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_CALL, Src: uapi.BPF_PSEUDO_CALL}
			it.target, it.inImm = f[1], true
		case len(f) == 2 && f[0] == "runtime":
			v, err := parseImm32(f[1])
			if err != nil {
				return it, err
			}
			it.ins = ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_CALL, Src: uapi.BPF_PSEUDO_KFUNC_CALL, Imm: v}
		case len(f) == 1 && strings.HasPrefix(f[0], "%"):
			r, err := parseReg(f[0])
			if err != nil {
				return it, err
			}
			it.ins = ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_CALL | uapi.BPF_X, Dst: r}
		case len(f) == 1:
			v, err := parseImm32(f[0])
			if err != nil {
				return it, err
			}
			it.ins = ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_CALL, Imm: v}
		default:
			return it, fail("Invalid number of operands for call")
		}
		return it, nil
	case mn == "lddw":
		if err := want(mn, ops, 2); err != nil {
			return it, err
		}
		r, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		v, err := parseImm64(ops[1])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: r, Imm: int32(uint32(v))}
		it.wide, it.hi = true, int32(uint32(v>>32))
		return it, nil
	case mn == "lock":
		f := strings.Fields(strings.ReplaceAll(rest, ",", " "))
		fetch := false
		if len(f) > 0 && f[0] == "fetch" {
			fetch, f = true, f[1:]
		}
		if len(f) != 3 {
			return it, fail("Invalid number of operands for lock")
		}
		name, size := f[0], uint8(uapi.BPF_DW)
		if strings.HasSuffix(name, "32") {
			name, size = strings.TrimSuffix(name, "32"), uapi.BPF_W
		}
		code, ok := atomicCodes[name]
		if !ok {
			return it, fail("Invalid atomic operation: %s", f[0])
		}
		if fetch {
			code |= uapi.BPF_FETCH
		}
		dst, off, err := parseMem(f[1])
		if err != nil {
			return it, err
		}
		src, err := parseReg(f[2])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: uapi.BPF_STX | uapi.BPF_ATOMIC | size, Dst: dst, Src: src, Off: off, Imm: code}
		return it, nil
	case strings.HasPrefix(mn, "be") || strings.HasPrefix(mn, "le") || strings.HasPrefix(mn, "swap") || strings.HasPrefix(mn, "bswap"):
		if err := want(mn, ops, 1); err != nil {
			return it, err
		}
		r, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		name := strings.TrimLeft(mn, "abcdeglpsw")
		width, err := strconv.Atoi(name)
		if err != nil || (width != 16 && width != 32 && width != 64) {
			return it, fail("Invalid mnemonic: %s", mn)
		}
		op := uint8(uapi.BPF_ALU | uapi.BPF_END | uapi.BPF_TO_LE)
		switch {
		case strings.HasPrefix(mn, "be"):
			op = uapi.BPF_ALU | uapi.BPF_END | uapi.BPF_TO_BE
		case strings.HasPrefix(mn, "swap") || strings.HasPrefix(mn, "bswap"):
			op = uapi.BPF_ALU64 | uapi.BPF_END
		}
		it.ins = ebpfvm.Instruction{Op: op, Dst: r, Imm: int32(width)}
		return it, nil
	case strings.HasPrefix(mn, "movsx"):
		// movsx<from><to>: 832 864 1632 1664 3264
		if err := want(mn, ops, 2); err != nil {
			return it, err
		}
		spec := mn[5:]
		var from int16
		var cls uint8
		switch spec {
		case "832":
			from, cls = 8, uapi.BPF_ALU
		case "864":
			from, cls = 8, uapi.BPF_ALU64
		case "1632":
			from, cls = 16, uapi.BPF_ALU
		case "1664":
			from, cls = 16, uapi.BPF_ALU64
		case "3264":
			from, cls = 32, uapi.BPF_ALU64
		default:
			return it, fail("Invalid mnemonic: %s", mn)
		}
		d, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		s, err := parseReg(ops[1])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: cls | uapi.BPF_MOV | uapi.BPF_X, Dst: d, Src: s, Off: from}
		return it, nil
	case strings.HasPrefix(mn, "ldx"):
		sz := mn[3:]
		mode := uint8(uapi.BPF_MEM)
		if strings.HasPrefix(sz, "s") && sz != "" {
			mode, sz = uapi.BPF_MEMSX, sz[1:]
		}
		size, ok := sizeCodes[sz]
		if !ok {
			return it, fail("Invalid mnemonic: %s", mn)
		}
		if err := want(mn, ops, 2); err != nil {
			return it, err
		}
		d, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		s, off, err := parseMem(ops[1])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: uapi.BPF_LDX | mode | size, Dst: d, Src: s, Off: off}
		return it, nil
	case strings.HasPrefix(mn, "stx") || strings.HasPrefix(mn, "st"):
		isX := strings.HasPrefix(mn, "stx")
		sz := strings.TrimPrefix(mn, "st")
		if isX {
			sz = strings.TrimPrefix(mn, "stx")
		}
		size, ok := sizeCodes[sz]
		if !ok {
			return it, fail("Invalid mnemonic: %s", mn)
		}
		if err := want(mn, ops, 2); err != nil {
			return it, err
		}
		d, off, err := parseMem(ops[0])
		if err != nil {
			return it, err
		}
		if isX {
			s, err := parseReg(ops[1])
			if err != nil {
				return it, err
			}
			it.ins = ebpfvm.Instruction{Op: uapi.BPF_STX | uapi.BPF_MEM | size, Dst: d, Src: s, Off: off}
			return it, nil
		}
		v, err := parseImm32(ops[1])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: uapi.BPF_ST | uapi.BPF_MEM | size, Dst: d, Off: off, Imm: v}
		return it, nil
	}
	base, is32 := strings.CutSuffix(mn, "32")
	if code, ok := jmpCodes[base]; ok {
		if err := want(mn, ops, 3); err != nil {
			return it, err
		}
		cls := uint8(uapi.BPF_JMP)
		if is32 {
			cls = uapi.BPF_JMP32
		}
		d, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: cls | code, Dst: d}
		if strings.HasPrefix(ops[1], "%") {
			s, err := parseReg(ops[1])
			if err != nil {
				return it, err
			}
			it.ins.Op |= uapi.BPF_X
			it.ins.Src = s
		} else {
			v, err := parseImm32(ops[1])
			if err != nil {
				return it, err
			}
			it.ins.Imm = v
		}
		it.target = ops[2]
		return it, nil
	}
	if code, ok := aluCodes[base]; ok {
		cls := uint8(uapi.BPF_ALU64)
		if is32 {
			cls = uapi.BPF_ALU
		}
		var off int16
		if base == "sdiv" || base == "smod" {
			off = 1
		}
		if code == uapi.BPF_NEG {
			if err := want(mn, ops, 1); err != nil {
				return it, err
			}
			d, err := parseReg(ops[0])
			if err != nil {
				return it, err
			}
			it.ins = ebpfvm.Instruction{Op: cls | code, Dst: d}
			return it, nil
		}
		if err := want(mn, ops, 2); err != nil {
			return it, err
		}
		d, err := parseReg(ops[0])
		if err != nil {
			return it, err
		}
		it.ins = ebpfvm.Instruction{Op: cls | code, Dst: d, Off: off}
		if strings.HasPrefix(ops[1], "%") {
			s, err := parseReg(ops[1])
			if err != nil {
				return it, err
			}
			it.ins.Op |= uapi.BPF_X
			it.ins.Src = s
		} else {
			v, err := parseImm32(ops[1])
			if err != nil {
				return it, err
			}
			it.ins.Imm = v
		}
		return it, nil
	}
	return it, fail("Invalid mnemonic: %s", mn)
}

// Error is an assembly error; Msg uses the upstream assembler's wording.
type Error struct{ Msg string }

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

func fail(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }
