package cbpfvm

import (
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The reference interpreter: runs a checked program instruction by
// instruction, switching on the whole opcode, with the semantics of the
// eBPF program the kernel translates it into (net/core/filter.c
// bpf_convert_filter). It is written to be read, not to be fast; the
// compiled forms (fuse.go, closure.go, exec.go) are what programs normally
// run on, and tests hold them all to the same results.

// Env is what a run needs besides the program and the packet.
type Env struct {
	// Random is the SKF_AD_RANDOM source (the kernel's bpf_user_rnd_u32).
	Random func() uint32
	// Trace, when set, is called before each instruction runs with its
	// index and the registers at that point.
	Trace func(pc int, a, x uint32)
}

// Interpret runs prog, which must have passed Check, on pkt and returns the
// filter's result.
func Interpret(prog []Insn, pkt *packet.Packet, env *Env) uint32 {
	var (
		a, x uint32
		mem  [uapi.BPF_MEMWORDS]uint32
	)
	f := frameOf(pkt)
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		if env.Trace != nil {
			env.Trace(pc, a, x)
		}
		switch in.Code {
		case ld | uapi.BPF_W | uapi.BPF_ABS, ld | uapi.BPF_H | uapi.BPF_ABS, ld | uapi.BPF_B | uapi.BPF_ABS:
			if anc, ok := lookupAnc(in.K); ok {
				switch anc.kind {
				case kAncNlattr:
					a = ancNlattr(pkt, f, a, x)
				case kAncNlattrNest:
					a = ancNlattrNest(pkt, f, a, x)
				case kAncXorX:
					a ^= x
				case kAncRandom:
					a = env.Random()
				case kAncPayOffset:
					a = PayloadOffset(pkt)
				default:
					a = metaValue(anc.kind, pkt)
				}
				continue
			}
			v, ok := loadN(pkt, f, int32(in.K), loadSize(in.Code))
			if !ok {
				return 0
			}
			a = v
		case ld | uapi.BPF_W | uapi.BPF_IND, ld | uapi.BPF_H | uapi.BPF_IND, ld | uapi.BPF_B | uapi.BPF_IND:
			v, ok := loadN(pkt, f, int32(x+in.K), loadSize(in.Code))
			if !ok {
				return 0
			}
			a = v
		case ld | uapi.BPF_W | uapi.BPF_LEN:
			a = uint32(f.len)
		case ldx | uapi.BPF_W | uapi.BPF_LEN:
			x = uint32(f.len)
		case ld | uapi.BPF_IMM:
			a = in.K
		case ldx | uapi.BPF_IMM:
			x = in.K
		case ld | uapi.BPF_MEM:
			a = mem[in.K]
		case ldx | uapi.BPF_MEM:
			x = mem[in.K]
		case uapi.BPF_ST:
			mem[in.K] = a
		case uapi.BPF_STX:
			mem[in.K] = x
		case ldx | uapi.BPF_B | uapi.BPF_MSH:
			v, ok := loadN(pkt, f, int32(in.K), 1)
			if !ok {
				return 0
			}
			x = (v & 0xf) << 2
		case misc | uapi.BPF_TAX:
			x = a
		case misc | uapi.BPF_TXA:
			a = x

		case alu | uapi.BPF_ADD | uapi.BPF_K:
			a += in.K
		case alu | uapi.BPF_ADD | uapi.BPF_X:
			a += x
		case alu | uapi.BPF_SUB | uapi.BPF_K:
			a -= in.K
		case alu | uapi.BPF_SUB | uapi.BPF_X:
			a -= x
		case alu | uapi.BPF_MUL | uapi.BPF_K:
			a *= in.K
		case alu | uapi.BPF_MUL | uapi.BPF_X:
			a *= x
		case alu | uapi.BPF_DIV | uapi.BPF_K:
			a /= in.K // the checker rejects k == 0
		case alu | uapi.BPF_DIV | uapi.BPF_X:
			if x == 0 {
				return 0
			}
			a /= x
		case alu | uapi.BPF_MOD | uapi.BPF_K:
			a %= in.K
		case alu | uapi.BPF_MOD | uapi.BPF_X:
			if x == 0 {
				return 0
			}
			a %= x
		case alu | uapi.BPF_AND | uapi.BPF_K:
			a &= in.K
		case alu | uapi.BPF_AND | uapi.BPF_X:
			a &= x
		case alu | uapi.BPF_OR | uapi.BPF_K:
			a |= in.K
		case alu | uapi.BPF_OR | uapi.BPF_X:
			a |= x
		case alu | uapi.BPF_XOR | uapi.BPF_K:
			a ^= in.K
		case alu | uapi.BPF_XOR | uapi.BPF_X:
			a ^= x
		case alu | uapi.BPF_LSH | uapi.BPF_K:
			a <<= in.K // the checker rejects k >= 32
		case alu | uapi.BPF_LSH | uapi.BPF_X:
			a <<= x & 31
		case alu | uapi.BPF_RSH | uapi.BPF_K:
			a >>= in.K
		case alu | uapi.BPF_RSH | uapi.BPF_X:
			a >>= x & 31
		case alu | uapi.BPF_NEG:
			a = -a

		case jmp | uapi.BPF_JA:
			pc += int(in.K)
		case jmp | uapi.BPF_JEQ | uapi.BPF_K:
			pc += branch(a == in.K, in)
		case jmp | uapi.BPF_JEQ | uapi.BPF_X:
			pc += branch(a == x, in)
		case jmp | uapi.BPF_JGT | uapi.BPF_K:
			pc += branch(a > in.K, in)
		case jmp | uapi.BPF_JGT | uapi.BPF_X:
			pc += branch(a > x, in)
		case jmp | uapi.BPF_JGE | uapi.BPF_K:
			pc += branch(a >= in.K, in)
		case jmp | uapi.BPF_JGE | uapi.BPF_X:
			pc += branch(a >= x, in)
		case jmp | uapi.BPF_JSET | uapi.BPF_K:
			pc += branch(a&in.K != 0, in)
		case jmp | uapi.BPF_JSET | uapi.BPF_X:
			pc += branch(a&x != 0, in)

		case ret | uapi.BPF_K:
			return in.K
		case ret | uapi.BPF_A:
			return a
		default:
			// Unreachable for a checked program; end as a failed load does.
			return 0
		}
	}
	return 0 // unreachable: a checked program ends in RET
}

// branch returns the skip of a conditional jump.
func branch(cond bool, in Insn) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}

// loadSize is the byte width of an LD/LDX size field.
func loadSize(code uint16) int {
	switch code & 0x18 {
	case uapi.BPF_H:
		return 2
	case uapi.BPF_B:
		return 1
	}
	return 4
}
