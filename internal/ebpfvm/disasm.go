package ebpfvm

import (
	"fmt"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The disassembly follows print_bpf_insn in kernel/bpf/disasm.c, the
// format of the verifier log and of `bpftool prog dump xlated`.

var disAluOps = [16]string{"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian", "", ""}

var disJmpOps = [16]string{"goto", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<=", "may_goto", ""}

var sizeNames = [4]string{"u32", "u16", "u8", "u64"}

var atomicNames = map[int32]string{
	uapi.BPF_ADD: "add", uapi.BPF_AND: "and", uapi.BPF_OR: "or", uapi.BPF_XOR: "xor",
}

// Disassemble returns the instruction at pc of insns as the kernel's
// verifier log prints it ("r2 = *(u32 *)(r1 +76)", "if r2 != 0x0 goto
// pc+3", "call bpf_skb_vlan_pop#70"). helperName names helper calls; nil
// prints them as "call #70". An LD_IMM64's second slot is "(ld_imm64
// upper half)".
func Disassemble(insns []Instruction, pc int, helperName func(int32) string) string {
	in := insns[pc]
	cls := in.Op & 0x07
	reg := func(n uint8, w bool) string {
		if w {
			return fmt.Sprintf("w%d", n)
		}
		return fmt.Sprintf("r%d", n)
	}
	switch cls {
	case uapi.BPF_ALU, uapi.BPF_ALU64:
		w := cls == uapi.BPF_ALU
		op := in.Op & 0xf0
		d := reg(in.Dst, w)
		var src string
		if in.Op&uapi.BPF_X != 0 {
			src = reg(in.Src, w)
		} else {
			src = fmt.Sprint(in.Imm)
		}
		switch {
		case op == uapi.BPF_END:
			kind := "le"
			switch {
			case cls == uapi.BPF_ALU64:
				kind = "bswap"
			case in.Op&uapi.BPF_X != 0:
				kind = "be"
			}
			return fmt.Sprintf("%s = %s%d %s", reg(in.Dst, false), kind, in.Imm, reg(in.Dst, false))
		case op == uapi.BPF_NEG:
			return fmt.Sprintf("%s = -%s", d, d)
		case op == uapi.BPF_MOV && in.Off != 0:
			return fmt.Sprintf("%s = (s%d)%s", d, in.Off, src)
		case (op == uapi.BPF_DIV || op == uapi.BPF_MOD) && in.Off == 1:
			return fmt.Sprintf("%s s%s %s", d, disAluOps[op>>4], src)
		}
		return fmt.Sprintf("%s %s %s", d, disAluOps[op>>4], src)
	case uapi.BPF_LDX, uapi.BPF_ST, uapi.BPF_STX:
		size := sizeNames[(in.Op&0x18)>>3]
		mode := in.Op & 0xe0
		switch {
		case cls == uapi.BPF_LDX && mode == uapi.BPF_MEMSX:
			return fmt.Sprintf("r%d = *(s%s *)(r%d %+d)", in.Dst, size[1:], in.Src, in.Off)
		case cls == uapi.BPF_LDX:
			return fmt.Sprintf("r%d = *(%s *)(r%d %+d)", in.Dst, size, in.Src, in.Off)
		case cls == uapi.BPF_ST:
			return fmt.Sprintf("*(%s *)(r%d %+d) = %d", size, in.Dst, in.Off, in.Imm)
		case mode == uapi.BPF_MEM:
			return fmt.Sprintf("*(%s *)(r%d %+d) = r%d", size, in.Dst, in.Off, in.Src)
		}
		// BPF_ATOMIC
		width := "64"
		if in.Op&0x18 == uapi.BPF_W {
			width = ""
		}
		switch {
		case in.Imm == uapi.BPF_LOAD_ACQ:
			return fmt.Sprintf("r%d = load_acquire((%s *)(r%d %+d))", in.Dst, size, in.Src, in.Off)
		case in.Imm == uapi.BPF_STORE_REL:
			return fmt.Sprintf("store_release((%s *)(r%d %+d), r%d)", size, in.Dst, in.Off, in.Src)
		case in.Imm == uapi.BPF_XCHG:
			return fmt.Sprintf("r%d = atomic%s_xchg((%s *)(r%d %+d), r%d)", in.Src, width, size, in.Dst, in.Off, in.Src)
		case in.Imm == uapi.BPF_CMPXCHG:
			return fmt.Sprintf("r0 = atomic%s_cmpxchg((%s *)(r%d %+d), r0, r%d)", width, size, in.Dst, in.Off, in.Src)
		case in.Imm&uapi.BPF_FETCH != 0:
			return fmt.Sprintf("r%d = atomic%s_fetch_%s((%s *)(r%d %+d), r%d)", in.Src, width, atomicNames[in.Imm&^uapi.BPF_FETCH], size, in.Dst, in.Off, in.Src)
		}
		return fmt.Sprintf("lock *(%s *)(r%d %+d) %s r%d", size, in.Dst, in.Off, disAluOps[(in.Imm&0xf0)>>4], in.Src)
	case uapi.BPF_LD:
		size := sizeNames[(in.Op&0x18)>>3]
		switch in.Op & 0xe0 {
		case uapi.BPF_ABS:
			return fmt.Sprintf("r0 = *(%s *)skb[%d]", size, in.Imm)
		case uapi.BPF_IND:
			return fmt.Sprintf("r0 = *(%s *)skb[r%d + %d]", size, in.Src, in.Imm)
		}
		var hi int32
		if pc+1 < len(insns) {
			hi = insns[pc+1].Imm
		}
		v := uint64(uint32(hi))<<32 | uint64(uint32(in.Imm))
		switch in.Src {
		case uapi.BPF_PSEUDO_MAP_FD, uapi.BPF_PSEUDO_MAP_IDX:
			return fmt.Sprintf("r%d = map[id:%d]", in.Dst, in.Imm)
		case uapi.BPF_PSEUDO_MAP_VALUE, uapi.BPF_PSEUDO_MAP_IDX_VALUE:
			return fmt.Sprintf("r%d = map[id:%d][0]+%d", in.Dst, in.Imm, hi)
		case uapi.BPF_PSEUDO_FUNC:
			return fmt.Sprintf("r%d = pc%+d", in.Dst, in.Imm)
		}
		return fmt.Sprintf("r%d = %#x", in.Dst, v)
	case uapi.BPF_JMP, uapi.BPF_JMP32:
		op := in.Op & 0xf0
		switch {
		case op == uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL:
			return fmt.Sprintf("call pc%+d", in.Imm)
		case op == uapi.BPF_CALL && in.Op&uapi.BPF_X != 0:
			return fmt.Sprintf("callx r%d", in.Dst)
		case op == uapi.BPF_CALL:
			if helperName != nil {
				if n := helperName(in.Imm); n != "" {
					return fmt.Sprintf("call %s#%d", n, in.Imm)
				}
			}
			return fmt.Sprintf("call #%d", in.Imm)
		case op == uapi.BPF_EXIT:
			return "exit"
		case op == uapi.BPF_JA && cls == uapi.BPF_JMP32:
			return fmt.Sprintf("gotol pc%+d", in.Imm)
		case op == uapi.BPF_JA:
			return fmt.Sprintf("goto pc%+d", in.Off)
		case op == uapi.BPF_JCOND:
			return fmt.Sprintf("may_goto pc%+d", in.Off)
		}
		w := cls == uapi.BPF_JMP32
		if in.Op&uapi.BPF_X != 0 {
			return fmt.Sprintf("if %s %s %s goto pc%+d", reg(in.Dst, w), disJmpOps[op>>4], reg(in.Src, w), in.Off)
		}
		return fmt.Sprintf("if %s %s %#x goto pc%+d", reg(in.Dst, w), disJmpOps[op>>4], uint32(in.Imm), in.Off)
	}
	return fmt.Sprintf("(%02x) unknown", in.Op)
}
