package bench

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// EBPF returns the classic program prog in eBPF with legacy packet loads:
// A is R0, X is R7, R6 holds the context for LD_ABS/LD_IND, R8 saves A
// across the load of BPF_LDX|BPF_MSH. It covers the instructions the
// suite's filters use (loads, AND with a constant, compare-with-constant
// jumps, return a constant) and reports any other.
func EBPF(prog []bpf.RawInstruction) ([]ebpfvm.Instruction, error) {
	type ref struct{ at, target int }                                                             // jump at eBPF index at to classic index target
	out := []ebpfvm.Instruction{{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 6, Src: 1}} // r6 = r1
	start := make([]int, len(prog)+1)
	var refs []ref
	for i, in := range prog {
		start[i] = len(out)
		size := uint8(in.Op & 0x18)
		switch {
		case in.Op&0x07 == uapi.BPF_LD && in.Op&0xe0 == uapi.BPF_ABS:
			out = append(out, ebpfvm.Instruction{Op: uapi.BPF_LD | uapi.BPF_ABS | size, Imm: int32(in.K)})
		case in.Op&0x07 == uapi.BPF_LD && in.Op&0xe0 == uapi.BPF_IND:
			out = append(out, ebpfvm.Instruction{Op: uapi.BPF_LD | uapi.BPF_IND | size, Src: 7, Imm: int32(in.K)})
		case in.Op == uapi.BPF_LDX|uapi.BPF_B|uapi.BPF_MSH:
			out = append(out,
				ebpfvm.Instruction{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 8, Src: 0}, // r8 = r0
				ebpfvm.Instruction{Op: uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_B, Imm: int32(in.K)},  // r0 = ldb [k]
				ebpfvm.Instruction{Op: uapi.BPF_ALU | uapi.BPF_AND | uapi.BPF_K, Dst: 0, Imm: 0xf}, // w0 &= 0xf
				ebpfvm.Instruction{Op: uapi.BPF_ALU | uapi.BPF_LSH | uapi.BPF_K, Dst: 0, Imm: 2},   // w0 <<= 2
				ebpfvm.Instruction{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 7, Src: 0}, // r7 = r0
				ebpfvm.Instruction{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 0, Src: 8}, // r0 = r8
			)
		case in.Op == uapi.BPF_ALU|uapi.BPF_AND|uapi.BPF_K:
			out = append(out, ebpfvm.Instruction{Op: uapi.BPF_ALU | uapi.BPF_AND | uapi.BPF_K, Dst: 0, Imm: int32(in.K)})
		case in.Op&0x07 == uapi.BPF_JMP && in.Op&0x08 == uapi.BPF_K && in.Op&0xf0 != uapi.BPF_JA:
			op := uint8(in.Op & 0xf0)
			switch {
			case in.Jt != 0:
				refs = append(refs, ref{len(out), i + 1 + int(in.Jt)})
				out = append(out, ebpfvm.Instruction{Op: uapi.BPF_JMP32 | op | uapi.BPF_K, Imm: int32(in.K)})
			case in.Jf != 0 && op == uapi.BPF_JEQ:
				refs = append(refs, ref{len(out), i + 1 + int(in.Jf)})
				out = append(out, ebpfvm.Instruction{Op: uapi.BPF_JMP32 | uapi.BPF_JNE | uapi.BPF_K, Imm: int32(in.K)})
				continue
			case in.Jf != 0:
				out = append(out, ebpfvm.Instruction{Op: uapi.BPF_JMP32 | op | uapi.BPF_K, Off: 1, Imm: int32(in.K)}) // over the jump to jf
			}
			if in.Jf != 0 {
				refs = append(refs, ref{len(out), i + 1 + int(in.Jf)})
				out = append(out, ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_JA})
			}
		case in.Op == uapi.BPF_RET|uapi.BPF_K:
			out = append(out,
				ebpfvm.Instruction{Op: uapi.BPF_ALU | uapi.BPF_MOV | uapi.BPF_K, Dst: 0, Imm: int32(in.K)}, // w0 = k
				ebpfvm.Instruction{Op: uapi.BPF_JMP | uapi.BPF_EXIT},                                       // exit
			)
		default:
			return nil, fmt.Errorf("bench: classic instruction %#x has no eBPF form here", in.Op)
		}
	}
	start[len(prog)] = len(out)
	for _, r := range refs {
		out[r.at].Off = int16(start[r.target] - r.at - 1)
	}
	return out, nil
}
