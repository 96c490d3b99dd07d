package cbpfvm

import (
	"fmt"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The opcode table: every classic opcode the kernel accepts
// (net/core/filter.c chk_code_allowed), with the mnemonic and operand form
// the disassembler prints and the kind of pre-decoded instruction it
// becomes. The checker, both engines and the disassembler read it; an
// opcode missing here does not exist.

// operand is how an instruction's operand is printed.
type operand uint8

const (
	opdNone operand = iota // neg, tax, txa
	opdAbs                 // [k]
	opdInd                 // [x + k]
	opdLen                 // #pktlen
	opdImm                 // #0x%x
	opdDec                 // #%d
	opdMem                 // M[k]
	opdMsh                 // 4*([k]&0xf)
	opdX                   // x
	opdJA                  // absolute target
	opdJK                  // #0x%x, jt, jf
	opdJX                  // x, jt, jf
	opdRetK                // #k in decimal
	opdRetA                // a
)

// opInfo describes one accepted opcode.
type opInfo struct {
	name    string
	operand operand
	kind    kind // the pre-decoded kind; ABS/IND/MSH loads are refined by offset
}

// maxCode bounds the table: no accepted opcode is larger than LDX|B|MSH.
const maxCode = uapi.BPF_LDX | uapi.BPF_B | uapi.BPF_MSH

const (
	ld   = uapi.BPF_LD
	ldx  = uapi.BPF_LDX
	alu  = uapi.BPF_ALU
	jmp  = uapi.BPF_JMP
	ret  = uapi.BPF_RET
	misc = uapi.BPF_MISC
)

var opTable = [maxCode + 1]opInfo{
	ld | uapi.BPF_W | uapi.BPF_ABS:  {"ld", opdAbs, kLdAbsW},
	ld | uapi.BPF_H | uapi.BPF_ABS:  {"ldh", opdAbs, kLdAbsH},
	ld | uapi.BPF_B | uapi.BPF_ABS:  {"ldb", opdAbs, kLdAbsB},
	ld | uapi.BPF_W | uapi.BPF_IND:  {"ld", opdInd, kLdIndW},
	ld | uapi.BPF_H | uapi.BPF_IND:  {"ldh", opdInd, kLdIndH},
	ld | uapi.BPF_B | uapi.BPF_IND:  {"ldb", opdInd, kLdIndB},
	ld | uapi.BPF_W | uapi.BPF_LEN:  {"ld", opdLen, kLdLen},
	ld | uapi.BPF_IMM:               {"ld", opdImm, kLdImm},
	ld | uapi.BPF_MEM:               {"ld", opdMem, kLdMem},
	ldx | uapi.BPF_W | uapi.BPF_LEN: {"ldx", opdLen, kLdxLen},
	ldx | uapi.BPF_B | uapi.BPF_MSH: {"ldxb", opdMsh, kLdxMsh},
	ldx | uapi.BPF_IMM:              {"ldx", opdImm, kLdxImm},
	ldx | uapi.BPF_MEM:              {"ldx", opdMem, kLdxMem},
	uapi.BPF_ST:                     {"st", opdMem, kSt},
	uapi.BPF_STX:                    {"stx", opdMem, kStx},

	alu | uapi.BPF_ADD | uapi.BPF_K: {"add", opdDec, kAddK},
	alu | uapi.BPF_SUB | uapi.BPF_K: {"sub", opdDec, kSubK},
	alu | uapi.BPF_MUL | uapi.BPF_K: {"mul", opdDec, kMulK},
	alu | uapi.BPF_DIV | uapi.BPF_K: {"div", opdDec, kDivK},
	alu | uapi.BPF_MOD | uapi.BPF_K: {"mod", opdDec, kModK},
	alu | uapi.BPF_AND | uapi.BPF_K: {"and", opdImm, kAndK},
	alu | uapi.BPF_OR | uapi.BPF_K:  {"or", opdImm, kOrK},
	alu | uapi.BPF_XOR | uapi.BPF_K: {"xor", opdImm, kXorK},
	alu | uapi.BPF_LSH | uapi.BPF_K: {"lsh", opdDec, kLshK},
	alu | uapi.BPF_RSH | uapi.BPF_K: {"rsh", opdDec, kRshK},
	alu | uapi.BPF_ADD | uapi.BPF_X: {"add", opdX, kAddX},
	alu | uapi.BPF_SUB | uapi.BPF_X: {"sub", opdX, kSubX},
	alu | uapi.BPF_MUL | uapi.BPF_X: {"mul", opdX, kMulX},
	alu | uapi.BPF_DIV | uapi.BPF_X: {"div", opdX, kDivX},
	alu | uapi.BPF_MOD | uapi.BPF_X: {"mod", opdX, kModX},
	alu | uapi.BPF_AND | uapi.BPF_X: {"and", opdX, kAndX},
	alu | uapi.BPF_OR | uapi.BPF_X:  {"or", opdX, kOrX},
	alu | uapi.BPF_XOR | uapi.BPF_X: {"xor", opdX, kXorX},
	alu | uapi.BPF_LSH | uapi.BPF_X: {"lsh", opdX, kLshX},
	alu | uapi.BPF_RSH | uapi.BPF_X: {"rsh", opdX, kRshX},
	alu | uapi.BPF_NEG:              {"neg", opdNone, kNeg},

	jmp | uapi.BPF_JA:                {"ja", opdJA, kJA},
	jmp | uapi.BPF_JEQ | uapi.BPF_K:  {"jeq", opdJK, kJeqK},
	jmp | uapi.BPF_JGT | uapi.BPF_K:  {"jgt", opdJK, kJgtK},
	jmp | uapi.BPF_JGE | uapi.BPF_K:  {"jge", opdJK, kJgeK},
	jmp | uapi.BPF_JSET | uapi.BPF_K: {"jset", opdJK, kJsetK},
	jmp | uapi.BPF_JEQ | uapi.BPF_X:  {"jeq", opdJX, kJeqX},
	jmp | uapi.BPF_JGT | uapi.BPF_X:  {"jgt", opdJX, kJgtX},
	jmp | uapi.BPF_JGE | uapi.BPF_X:  {"jge", opdJX, kJgeX},
	jmp | uapi.BPF_JSET | uapi.BPF_X: {"jset", opdJX, kJsetX},

	ret | uapi.BPF_K: {"ret", opdRetK, kRetK},
	ret | uapi.BPF_A: {"ret", opdRetA, kRetA},

	misc | uapi.BPF_TAX: {"tax", opdNone, kTax},
	misc | uapi.BPF_TXA: {"txa", opdNone, kTxa},
}

// lookup returns the table entry of code and whether the kernel accepts it.
func lookup(code uint16) (opInfo, bool) {
	if int(code) >= len(opTable) || opTable[code].name == "" {
		return opInfo{}, false
	}
	return opTable[code], true
}

// Allowed reports whether the kernel's checker accepts code as an opcode
// (chk_code_allowed).
func Allowed(code uint16) bool {
	_, ok := lookup(code)
	return ok
}

// Codes returns every accepted opcode in increasing order.
func Codes() []uint16 {
	var c []uint16
	for code := range opTable {
		if opTable[code].name != "" {
			c = append(c, uint16(code))
		}
	}
	return c
}

// ancillary describes one SKF_AD_* extension.
type ancillary struct {
	name string // as the disassembler prints it, in brackets
	kind kind
}

// ancTable maps n (k = SKF_AD_OFF + n) to the extension, as bpf_anc_helper
// does; a zero entry is not an extension.
var ancTable = [uapi.SKF_AD_MAX]ancillary{
	uapi.SKF_AD_PROTOCOL:         {"proto", kAncProtocol},
	uapi.SKF_AD_PKTTYPE:          {"type", kAncPktType},
	uapi.SKF_AD_IFINDEX:          {"ifidx", kAncIfindex},
	uapi.SKF_AD_NLATTR:           {"nla", kAncNlattr},
	uapi.SKF_AD_NLATTR_NEST:      {"nlan", kAncNlattrNest},
	uapi.SKF_AD_MARK:             {"mark", kAncMark},
	uapi.SKF_AD_QUEUE:            {"queue", kAncQueue},
	uapi.SKF_AD_HATYPE:           {"hatype", kAncHatype},
	uapi.SKF_AD_RXHASH:           {"rxhash", kAncRxhash},
	uapi.SKF_AD_CPU:              {"cpu", kAncCPU},
	uapi.SKF_AD_ALU_XOR_X:        {"xor_x", kAncXorX},
	uapi.SKF_AD_VLAN_TAG:         {"vlan_tci", kAncVlanTag},
	uapi.SKF_AD_VLAN_TAG_PRESENT: {"vlanp", kAncVlanPresent},
	uapi.SKF_AD_PAY_OFFSET:       {"poff", kAncPayOffset},
	uapi.SKF_AD_RANDOM:           {"rand", kAncRandom},
	uapi.SKF_AD_VLAN_TPID:        {"vlan_tpid", kAncVlanTPID},
}

// skfADOff is SKF_AD_OFF as the unsigned k of an LD ABS.
const skfADOff = uint32(0x100000000 + uapi.SKF_AD_OFF)

// lookupAnc returns the extension an LD ABS with constant k reads, if any
// (bpf_anc_helper).
func lookupAnc(k uint32) (ancillary, bool) {
	if k < skfADOff || k-skfADOff >= uapi.SKF_AD_MAX {
		return ancillary{}, false
	}
	a := ancTable[k-skfADOff]
	return a, a.name != ""
}

// isLdAbs reports whether code is LD W/H/B ABS, the only instructions that
// reach the ancillary area.
func isLdAbs(code uint16) bool {
	return code == ld|uapi.BPF_W|uapi.BPF_ABS || code == ld|uapi.BPF_H|uapi.BPF_ABS || code == ld|uapi.BPF_B|uapi.BPF_ABS
}

// Disassemble formats instruction pc of a program exactly as `tcpdump -d`
// (libpcap's bpf_image) does: "(001) jeq      #0x800           jt 2\tjf 3",
// with absolute jump targets, offsets and decimal operands printed as
// signed 32-bit numbers. Extensions, which libpcap prints as numbers,
// print by name: "ld       [proto]". Unknown opcodes print as
// "unimp 0xCODE".
func Disassemble(pc int, code uint16, jt, jf uint8, k uint32) string {
	info, ok := lookup(code)
	if !ok {
		return fmt.Sprintf("(%03d) %-8s 0x%x", pc, "unimp", code)
	}
	var arg string
	switch info.operand {
	case opdNone, opdRetA:
	case opdAbs:
		if a, ok := lookupAnc(k); ok && isLdAbs(code) {
			arg = "[" + a.name + "]"
		} else {
			arg = fmt.Sprintf("[%d]", int32(k))
		}
	case opdInd:
		arg = fmt.Sprintf("[x + %d]", int32(k))
	case opdLen:
		arg = "#pktlen"
	case opdImm:
		arg = fmt.Sprintf("#0x%x", k)
	case opdDec, opdRetK:
		arg = fmt.Sprintf("#%d", int32(k))
	case opdMem:
		arg = fmt.Sprintf("M[%d]", int32(k))
	case opdMsh:
		arg = fmt.Sprintf("4*([%d]&0xf)", int32(k))
	case opdX:
		arg = "x"
	case opdJA:
		arg = fmt.Sprintf("%d", int32(uint32(pc)+1+k))
	case opdJK, opdJX:
		src := "x"
		if info.operand == opdJK {
			src = fmt.Sprintf("#0x%x", k)
		}
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", pc, info.name, src, pc+1+int(jt), pc+1+int(jf))
	}
	return fmt.Sprintf("(%03d) %-8s %s", pc, info.name, arg)
}
