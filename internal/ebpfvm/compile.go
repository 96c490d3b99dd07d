package ebpfvm

// The compiler turns a verified program into the executable form: one inst
// per instruction slot (the second slot of LD_IMM64 becomes an unused
// filler, so indices stay those of the program), each with an internal
// opcode that already says width, operand source and variant (sdiv vs
// div, movsx, context field, helper), immediates pre-extended to 64 bits,
// and jump targets resolved. The run loop (exec.go) is a dense switch on
// that opcode and decodes nothing. New specialised or fused opcodes are
// added here and in exec.go only.

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// opcode is an internal operation.
type opcode uint8

// Internal operations. K forms use inst.k, X forms R[src].
const (
	opInvalid opcode = iota
	// 64-bit ALU
	opAdd64K
	opAdd64X
	opSub64K
	opSub64X
	opMul64K
	opMul64X
	opDiv64K
	opDiv64X
	opSdiv64K
	opSdiv64X
	opMod64K
	opMod64X
	opSmod64K
	opSmod64X
	opOr64K
	opOr64X
	opAnd64K
	opAnd64X
	opXor64K
	opXor64X
	opLsh64K
	opLsh64X
	opRsh64K
	opRsh64X
	opArsh64K
	opArsh64X
	opMov64K
	opMov64X
	opMovsx64B
	opMovsx64H
	opMovsx64W
	opNeg64
	// 32-bit ALU (results zero-extended)
	opAdd32K
	opAdd32X
	opSub32K
	opSub32X
	opMul32K
	opMul32X
	opDiv32K
	opDiv32X
	opSdiv32K
	opSdiv32X
	opMod32K
	opMod32X
	opSmod32K
	opSmod32X
	opOr32K
	opOr32X
	opAnd32K
	opAnd32X
	opXor32K
	opXor32X
	opLsh32K
	opLsh32X
	opRsh32K
	opRsh32X
	opArsh32K
	opArsh32X
	opMov32K
	opMov32X
	opMovsx32B
	opMovsx32H
	opNeg32
	// byte order
	opLe16
	opLe32
	opLe64
	opBe16
	opBe32
	opBe64
	opBswap16
	opBswap32
	opBswap64
	// jumps
	opJa
	opJeqK
	opJeqX
	opJneK
	opJneX
	opJgtK
	opJgtX
	opJgeK
	opJgeX
	opJltK
	opJltX
	opJleK
	opJleX
	opJsetK
	opJsetX
	opJsgtK
	opJsgtX
	opJsgeK
	opJsgeX
	opJsltK
	opJsltX
	opJsleK
	opJsleX
	opJeq32K
	opJeq32X
	opJne32K
	opJne32X
	opJgt32K
	opJgt32X
	opJge32K
	opJge32X
	opJlt32K
	opJlt32X
	opJle32K
	opJle32X
	opJset32K
	opJset32X
	opJsgt32K
	opJsgt32X
	opJsge32K
	opJsge32X
	opJslt32K
	opJslt32X
	opJsle32K
	opJsle32X
	opMayGoto
	opCall
	opCallLocal
	opCallx
	opExit
	// memory
	opLdxB
	opLdxH
	opLdxW
	opLdxDW
	opLdxsB
	opLdxsH
	opLdxsW
	opStB
	opStH
	opStW
	opStDW
	opStxB
	opStxH
	opStxW
	opStxDW
	opAtomic32
	opAtomic64
	opCtxLd
	opCtxSt
	opCtxStK
	opLdImm64
	opLdAbsB
	opLdAbsH
	opLdAbsW
	opLdIndB
	opLdIndH
	opLdIndW
	// superinstructions (fuse.go)
	opLdxBJ
	opLdxHJ
	opLdxWJ
	opLdAbsBJ
	opLdAbsHJ
	opLdAbsWJ
	opCtxData    // skb->data: ctxLoad's value, without its call
	opCtxDataEnd // skb->data_end
	opMovAddK
	opMovAddKJgtX
	opAddKJgtX
	opRetK
	opFiller // second slot of LD_IMM64, never executed
	opDead   // an instruction no path reaches, never executed
)

// inst is one executable instruction.
type inst struct {
	op  opcode
	dst uint8
	src uint8
	c   cond   // comparison of a fused compare-and-branch
	aux uint32 // helper index, context access index, atomic op, stack depth, compared register of a fused bounds check
	k   uint64 // immediate, extended as the operation needs
	o   uint64 // memory offset, sign-extended
	jt  int32  // jump target
}

var aluOps64 = map[uint8][2]opcode{
	uapi.BPF_ADD: {opAdd64K, opAdd64X}, uapi.BPF_SUB: {opSub64K, opSub64X},
	uapi.BPF_MUL: {opMul64K, opMul64X}, uapi.BPF_DIV: {opDiv64K, opDiv64X},
	uapi.BPF_MOD: {opMod64K, opMod64X}, uapi.BPF_OR: {opOr64K, opOr64X},
	uapi.BPF_AND: {opAnd64K, opAnd64X}, uapi.BPF_XOR: {opXor64K, opXor64X},
	uapi.BPF_LSH: {opLsh64K, opLsh64X}, uapi.BPF_RSH: {opRsh64K, opRsh64X},
	uapi.BPF_ARSH: {opArsh64K, opArsh64X}, uapi.BPF_MOV: {opMov64K, opMov64X},
}

var aluOps32 = map[uint8][2]opcode{
	uapi.BPF_ADD: {opAdd32K, opAdd32X}, uapi.BPF_SUB: {opSub32K, opSub32X},
	uapi.BPF_MUL: {opMul32K, opMul32X}, uapi.BPF_DIV: {opDiv32K, opDiv32X},
	uapi.BPF_MOD: {opMod32K, opMod32X}, uapi.BPF_OR: {opOr32K, opOr32X},
	uapi.BPF_AND: {opAnd32K, opAnd32X}, uapi.BPF_XOR: {opXor32K, opXor32X},
	uapi.BPF_LSH: {opLsh32K, opLsh32X}, uapi.BPF_RSH: {opRsh32K, opRsh32X},
	uapi.BPF_ARSH: {opArsh32K, opArsh32X}, uapi.BPF_MOV: {opMov32K, opMov32X},
}

var jmpOps = map[uint8][4]opcode{ // K, X, K32, X32
	uapi.BPF_JEQ:  {opJeqK, opJeqX, opJeq32K, opJeq32X},
	uapi.BPF_JNE:  {opJneK, opJneX, opJne32K, opJne32X},
	uapi.BPF_JGT:  {opJgtK, opJgtX, opJgt32K, opJgt32X},
	uapi.BPF_JGE:  {opJgeK, opJgeX, opJge32K, opJge32X},
	uapi.BPF_JLT:  {opJltK, opJltX, opJlt32K, opJlt32X},
	uapi.BPF_JLE:  {opJleK, opJleX, opJle32K, opJle32X},
	uapi.BPF_JSET: {opJsetK, opJsetX, opJset32K, opJset32X},
	uapi.BPF_JSGT: {opJsgtK, opJsgtX, opJsgt32K, opJsgt32X},
	uapi.BPF_JSGE: {opJsgeK, opJsgeX, opJsge32K, opJsge32X},
	uapi.BPF_JSLT: {opJsltK, opJsltX, opJslt32K, opJslt32X},
	uapi.BPF_JSLE: {opJsleK, opJsleX, opJsle32K, opJsle32X},
}

// compile fills p.insns from the verified program.
func (p *Program) compile(v *verifier) error {
	n := len(p.raw)
	p.insns = make([]inst, n)
	p.subOf = v.subOf
	p.stackDepth = make([]uint32, len(v.depth))
	p.subLen = make([]int64, len(v.depth))
	for s, d := range v.depth {
		p.stackDepth[s] = uint32(d)
		p.subLen[s] = int64(v.subStart[s+1] - v.subStart[s])
	}
	var ctxs []ctxAccess
	var helpers []*Helper
	for i := 0; i < n; i++ {
		if v.second[i] {
			p.insns[i] = inst{op: opFiller}
			continue
		}
		if !v.states[i].valid {
			// No path reaches it (the verifier followed only the
			// outcomes of constant comparisons): never executed, and not
			// checked, as in the kernel.
			p.insns[i] = inst{op: opDead}
			continue
		}
		in := p.raw[i]
		out := inst{dst: in.Dst, src: in.Src, o: uint64(int64(in.Off)), jt: int32(i + 1 + int(in.Off))}
		cls := in.Op & 0x07
		code := in.Op & 0xf0
		x := in.Op&uapi.BPF_X != 0
		xi := 0
		if x {
			xi = 1
		}
		switch cls {
		case uapi.BPF_ALU64:
			out.k = uint64(int64(in.Imm))
			switch {
			case code == uapi.BPF_NEG:
				out.op = opNeg64
			case code == uapi.BPF_END:
				out.op = [...]opcode{16: opBswap16, 32: opBswap32, 64: opBswap64}[in.Imm]
			case code == uapi.BPF_MOV && x && in.Off != 0:
				out.op = map[int16]opcode{8: opMovsx64B, 16: opMovsx64H, 32: opMovsx64W}[in.Off]
			case code == uapi.BPF_DIV && in.Off == 1:
				out.op = [2]opcode{opSdiv64K, opSdiv64X}[xi]
			case code == uapi.BPF_MOD && in.Off == 1:
				out.op = [2]opcode{opSmod64K, opSmod64X}[xi]
			default:
				out.op = aluOps64[code][xi]
			}
		case uapi.BPF_ALU:
			out.k = uint64(uint32(in.Imm))
			switch {
			case code == uapi.BPF_NEG:
				out.op = opNeg32
			case code == uapi.BPF_END:
				if x {
					out.op = [...]opcode{16: opBe16, 32: opBe32, 64: opBe64}[in.Imm]
				} else {
					out.op = [...]opcode{16: opLe16, 32: opLe32, 64: opLe64}[in.Imm]
				}
			case code == uapi.BPF_MOV && x && in.Off != 0:
				out.op = map[int16]opcode{8: opMovsx32B, 16: opMovsx32H}[in.Off]
			case code == uapi.BPF_DIV && in.Off == 1:
				out.op = [2]opcode{opSdiv32K, opSdiv32X}[xi]
			case code == uapi.BPF_MOD && in.Off == 1:
				out.op = [2]opcode{opSmod32K, opSmod32X}[xi]
			default:
				out.op = aluOps32[code][xi]
			}
		case uapi.BPF_JMP, uapi.BPF_JMP32:
			out.k = uint64(int64(in.Imm))
			if cls == uapi.BPF_JMP32 {
				out.k = uint64(uint32(in.Imm))
			}
			switch {
			case code == uapi.BPF_JA:
				out.op = opJa
				if cls == uapi.BPF_JMP32 {
					out.jt = int32(i + 1 + int(in.Imm))
				}
			case code == uapi.BPF_JCOND:
				out.op = opMayGoto
			case code == uapi.BPF_EXIT:
				out.op = opExit
			case code == uapi.BPF_CALL && x:
				out.op = opCallx
			case code == uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL:
				out.op = opCallLocal
				out.jt = int32(i + 1 + int(in.Imm))
				out.aux = uint32(v.aux[i].sub)
			case code == uapi.BPF_CALL:
				out.op = opCall
				out.aux = uint32(len(helpers))
				helpers = append(helpers, v.aux[i].helper)
			default:
				col := xi
				if cls == uapi.BPF_JMP32 {
					col += 2
				}
				out.op = jmpOps[code][col]
			}
		case uapi.BPF_LDX:
			if v.aux[i].isCtx {
				out.op, out.aux = opCtxLd, uint32(len(ctxs))
				switch v.aux[i].ctx.field {
				case skbData:
					out.op = opCtxData
				case skbDataEnd:
					out.op = opCtxDataEnd
				}
				ctxs = append(ctxs, v.aux[i].ctx)
				break
			}
			if in.Op&0xe0 == uapi.BPF_MEMSX {
				out.op = [...]opcode{uapi.BPF_W: opLdxsW, uapi.BPF_H: opLdxsH, uapi.BPF_B: opLdxsB}[in.Op&0x18]
			} else {
				out.op = [...]opcode{uapi.BPF_W: opLdxW, uapi.BPF_H: opLdxH, uapi.BPF_B: opLdxB, uapi.BPF_DW: opLdxDW}[in.Op&0x18]
			}
		case uapi.BPF_ST:
			out.k = uint64(int64(in.Imm))
			if v.aux[i].isCtx {
				out.op, out.aux = opCtxStK, uint32(len(ctxs))
				c := v.aux[i].ctx
				c.imm = true
				ctxs = append(ctxs, c)
				break
			}
			out.op = [...]opcode{uapi.BPF_W: opStW, uapi.BPF_H: opStH, uapi.BPF_B: opStB, uapi.BPF_DW: opStDW}[in.Op&0x18]
		case uapi.BPF_STX:
			if in.Op&0xe0 == uapi.BPF_ATOMIC {
				size := in.Op & 0x18
				switch in.Imm {
				case uapi.BPF_LOAD_ACQ:
					// Loads and stores are sequentially consistent here:
					// acquire and release need nothing more.
					out.op = [...]opcode{uapi.BPF_W: opLdxW, uapi.BPF_H: opLdxH, uapi.BPF_B: opLdxB, uapi.BPF_DW: opLdxDW}[size]
				case uapi.BPF_STORE_REL:
					out.op = [...]opcode{uapi.BPF_W: opStxW, uapi.BPF_H: opStxH, uapi.BPF_B: opStxB, uapi.BPF_DW: opStxDW}[size]
				default:
					out.op, out.aux = opAtomic32, uint32(in.Imm)
					if size == uapi.BPF_DW {
						out.op = opAtomic64
					}
				}
				break
			}
			if v.aux[i].isCtx {
				out.op, out.aux = opCtxSt, uint32(len(ctxs))
				ctxs = append(ctxs, v.aux[i].ctx)
				break
			}
			out.op = [...]opcode{uapi.BPF_W: opStxW, uapi.BPF_H: opStxH, uapi.BPF_B: opStxB, uapi.BPF_DW: opStxDW}[in.Op&0x18]
		case uapi.BPF_LD:
			switch in.Op & 0xe0 {
			case uapi.BPF_IMM:
				out.op, out.k = opLdImm64, v.aux[i].k
			case uapi.BPF_ABS:
				out.k = uint64(int64(in.Imm))
				out.op = [...]opcode{uapi.BPF_W: opLdAbsW, uapi.BPF_H: opLdAbsH, uapi.BPF_B: opLdAbsB}[in.Op&0x18]
			case uapi.BPF_IND:
				out.k = uint64(uint32(in.Imm))
				out.op = [...]opcode{uapi.BPF_W: opLdIndW, uapi.BPF_H: opLdIndH, uapi.BPF_B: opLdIndB}[in.Op&0x18]
			}
		}
		if out.op == opInvalid {
			return verr(i, syscall.EINVAL, "internal error: no executable form for opcode %02x", in.Op)
		}
		p.insns[i] = out
	}
	p.fuse()
	p.ctxs = ctxs
	p.helpers = helpers
	if p.opts.Profile == ProfileRFC && p.opts.Helpers != nil {
		p.helpersByID = p.opts.Helpers.byID
	}
	return nil
}
