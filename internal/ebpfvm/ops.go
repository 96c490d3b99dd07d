package ebpfvm

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// opcodeValid reports whether op is an opcode Linux 6.18 knows
// (bpf_opcode_in_insntable plus the v4 and newer additions). Profile RFC
// also admits callx (BPF_JMP|BPF_CALL|BPF_X).
func opcodeValid(op uint8, prof Profile) bool {
	switch op & 0x07 {
	case uapi.BPF_ALU, uapi.BPF_ALU64:
		switch op & 0xf0 {
		case uapi.BPF_ADD, uapi.BPF_SUB, uapi.BPF_MUL, uapi.BPF_DIV, uapi.BPF_OR, uapi.BPF_AND, uapi.BPF_LSH, uapi.BPF_RSH,
			uapi.BPF_MOD, uapi.BPF_XOR, uapi.BPF_MOV, uapi.BPF_ARSH:
			return true
		case uapi.BPF_NEG:
			return op&uapi.BPF_X == 0
		case uapi.BPF_END:
			return op&0x07 == uapi.BPF_ALU || op&uapi.BPF_X == 0
		}
		return false
	case uapi.BPF_JMP:
		switch op & 0xf0 {
		case uapi.BPF_JA, uapi.BPF_EXIT:
			return op&uapi.BPF_X == 0
		case uapi.BPF_CALL:
			return op&uapi.BPF_X == 0 || prof == ProfileRFC
		case uapi.BPF_JCOND:
			return op&uapi.BPF_X == 0
		case 0xf0:
			return false
		}
		return true
	case uapi.BPF_JMP32:
		switch op & 0xf0 {
		case uapi.BPF_JA:
			return op&uapi.BPF_X == 0
		case uapi.BPF_CALL, uapi.BPF_EXIT, uapi.BPF_JCOND, 0xf0:
			return false
		}
		return true
	case uapi.BPF_LD:
		switch op {
		case uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW,
			uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_W, uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_H, uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_B,
			uapi.BPF_LD | uapi.BPF_IND | uapi.BPF_W, uapi.BPF_LD | uapi.BPF_IND | uapi.BPF_H, uapi.BPF_LD | uapi.BPF_IND | uapi.BPF_B:
			return true
		}
		return false
	case uapi.BPF_LDX:
		switch op & 0xe0 {
		case uapi.BPF_MEM:
			return true
		case uapi.BPF_MEMSX:
			return op&0x18 != uapi.BPF_DW
		}
		return false
	case uapi.BPF_ST:
		return op&0xe0 == uapi.BPF_MEM
	case uapi.BPF_STX:
		switch op & 0xe0 {
		case uapi.BPF_MEM, uapi.BPF_ATOMIC:
			return true
		}
		return false
	}
	return false
}

// checkFields applies the kernel's reserved-field rules (the "uses
// reserved fields" checks of check_alu_op, check_cond_jmp_op, do_check and
// check_ld_abs) to one instruction. It returns nil or an EINVAL error.
func checkFields(i int, in Instruction) *VerifyError {
	cls := in.Op & 0x07
	op := in.Op & 0xf0
	x := in.Op&uapi.BPF_X != 0
	switch cls {
	case uapi.BPF_ALU, uapi.BPF_ALU64:
		switch op {
		case uapi.BPF_NEG:
			if x || in.Src != 0 || in.Off != 0 || in.Imm != 0 {
				return verr(i, syscall.EINVAL, "BPF_NEG uses reserved fields")
			}
		case uapi.BPF_END:
			if in.Src != 0 || in.Off != 0 || (in.Imm != 16 && in.Imm != 32 && in.Imm != 64) || (cls == uapi.BPF_ALU64 && x) {
				return verr(i, syscall.EINVAL, "BPF_END uses reserved fields")
			}
		case uapi.BPF_MOV:
			if x {
				okOff := in.Off == 0 || in.Off == 8 || in.Off == 16 || (cls == uapi.BPF_ALU64 && in.Off == 32)
				if !okOff || in.Imm != 0 {
					return verr(i, syscall.EINVAL, "BPF_MOV uses reserved fields")
				}
			} else if in.Src != 0 || in.Off != 0 {
				return verr(i, syscall.EINVAL, "BPF_MOV uses reserved fields")
			}
		default:
			signedOK := in.Off == 0 || (in.Off == 1 && (op == uapi.BPF_DIV || op == uapi.BPF_MOD))
			if x {
				if in.Imm != 0 || !signedOK {
					return verr(i, syscall.EINVAL, "BPF_ALU uses reserved fields")
				}
			} else if in.Src != 0 || !signedOK {
				return verr(i, syscall.EINVAL, "BPF_ALU uses reserved fields")
			}
		}
	case uapi.BPF_JMP, uapi.BPF_JMP32:
		switch op {
		case uapi.BPF_CALL:
			if x {
				// callx (ProfileRFC only): register in dst, all else zero.
				if in.Src != 0 || in.Off != 0 || in.Imm != 0 {
					return verr(i, syscall.EINVAL, "BPF_CALL uses reserved fields")
				}
				break
			}
			if (in.Src != uapi.BPF_PSEUDO_KFUNC_CALL && in.Off != 0) ||
				(in.Src != 0 && in.Src != uapi.BPF_PSEUDO_CALL && in.Src != uapi.BPF_PSEUDO_KFUNC_CALL) ||
				in.Dst != 0 {
				return verr(i, syscall.EINVAL, "BPF_CALL uses reserved fields")
			}
		case uapi.BPF_JA:
			if in.Src != 0 || in.Dst != 0 || (cls == uapi.BPF_JMP && in.Imm != 0) || (cls == uapi.BPF_JMP32 && in.Off != 0) {
				return verr(i, syscall.EINVAL, "BPF_JA uses reserved fields")
			}
		case uapi.BPF_EXIT:
			if in.Imm != 0 || in.Src != 0 || in.Dst != 0 {
				return verr(i, syscall.EINVAL, "BPF_EXIT uses reserved fields")
			}
		case uapi.BPF_JCOND:
			if in.Src != uapi.BPF_MAY_GOTO || in.Dst != 0 || in.Imm != 0 {
				return verr(i, syscall.EINVAL, "invalid may_goto imm %d", in.Imm)
			}
		default:
			if x {
				if in.Imm != 0 {
					return verr(i, syscall.EINVAL, "BPF_JMP/JMP32 uses reserved fields")
				}
			} else if in.Src != 0 {
				return verr(i, syscall.EINVAL, "BPF_JMP/JMP32 uses reserved fields")
			}
		}
	case uapi.BPF_LDX:
		if in.Imm != 0 {
			return verr(i, syscall.EINVAL, "BPF_LDX uses reserved fields")
		}
	case uapi.BPF_STX:
		if in.Op&0xe0 != uapi.BPF_ATOMIC && in.Imm != 0 {
			return verr(i, syscall.EINVAL, "BPF_STX uses reserved fields")
		}
	case uapi.BPF_ST:
		if in.Src != 0 {
			return verr(i, syscall.EINVAL, "BPF_ST uses reserved fields")
		}
	case uapi.BPF_LD:
		mode := in.Op & 0xe0
		if mode == uapi.BPF_ABS || mode == uapi.BPF_IND {
			if in.Dst != 0 || in.Off != 0 || (mode == uapi.BPF_ABS && in.Src != 0) {
				return verr(i, syscall.EINVAL, "BPF_LD_[ABS|IND] uses reserved fields")
			}
		}
	}
	return nil
}

// atomicValid validates the imm of BPF_STX|BPF_ATOMIC for the access size.
func atomicValid(imm int32, size uint8) bool {
	switch imm {
	case uapi.BPF_ADD, uapi.BPF_OR, uapi.BPF_AND, uapi.BPF_XOR,
		uapi.BPF_ADD | uapi.BPF_FETCH, uapi.BPF_OR | uapi.BPF_FETCH, uapi.BPF_AND | uapi.BPF_FETCH, uapi.BPF_XOR | uapi.BPF_FETCH,
		uapi.BPF_XCHG, uapi.BPF_CMPXCHG:
		return size == uapi.BPF_W || size == uapi.BPF_DW
	case uapi.BPF_LOAD_ACQ, uapi.BPF_STORE_REL:
		return true
	}
	return false
}

// sizeBytes is the access width of a BPF_SIZE code.
func sizeBytes(code uint8) uint32 {
	switch code & 0x18 {
	case uapi.BPF_W:
		return 4
	case uapi.BPF_H:
		return 2
	case uapi.BPF_B:
		return 1
	}
	return 8
}
