package ebpfvm_test

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Instruction constructors for tables and the generator.

type I = ebpfvm.Instruction

func mov64K(dst uint8, imm int32) I { return I{Op: uapi.BPF_ALU64 | uapi.BPF_MOV, Dst: dst, Imm: imm} }
func mov64X(dst, src uint8) I {
	return I{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: dst, Src: src}
}
func aluK(cls, op, dst uint8, imm int32) I { return I{Op: cls | op, Dst: dst, Imm: imm} }
func aluX(cls, op, dst, src uint8) I       { return I{Op: cls | op | uapi.BPF_X, Dst: dst, Src: src} }
func jmpK(cls, op, dst uint8, imm int32, off int16) I {
	return I{Op: cls | op, Dst: dst, Imm: imm, Off: off}
}
func jmpX(cls, op, dst, src uint8, off int16) I {
	return I{Op: cls | op | uapi.BPF_X, Dst: dst, Src: src, Off: off}
}
func ja(off int16) I        { return I{Op: uapi.BPF_JMP | uapi.BPF_JA, Off: off} }
func gotol(imm int32) I     { return I{Op: uapi.BPF_JMP32 | uapi.BPF_JA, Imm: imm} }
func exit() I               { return I{Op: uapi.BPF_JMP | uapi.BPF_EXIT} }
func callHelper(id int32) I { return I{Op: uapi.BPF_JMP | uapi.BPF_CALL, Imm: id} }
func callLocal(imm int32) I {
	return I{Op: uapi.BPF_JMP | uapi.BPF_CALL, Src: uapi.BPF_PSEUDO_CALL, Imm: imm}
}
func ldx(size, dst, src uint8, off int16) I {
	return I{Op: uapi.BPF_LDX | uapi.BPF_MEM | size, Dst: dst, Src: src, Off: off}
}
func ldxs(size, dst, src uint8, off int16) I {
	return I{Op: uapi.BPF_LDX | uapi.BPF_MEMSX | size, Dst: dst, Src: src, Off: off}
}
func st(size, dst uint8, off int16, imm int32) I {
	return I{Op: uapi.BPF_ST | uapi.BPF_MEM | size, Dst: dst, Off: off, Imm: imm}
}
func stx(size, dst, src uint8, off int16) I {
	return I{Op: uapi.BPF_STX | uapi.BPF_MEM | size, Dst: dst, Src: src, Off: off}
}
func atomic(size, dst, src uint8, off int16, op int32) I {
	return I{Op: uapi.BPF_STX | uapi.BPF_ATOMIC | size, Dst: dst, Src: src, Off: off, Imm: op}
}
func ldAbs(size uint8, imm int32) I { return I{Op: uapi.BPF_LD | uapi.BPF_ABS | size, Imm: imm} }
func ldInd(size, src uint8, imm int32) I {
	return I{Op: uapi.BPF_LD | uapi.BPF_IND | size, Src: src, Imm: imm}
}
func lddw(dst uint8, v uint64) []I {
	return []I{{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: dst, Imm: int32(uint32(v))}, {Imm: int32(uint32(v >> 32))}}
}

const (
	rCtx = 6 // the generator keeps the context in R6 (LD_ABS needs it there)
	rCnt = 9 // loop counter
)

// progGen generates random SCHED_CLS programs that the kernel verifier
// accepts: scalars only in the registers it tracks, packet accesses under a
// bounds check, stack accesses inside initialised slots, bounded loops.
type progGen struct {
	r      *rand.Rand
	subs   [][]I
	stackN int // initialised 8-byte stack slots per frame
}

// placeholder immediates mark local calls until layout: subBase+index.
const subBase = 1 << 20

func newProgGen(seed uint64) *progGen {
	return &progGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), stackN: 8}
}

// genCtx says where a block is generated.
type genCtx struct {
	sub    bool // inside a subprogram: scalars in R0..R5, no context
	argPtr bool // in a subprogram, R1 points to 8 bytes of the caller's stack
	level  int  // call nesting of the subprogram
	inLoop bool // R9 is the loop counter
	depth  int  // nesting of conditional blocks
}

func (c genCtx) scalars() []uint8 {
	switch {
	case c.sub && c.argPtr:
		return []uint8{0, 2, 3, 4, 5}
	case c.sub:
		return []uint8{0, 1, 2, 3, 4, 5}
	case c.inLoop:
		return []uint8{0, 2, 3, 4, 5, 7, 8}
	}
	return []uint8{0, 2, 3, 4, 5, 7, 8, 9}
}

func (g *progGen) pick(s []uint8) uint8 { return s[g.r.IntN(len(s))] }

func (g *progGen) imm() int32 {
	switch g.r.IntN(8) {
	case 0:
		return []int32{0, 1, -1, 2, 7, 0x7fffffff, -0x80000000, 0xff, 0xffff, -2}[g.r.IntN(10)]
	case 1:
		return int32(g.r.IntN(64))
	}
	return int32(g.r.Uint32())
}

// program returns a whole program: prologue, blocks, exit, subprograms.
func (g *progGen) program() []I {
	var p []I
	p = append(p, mov64X(rCtx, 1))
	for _, r := range []uint8{0, 2, 3, 4, 5, 7, 8, 9} {
		p = append(p, g.initReg(r)...)
	}
	p = append(p, g.stackInit()...)
	nblocks := 3 + g.r.IntN(14)
	for range nblocks {
		p = append(p, g.block(genCtx{})...)
	}
	// Fold every register, all 64 bits, into the 32-bit return value so
	// that a difference anywhere shows.
	if g.r.IntN(8) != 0 {
		for _, r := range []uint8{2, 3, 4, 5, 7, 8, 9} {
			p = append(p, aluK(uapi.BPF_ALU64, uapi.BPF_MUL, 0, 0x01000193), aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 0, r))
		}
		p = append(p, mov64X(1, 0), aluK(uapi.BPF_ALU64, uapi.BPF_RSH, 1, 32), aluX(uapi.BPF_ALU64, uapi.BPF_XOR, 0, 1))
	}
	p = append(p, exit())
	// Lay out subprograms after the main program and patch the calls.
	starts := make([]int, len(g.subs))
	for i, s := range g.subs {
		starts[i] = len(p)
		p = append(p, s...)
	}
	for i := range p {
		if p[i].Op == uapi.BPF_JMP|uapi.BPF_CALL && p[i].Src == uapi.BPF_PSEUDO_CALL && p[i].Imm >= subBase {
			p[i].Imm = int32(starts[p[i].Imm-subBase] - i - 1)
		}
	}
	return p
}

func (g *progGen) initReg(r uint8) []I {
	switch g.r.IntN(3) {
	case 0:
		return lddw(r, g.r.Uint64())
	case 1:
		return []I{aluK(uapi.BPF_ALU, uapi.BPF_MOV, r, g.imm())}
	}
	return []I{mov64K(r, g.imm())}
}

func (g *progGen) stackInit() []I {
	var p []I
	for s := 1; s <= g.stackN; s++ {
		p = append(p, st(uapi.BPF_DW, 10, int16(-8*s), g.imm()))
	}
	return p
}

func (g *progGen) block(c genCtx) []I {
	for {
		switch k := g.r.IntN(100); {
		case k < 30:
			return g.alu(c)
		case k < 40:
			if c.depth < 3 && !c.inLoop {
				return g.cond(c)
			}
		case k < 48:
			return g.stack(c)
		case k < 54:
			return g.atomicOp(c)
		case k < 62:
			if !c.sub {
				return g.ctxLoad(c)
			}
		case k < 68:
			if !c.sub {
				return g.ctxStore(c)
			}
		case k < 78:
			if !c.sub {
				return g.packet(c)
			}
		case k < 84:
			if !c.sub {
				return g.ldAbs(c)
			}
		case k < 89:
			if !c.inLoop && !c.sub && c.depth == 0 {
				return g.loop(c)
			}
		case k < 94:
			if len(g.subs) < 5 && c.level < 3 && !c.argPtr {
				return g.call(c)
			}
			if c.argPtr {
				return g.argMem(c)
			}
		case k < 97:
			if c.depth < 3 && !c.inLoop {
				return g.mayGoto(c)
			}
		default:
			return g.alu(c)
		}
	}
}

var aluOpsGen = []uint8{uapi.BPF_ADD, uapi.BPF_SUB, uapi.BPF_MUL, uapi.BPF_DIV, uapi.BPF_OR, uapi.BPF_AND,
	uapi.BPF_LSH, uapi.BPF_RSH, uapi.BPF_NEG, uapi.BPF_MOD, uapi.BPF_XOR, uapi.BPF_MOV, uapi.BPF_ARSH, uapi.BPF_END}

func (g *progGen) alu(c genCtx) []I {
	regs := c.scalars()
	dst, src := g.pick(regs), g.pick(regs)
	cls := uint8(uapi.BPF_ALU64)
	width := int32(64)
	if g.r.IntN(2) == 0 {
		cls, width = uapi.BPF_ALU, 32
	}
	op := aluOpsGen[g.r.IntN(len(aluOpsGen))]
	x := g.r.IntN(2) == 0
	switch op {
	case uapi.BPF_NEG:
		return []I{aluK(cls, op, dst, 0)}
	case uapi.BPF_END:
		w := []int32{16, 32, 64}[g.r.IntN(3)]
		if cls == uapi.BPF_ALU64 {
			return []I{aluK(cls, op, dst, w)}
		}
		if x {
			return []I{{Op: cls | op | uapi.BPF_TO_BE, Dst: dst, Imm: w}}
		}
		return []I{aluK(cls, op, dst, w)}
	case uapi.BPF_MOV:
		if x && g.r.IntN(3) == 0 {
			offs := []int16{8, 16, 32}
			if cls == uapi.BPF_ALU {
				offs = offs[:2]
			}
			return []I{{Op: cls | op | uapi.BPF_X, Dst: dst, Src: src, Off: offs[g.r.IntN(len(offs))]}}
		}
	case uapi.BPF_DIV, uapi.BPF_MOD:
		var off int16
		if g.r.IntN(2) == 0 {
			off = 1 // sdiv, smod
		}
		if x {
			return []I{{Op: cls | op | uapi.BPF_X, Dst: dst, Src: src, Off: off}}
		}
		imm := g.imm()
		if imm == 0 {
			imm = -1
		}
		return []I{{Op: cls | op, Dst: dst, Imm: imm, Off: off}}
	case uapi.BPF_LSH, uapi.BPF_RSH, uapi.BPF_ARSH:
		if !x {
			return []I{aluK(cls, op, dst, int32(g.r.IntN(int(width))))}
		}
	}
	if x {
		return []I{aluX(cls, op, dst, src)}
	}
	return []I{aluK(cls, op, dst, g.imm())}
}

var jmpOpsGen = []uint8{uapi.BPF_JEQ, uapi.BPF_JGT, uapi.BPF_JGE, uapi.BPF_JSET, uapi.BPF_JNE,
	uapi.BPF_JSGT, uapi.BPF_JSGE, uapi.BPF_JLT, uapi.BPF_JLE, uapi.BPF_JSLT, uapi.BPF_JSLE}

func (g *progGen) condJump(c genCtx, off int16) I {
	regs := c.scalars()
	cls := uint8(uapi.BPF_JMP)
	if g.r.IntN(2) == 0 {
		cls = uapi.BPF_JMP32
	}
	op := jmpOpsGen[g.r.IntN(len(jmpOpsGen))]
	if g.r.IntN(2) == 0 {
		return jmpX(cls, op, g.pick(regs), g.pick(regs), off)
	}
	return jmpK(cls, op, g.pick(regs), g.imm(), off)
}

func (g *progGen) inner(c genCtx, n int) []I {
	var p []I
	for range n {
		p = append(p, g.block(c)...)
	}
	return p
}

// cond is "if cond goto skip; then...; [goto end; else...]".
func (g *progGen) cond(c genCtx) []I {
	c.depth++
	then := g.inner(c, 1+g.r.IntN(3))
	if g.r.IntN(3) == 0 {
		els := g.inner(c, 1+g.r.IntN(2))
		var jmp I
		if g.r.IntN(2) == 0 {
			jmp = ja(int16(len(els)))
		} else {
			jmp = gotol(int32(len(els)))
		}
		p := []I{g.condJump(c, int16(len(then)+1))}
		p = append(p, then...)
		p = append(p, jmp)
		return append(p, els...)
	}
	return append([]I{g.condJump(c, int16(len(then)))}, then...)
}

func (g *progGen) mayGoto(c genCtx) []I {
	c.depth++
	body := g.inner(c, 1)
	return append([]I{{Op: uapi.BPF_JMP | uapi.BPF_JCOND, Off: int16(len(body))}}, body...)
}

func (g *progGen) sizeOff() (uint8, int16) {
	size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}[g.r.IntN(4)]
	n := int(map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}[size])
	off := -(1 + g.r.IntN(8*g.stackN/n)) * n
	return size, int16(off)
}

func (g *progGen) stack(c genCtx) []I {
	regs := c.scalars()
	size, off := g.sizeOff()
	switch g.r.IntN(4) {
	case 0:
		return []I{st(size, 10, off, g.imm())}
	case 1:
		return []I{stx(size, 10, g.pick(regs), off)}
	case 2:
		if size != uapi.BPF_DW {
			return []I{ldxs(size, g.pick(regs), 10, off)}
		}
	}
	return []I{ldx(size, g.pick(regs), 10, off)}
}

var atomicOpsGen = []int32{uapi.BPF_ADD, uapi.BPF_OR, uapi.BPF_AND, uapi.BPF_XOR,
	uapi.BPF_ADD | uapi.BPF_FETCH, uapi.BPF_OR | uapi.BPF_FETCH, uapi.BPF_AND | uapi.BPF_FETCH,
	uapi.BPF_XOR | uapi.BPF_FETCH, uapi.BPF_XCHG, uapi.BPF_CMPXCHG}

func (g *progGen) atomicOp(c genCtx) []I {
	regs := c.scalars()
	if g.r.IntN(4) == 0 {
		// load-acquire / store-release, any size.
		size, off := g.sizeOff()
		if g.r.IntN(2) == 0 {
			return []I{atomic(size, g.pick(regs), 10, off, uapi.BPF_LOAD_ACQ)}
		}
		return []I{atomic(size, 10, g.pick(regs), off, uapi.BPF_STORE_REL)}
	}
	size := uint8(uapi.BPF_DW)
	n := 8
	if g.r.IntN(2) == 0 {
		size, n = uapi.BPF_W, 4
	}
	off := -(1 + g.r.IntN(8*g.stackN/n)) * n
	return []I{atomic(size, 10, g.pick(regs), int16(off), atomicOpsGen[g.r.IntN(len(atomicOpsGen))])}
}

// ctxField is a readable context field: offset and the sizes allowed.
func (g *progGen) ctxLoad(c genCtx) []I {
	dst := g.pick(c.scalars())
	switch g.r.IntN(4) {
	case 0, 1: // len, mark, priority: narrow reads
		base := []int{uapi.SKB_OFF_LEN, uapi.SKB_OFF_MARK, uapi.SKB_OFF_PRIORITY}[g.r.IntN(3)]
		size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W}[g.r.IntN(3)]
		n := map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4}[size]
		off := base + n*g.r.IntN(4/n)
		return []I{ldx(size, dst, rCtx, int16(off))}
	}
	size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}[g.r.IntN(4)]
	n := map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}[size]
	off := uapi.SKB_OFF_CB + n*g.r.IntN(20/n)
	return []I{ldx(size, dst, rCtx, int16(off))}
}

func (g *progGen) ctxStore(c genCtx) []I {
	src := g.pick(c.scalars())
	if g.r.IntN(2) == 0 {
		off := []int16{uapi.SKB_OFF_MARK, uapi.SKB_OFF_PRIORITY}[g.r.IntN(2)]
		if g.r.IntN(2) == 0 {
			return []I{st(uapi.BPF_W, rCtx, off, g.imm())}
		}
		return []I{stx(uapi.BPF_W, rCtx, src, off)}
	}
	size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}[g.r.IntN(4)]
	n := map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}[size]
	off := int16(uapi.SKB_OFF_CB + n*g.r.IntN(20/n))
	if g.r.IntN(2) == 0 {
		return []I{st(size, rCtx, off, g.imm())}
	}
	return []I{stx(size, rCtx, src, off)}
}

// packet is a direct-access block: load data and data_end, check
// data + n <= data_end, then access bytes below n.
func (g *progGen) packet(c genCtx) []I {
	regs := []uint8{0, 5, 7, 8}
	if !c.inLoop {
		regs = append(regs, 9)
	}
	n := 14 + g.r.IntN(90)
	var body []I
	for range 1 + g.r.IntN(4) {
		size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}[g.r.IntN(4)]
		w := map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}[size]
		if w > n {
			size, w = uapi.BPF_B, 1
		}
		off := int16(g.r.IntN(n - w + 1))
		switch g.r.IntN(4) {
		case 0:
			body = append(body, stx(size, 2, g.pick(regs), off))
		case 1:
			body = append(body, st(size, 2, off, g.imm()))
		default:
			body = append(body, ldx(size, g.pick(regs), 2, off))
		}
	}
	if g.r.IntN(5) == 0 {
		// Pointer comparisons: data_meta <= data < data_end.
		dst := g.pick(regs)
		cmp := []uint8{uapi.BPF_JEQ, uapi.BPF_JNE, uapi.BPF_JGT, uapi.BPF_JGE, uapi.BPF_JLT, uapi.BPF_JLE}[g.r.IntN(6)]
		return []I{
			ldx(uapi.BPF_W, 2, rCtx, uapi.SKB_OFF_DATA_META),
			ldx(uapi.BPF_W, 3, rCtx, uapi.SKB_OFF_DATA),
			ldx(uapi.BPF_W, 4, rCtx, uapi.SKB_OFF_DATA_END),
			jmpX(uapi.BPF_JMP, cmp, 2, 3, 1),
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, dst, 1),
			jmpX(uapi.BPF_JMP, cmp, 3, 4, 1),
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, dst, 2),
			mov64K(2, g.imm()), mov64K(3, g.imm()), mov64K(4, g.imm()),
		}
	}
	p := []I{
		ldx(uapi.BPF_W, 2, rCtx, uapi.SKB_OFF_DATA),
		ldx(uapi.BPF_W, 3, rCtx, uapi.SKB_OFF_DATA_END),
		mov64X(4, 2),
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, int32(n)),
		g.boundsJump(int16(len(body))),
	}
	p = append(p, body...)
	// Back to scalars: the registers must not stay packet pointers.
	return append(p, mov64K(2, g.imm()), mov64K(3, g.imm()), mov64K(4, g.imm()))
}

// boundsJump skips off instructions unless R4 (data + n) <= R3
// (data_end), in one of the four forms whose fallthrough is the checked
// path.
func (g *progGen) boundsJump(off int16) I {
	switch g.r.IntN(4) {
	case 0:
		return jmpX(uapi.BPF_JMP, uapi.BPF_JGE, 4, 3, off) // if r4 >= r3 goto skip
	case 1:
		return jmpX(uapi.BPF_JMP, uapi.BPF_JLT, 3, 4, off) // if r3 < r4 goto skip
	case 2:
		return jmpX(uapi.BPF_JMP, uapi.BPF_JLE, 3, 4, off) // if r3 <= r4 goto skip
	}
	return jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, off) // if r4 > r3 goto skip
}

func (g *progGen) ldAbs(c genCtx) []I {
	size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W}[g.r.IntN(3)]
	var p []I
	off := int32(g.r.IntN(70))
	switch g.r.IntN(6) {
	case 0:
		off = uapi.SKF_NET_OFF + int32(g.r.IntN(40))
	case 1:
		off = uapi.SKF_LL_OFF + int32(g.r.IntN(40))
	case 2:
		src := uint8(7)
		if g.r.IntN(2) == 0 {
			src = 8
		}
		p = append(p, aluK(uapi.BPF_ALU, uapi.BPF_MOV, src, int32(g.r.IntN(40))))
		p = append(p, ldInd(size, src, int32(g.r.IntN(40))))
	}
	if len(p) == 0 {
		p = append(p, ldAbs(size, off))
	}
	// LD_ABS clobbers R1..R5.
	for _, r := range []uint8{2, 3, 4, 5} {
		p = append(p, mov64K(r, g.imm()))
	}
	return p
}

// loop is "r9 = n; body; r9 -= 1; if r9 != 0 goto body".
func (g *progGen) loop(c genCtx) []I {
	c.inLoop = true
	var body []I
	for range 1 + g.r.IntN(3) {
		switch g.r.IntN(4) {
		case 0:
			body = append(body, g.stack(c)...)
		case 1:
			body = append(body, g.ctxLoad(c)...)
		default:
			body = append(body, g.alu(c)...)
		}
	}
	p := []I{mov64K(rCnt, int32(1+g.r.IntN(6)))}
	p = append(p, body...)
	p = append(p, aluK(uapi.BPF_ALU64, uapi.BPF_SUB, rCnt, 1))
	return append(p, jmpK(uapi.BPF_JMP, uapi.BPF_JNE, rCnt, 0, int16(-(len(body)+2))))
}

// call passes scalars in R1..R5 (or, in R1, a pointer to one of the
// caller's initialised stack slots) to a new subprogram.
func (g *progGen) call(c genCtx) []I {
	var p []I
	regs := c.scalars()
	for r := uint8(1); r <= 5; r++ {
		if g.r.IntN(2) == 0 {
			p = append(p, mov64K(r, g.imm()))
		} else {
			p = append(p, mov64X(r, g.pick(regs)))
		}
	}
	sc := genCtx{sub: true, level: c.level + 1}
	if g.r.IntN(3) == 0 {
		sc.argPtr = true
		p = append(p, mov64X(1, 10), aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 1, int32(-8*(1+g.r.IntN(g.stackN)))))
	}
	idx := len(g.subs)
	g.subs = append(g.subs, nil) // reserve the index
	sub := []I{mov64K(0, g.imm())}
	sub = append(sub, g.stackInit()...)
	for range 1 + g.r.IntN(6) {
		sub = append(sub, g.block(sc)...)
	}
	sub = append(sub, exit())
	g.subs[idx] = sub
	p = append(p, callLocal(int32(subBase+idx)))
	for _, r := range []uint8{2, 3, 4, 5} {
		p = append(p, mov64K(r, g.imm()))
	}
	if c.sub && !c.argPtr {
		p = append(p, mov64K(1, g.imm()))
	}
	return p
}

// argMem reads or writes the caller's stack slot R1 points to.
func (g *progGen) argMem(c genCtx) []I {
	size := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}[g.r.IntN(4)]
	n := map[uint8]int{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}[size]
	off := int16(n * g.r.IntN(8/n))
	switch g.r.IntN(3) {
	case 0:
		return []I{stx(size, 1, g.pick(c.scalars()), off)}
	case 1:
		return []I{st(size, 1, off, g.imm())}
	}
	return []I{ldx(size, g.pick(c.scalars()), 1, off)}
}

// listing prints a program one instruction per line.
func listing(p []I) string {
	var b strings.Builder
	for i, in := range p {
		fmt.Fprintf(&b, "%4d: %s\n", i, in)
	}
	return b.String()
}

// frames returns n random Ethernet frames of 34..149 bytes (IPv4
// EtherType, as BPF_PROG_TEST_RUN demands at least 34 bytes for it).
func (g *progGen) frames(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		f := make([]byte, 34+g.r.IntN(116))
		for j := range f {
			f[j] = byte(g.r.Uint32())
		}
		f[12], f[13] = 0x08, 0x00
		f[14] = 0x45
		out[i] = f
	}
	return out
}
