package core

// Instruction patching: bpf_core_patch_insn and bpf_core_poison_insn of
// tools/lib/bpf/relo_core.c.

import (
	"math"
	"syscall"

	"github.com/cilium/ebpf/asm"
)

// PoisonImm is the helper number a poisoned instruction calls: 0xbad2310
// ("bad relo"). The kernel verifier rejects the call as "invalid func
// unknown#195896080" if it is reachable and removes it as dead code if it
// is not.
const PoisonImm = 0xbad2310

// poisonInsn is the call every poisoned instruction becomes.
func poisonInsn(meta asm.Metadata) asm.Instruction {
	return asm.Instruction{
		OpCode:   asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call),
		Constant: PoisonImm,
		Metadata: meta,
	}
}

// patch applies a result to insns[i]. A poisoned LD_IMM64 becomes two
// poisoned calls, as in the kernel's two instruction slots; the second is
// returned in extra so the caller can keep indices stable until the end.
func patch(insns asm.Instructions, i int, res result) (extra bool, err error) {
	ins := &insns[i]
	class := ins.OpCode.Class()
	if res.poison {
		wide := ins.OpCode.IsDWordLoad()
		*ins = poisonInsn(ins.Metadata)
		return wide, nil
	}
	switch class {
	case asm.ALUClass, asm.ALU64Class:
		if ins.OpCode.Source() != asm.ImmSource {
			return false, failf(syscall.EINVAL, "ALU/ALU64 instruction has a register source")
		}
		imm := int32(ins.Constant)
		if res.validate && uint64(int64(imm)) != res.orig {
			return false, failf(syscall.EINVAL, "unexpected ALU/ALU64 value: got %d, exp %d -> %d", imm, res.orig, res.new)
		}
		ins.Constant = int64(int32(uint32(res.new)))
	case asm.LdXClass, asm.StClass, asm.StXClass:
		if res.validate && uint64(int64(ins.Offset)) != res.orig {
			return false, failf(syscall.EINVAL, "unexpected LDX/ST/STX value: got %d, exp %d -> %d", ins.Offset, res.orig, res.new)
		}
		if res.new > math.MaxInt16 {
			return false, failf(syscall.ERANGE, "LDX/ST/STX value too big: %d", res.new)
		}
		if res.failMemszAdj {
			// Accessing a field whose size changed is only safe for
			// pointers and unsigned integers: poison, as the kernel does.
			*ins = poisonInsn(ins.Metadata)
			return false, nil
		}
		ins.Offset = int16(res.new)
		if res.newSz != res.origSz {
			if have := sizeBytes(ins.OpCode.Size()); have != res.origSz {
				return false, failf(syscall.EINVAL, "LDX/ST/STX unexpected mem size: got %d, exp %d", have, res.origSz)
			}
			sz, ok := bytesSize(res.newSz)
			if !ok {
				return false, failf(syscall.EINVAL, "LDX/ST/STX invalid new mem size: %d", res.newSz)
			}
			ins.OpCode = ins.OpCode.SetSize(sz)
		}
	case asm.LdClass:
		if !ins.OpCode.IsDWordLoad() || ins.Src != 0 || ins.Offset != 0 {
			return false, failf(syscall.EINVAL, "LDIMM64 has unexpected form")
		}
		if res.validate && uint64(ins.Constant) != res.orig {
			return false, failf(syscall.EINVAL, "unexpected LDIMM64 value: got %d, exp %d -> %d", uint64(ins.Constant), res.orig, res.new)
		}
		ins.Constant = int64(res.new)
	default:
		return false, failf(syscall.EINVAL, "trying to relocate unrecognized instruction, code:%#x", uint8(ins.OpCode))
	}
	return false, nil
}

func sizeBytes(s asm.Size) uint32 {
	switch s {
	case asm.DWord:
		return 8
	case asm.Word:
		return 4
	case asm.Half:
		return 2
	case asm.Byte:
		return 1
	}
	return math.MaxUint32
}

func bytesSize(n uint32) (asm.Size, bool) {
	switch n {
	case 8:
		return asm.DWord, true
	case 4:
		return asm.Word, true
	case 2:
		return asm.Half, true
	case 1:
		return asm.Byte, true
	}
	return 0, false
}
