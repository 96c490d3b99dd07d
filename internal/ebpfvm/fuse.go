package ebpfvm

// Superinstructions. After compile, fuse rewrites the first instruction of
// a few hot sequences into one fused instruction that does the work of the
// whole sequence and then continues after it (or at the sequence's jump
// target). The other instructions of the sequence stay in place unchanged,
// so a jump into the middle of a sequence runs the plain forms and the
// program's instruction indices keep their meaning (faults, budget, calls).
// A fused instruction does exactly what its parts do, in order, with the
// same memory checks: nothing the verifier proved is taken on trust here.
//
// The sequences are those compilers and hand-written filters emit for every
// header field:
//
//	r = *(uN *)(rs + off); if r <cond> K goto L      load, compare, branch
//	r0 = ld{b,h,w} [K]; if r0 <cond> K2 goto L       legacy load, compare
//	rd = rs; rd += K; if rd > re goto L              packet bounds check
//	rd += K; if rd > re goto L                       the same, pointer in rd
//	rd = rs; rd += K                                 pointer plus offset
//	r0 = K; exit                                     return a constant

import "github.com/clsbpf/clsbpf/classifier/packet"

// cond is the comparison of a fused compare-and-branch.
type cond uint8

const (
	condEq cond = iota
	condNe
	condSet
	condGt
	condGe
	condLt
	condLe
)

// condOf maps an unsigned compare-with-immediate opcode to its cond. The
// fused loads are at most 32 bits wide, zero-extended, and a JMP32
// immediate is kept zero-extended (compile), so the 32-bit comparisons
// give the same outcome as the 64-bit ones on them.
var condOf = map[opcode]cond{
	opJeqK: condEq, opJneK: condNe, opJsetK: condSet,
	opJgtK: condGt, opJgeK: condGe, opJltK: condLt, opJleK: condLe,
	opJeq32K: condEq, opJne32K: condNe, opJset32K: condSet,
	opJgt32K: condGt, opJge32K: condGe, opJlt32K: condLt, opJle32K: condLe,
}

// test reports whether a <c> k holds.
func (c cond) test(a, k uint64) bool {
	switch c {
	case condEq:
		return a == k
	case condNe:
		return a != k
	case condSet:
		return a&k != 0
	case condGt:
		return a > k
	case condGe:
		return a >= k
	case condLt:
		return a < k
	}
	return a <= k
}

// fusedLoad maps a plain load to its fused load-compare-branch form.
var fusedLoad = map[opcode]opcode{
	opLdxB: opLdxBJ, opLdxH: opLdxHJ, opLdxW: opLdxWJ,
	opLdAbsB: opLdAbsBJ, opLdAbsH: opLdAbsHJ, opLdAbsW: opLdAbsWJ,
}

// fuse rewrites the hot sequences of p.insns into superinstructions.
func (p *Program) fuse() {
	ins := p.insns
	live := func(i int) bool {
		return i < len(ins) && ins[i].op != opDead && ins[i].op != opFiller
	}
	for i := range ins {
		a := ins[i]
		if !live(i) || !live(i+1) {
			continue
		}
		b := ins[i+1]
		switch {
		case fusedLoad[a.op] != opInvalid:
			c, ok := condOf[b.op]
			reg := a.dst
			if a.op >= opLdAbsB {
				reg = 0
			}
			if !ok || b.dst != reg {
				continue
			}
			f := a
			f.op, f.c, f.jt = fusedLoad[a.op], c, b.jt
			if a.op >= opLdAbsB {
				f.o = a.k // the legacy load's offset moves to o
			}
			f.k = b.k
			ins[i] = f
		case a.op == opMov64X && b.op == opAdd64K && b.dst == a.dst:
			f := a
			f.op, f.k = opMovAddK, b.k
			if live(i+2) && ins[i+2].op == opJgtX && ins[i+2].dst == a.dst && ins[i+2].src != a.dst {
				f.op, f.aux, f.jt = opMovAddKJgtX, uint32(ins[i+2].src), ins[i+2].jt
			}
			ins[i] = f
		case a.op == opAdd64K && b.op == opJgtX && b.dst == a.dst && b.src != a.dst:
			f := a
			f.op, f.aux, f.jt = opAddKJgtX, uint32(b.src), b.jt
			ins[i] = f
		case a.op == opMov64K && a.dst == 0 && b.op == opExit:
			ins[i].op = opRetK
		}
	}
}

// absBytes returns the n bytes at offset off from the packet's data when
// off is a plain offset (not an SKF_* reference) and they are all inside
// the frame, else nil: the common case of ldAbs, small enough to inline.
func absBytes(pk *packet.Packet, off uint64, n int) []byte {
	buf, data, _, end := pk.Buffer()
	if int64(off) < 0 || int64(off) > int64(end-data-n) {
		return nil
	}
	at := data + int(off)
	return buf[at : at+n : at+n]
}
