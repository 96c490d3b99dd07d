package ebpfvm

// The run loop: a dense switch on the internal opcode of the compiled
// program (compile.go). Registers are a local array; the stack, call
// frames and region table live in the Machine. Every memory access goes
// through Machine.access (mem.go), every run ends: each jump back to an
// earlier instruction (a loop iteration) is charged the instructions it
// spans and each call the length of its callee against the budget, so
// the budget bounds the instructions executed; calls are bounded by
// MAX_CALL_FRAMES and may_goto by BPF_MAX_LOOPS.

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

func fault(pc int, err error) (uint64, error) {
	return 0, &RunError{PC: pc, Err: err}
}

// exec runs the program from instruction 0 with R1 and R2 set.
func (m *Machine) exec(r1, r2 uint64) (uint64, error) {
	m.loops = uapi.BPF_MAX_LOOPS
	m.steps = int64(m.prog.budget)
	return m.execAt(0, 0, r1, r2, 0, 0, 0)
}

// execAt runs from instruction pc0, the start of a subprogram, in a new
// frame at call depth base with R1..R5 set, until that frame exits: base 0
// for a run, the frame above a helper's caller for a callback
// (CallFunc). The instruction budget left is m.steps, kept there across
// helper calls so that callbacks draw on the same budget.
func (m *Machine) execAt(pc0, base int, r1, r2, r3, r4, r5 uint64) (uint64, error) {
	p := m.prog
	insns := p.insns
	var r [16]uint64 // 16, not 11: indexes masked with 15 need no bounds check
	r[1], r[2], r[3], r[4], r[5] = r1, r2, r3, r4, r5
	top := uint32(base+1) * frameSize
	r[10] = addrOf(regStack, top)
	if d := p.stackDepth[p.subOf[pc0]]; d != 0 {
		clear(m.stack[top-d : top])
	}
	depth := base
	steps := m.steps
	pc := pc0
	for {
		if uint(pc) >= uint(len(insns)) {
			return fault(pc, ErrBadCall)
		}
		in := &insns[pc]
		switch in.op {
		case opAdd64K:
			r[in.dst&15] += in.k
		case opSub64K:
			r[in.dst&15] -= in.k
		case opMul64K:
			r[in.dst&15] *= in.k
		case opDiv64K:
			if d := in.k; d != 0 {
				r[in.dst&15] /= d
			} else {
				r[in.dst&15] = 0
			}
		case opSdiv64K:
			if d := int64(in.k); d != 0 {
				r[in.dst&15] = uint64(int64(r[in.dst&15]) / d)
			} else {
				r[in.dst&15] = 0
			}
		case opMod64K:
			if d := in.k; d != 0 {
				r[in.dst&15] %= d
			}
		case opSmod64K:
			if d := int64(in.k); d != 0 {
				r[in.dst&15] = uint64(int64(r[in.dst&15]) % d)
			}
		case opOr64K:
			r[in.dst&15] |= in.k
		case opAnd64K:
			r[in.dst&15] &= in.k
		case opXor64K:
			r[in.dst&15] ^= in.k
		case opLsh64K:
			r[in.dst&15] <<= in.k & 63
		case opRsh64K:
			r[in.dst&15] >>= in.k & 63
		case opArsh64K:
			r[in.dst&15] = uint64(int64(r[in.dst&15]) >> (in.k & 63))
		case opMov64K:
			r[in.dst&15] = in.k
		case opAdd64X:
			r[in.dst&15] += r[in.src&15]
		case opSub64X:
			r[in.dst&15] -= r[in.src&15]
		case opMul64X:
			r[in.dst&15] *= r[in.src&15]
		case opDiv64X:
			if d := r[in.src&15]; d != 0 {
				r[in.dst&15] /= d
			} else {
				r[in.dst&15] = 0
			}
		case opSdiv64X:
			if d := int64(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(int64(r[in.dst&15]) / d)
			} else {
				r[in.dst&15] = 0
			}
		case opMod64X:
			if d := r[in.src&15]; d != 0 {
				r[in.dst&15] %= d
			}
		case opSmod64X:
			if d := int64(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(int64(r[in.dst&15]) % d)
			}
		case opOr64X:
			r[in.dst&15] |= r[in.src&15]
		case opAnd64X:
			r[in.dst&15] &= r[in.src&15]
		case opXor64X:
			r[in.dst&15] ^= r[in.src&15]
		case opLsh64X:
			r[in.dst&15] <<= r[in.src&15] & 63
		case opRsh64X:
			r[in.dst&15] >>= r[in.src&15] & 63
		case opArsh64X:
			r[in.dst&15] = uint64(int64(r[in.dst&15]) >> (r[in.src&15] & 63))
		case opMov64X:
			r[in.dst&15] = r[in.src&15]
		case opAdd32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) + uint32(in.k))
		case opSub32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) - uint32(in.k))
		case opMul32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) * uint32(in.k))
		case opDiv32K:
			if d := uint32(in.k); d != 0 {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]) / d)
			} else {
				r[in.dst&15] = 0
			}
		case opSdiv32K:
			if d := int32(in.k); d != 0 {
				r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) / d))
			} else {
				r[in.dst&15] = 0
			}
		case opMod32K:
			if d := uint32(in.k); d != 0 {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]) % d)
			} else {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]))
			}
		case opSmod32K:
			if d := int32(in.k); d != 0 {
				r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) % d))
			} else {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]))
			}
		case opOr32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) | uint32(in.k))
		case opAnd32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) & uint32(in.k))
		case opXor32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) ^ uint32(in.k))
		case opLsh32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) << (in.k & 31))
		case opRsh32K:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) >> (in.k & 31))
		case opArsh32K:
			r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) >> (in.k & 31)))
		case opMov32K:
			r[in.dst&15] = uint64(uint32(in.k))
		case opAdd32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) + uint32(r[in.src&15]))
		case opSub32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) - uint32(r[in.src&15]))
		case opMul32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) * uint32(r[in.src&15]))
		case opDiv32X:
			if d := uint32(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]) / d)
			} else {
				r[in.dst&15] = 0
			}
		case opSdiv32X:
			if d := int32(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) / d))
			} else {
				r[in.dst&15] = 0
			}
		case opMod32X:
			if d := uint32(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]) % d)
			} else {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]))
			}
		case opSmod32X:
			if d := int32(r[in.src&15]); d != 0 {
				r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) % d))
			} else {
				r[in.dst&15] = uint64(uint32(r[in.dst&15]))
			}
		case opOr32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) | uint32(r[in.src&15]))
		case opAnd32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) & uint32(r[in.src&15]))
		case opXor32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) ^ uint32(r[in.src&15]))
		case opLsh32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) << (r[in.src&15] & 31))
		case opRsh32X:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]) >> (r[in.src&15] & 31))
		case opArsh32X:
			r[in.dst&15] = uint64(uint32(int32(r[in.dst&15]) >> (r[in.src&15] & 31)))
		case opMov32X:
			r[in.dst&15] = uint64(uint32(r[in.src&15]))
		case opJeqK:
			if r[in.dst&15] == in.k {
				goto jump
			}
		case opJneK:
			if r[in.dst&15] != in.k {
				goto jump
			}
		case opJgtK:
			if r[in.dst&15] > in.k {
				goto jump
			}
		case opJgeK:
			if r[in.dst&15] >= in.k {
				goto jump
			}
		case opJltK:
			if r[in.dst&15] < in.k {
				goto jump
			}
		case opJleK:
			if r[in.dst&15] <= in.k {
				goto jump
			}
		case opJsetK:
			if r[in.dst&15]&in.k != 0 {
				goto jump
			}
		case opJsgtK:
			if int64(r[in.dst&15]) > int64(in.k) {
				goto jump
			}
		case opJsgeK:
			if int64(r[in.dst&15]) >= int64(in.k) {
				goto jump
			}
		case opJsltK:
			if int64(r[in.dst&15]) < int64(in.k) {
				goto jump
			}
		case opJsleK:
			if int64(r[in.dst&15]) <= int64(in.k) {
				goto jump
			}
		case opJeqX:
			if r[in.dst&15] == r[in.src&15] {
				goto jump
			}
		case opJneX:
			if r[in.dst&15] != r[in.src&15] {
				goto jump
			}
		case opJgtX:
			if r[in.dst&15] > r[in.src&15] {
				goto jump
			}
		case opJgeX:
			if r[in.dst&15] >= r[in.src&15] {
				goto jump
			}
		case opJltX:
			if r[in.dst&15] < r[in.src&15] {
				goto jump
			}
		case opJleX:
			if r[in.dst&15] <= r[in.src&15] {
				goto jump
			}
		case opJsetX:
			if r[in.dst&15]&r[in.src&15] != 0 {
				goto jump
			}
		case opJsgtX:
			if int64(r[in.dst&15]) > int64(r[in.src&15]) {
				goto jump
			}
		case opJsgeX:
			if int64(r[in.dst&15]) >= int64(r[in.src&15]) {
				goto jump
			}
		case opJsltX:
			if int64(r[in.dst&15]) < int64(r[in.src&15]) {
				goto jump
			}
		case opJsleX:
			if int64(r[in.dst&15]) <= int64(r[in.src&15]) {
				goto jump
			}
		case opJeq32K:
			if uint32(r[in.dst&15]) == uint32(in.k) {
				goto jump
			}
		case opJne32K:
			if uint32(r[in.dst&15]) != uint32(in.k) {
				goto jump
			}
		case opJgt32K:
			if uint32(r[in.dst&15]) > uint32(in.k) {
				goto jump
			}
		case opJge32K:
			if uint32(r[in.dst&15]) >= uint32(in.k) {
				goto jump
			}
		case opJlt32K:
			if uint32(r[in.dst&15]) < uint32(in.k) {
				goto jump
			}
		case opJle32K:
			if uint32(r[in.dst&15]) <= uint32(in.k) {
				goto jump
			}
		case opJset32K:
			if uint32(r[in.dst&15])&uint32(in.k) != 0 {
				goto jump
			}
		case opJsgt32K:
			if int32(uint32(r[in.dst&15])) > int32(uint32(in.k)) {
				goto jump
			}
		case opJsge32K:
			if int32(uint32(r[in.dst&15])) >= int32(uint32(in.k)) {
				goto jump
			}
		case opJslt32K:
			if int32(uint32(r[in.dst&15])) < int32(uint32(in.k)) {
				goto jump
			}
		case opJsle32K:
			if int32(uint32(r[in.dst&15])) <= int32(uint32(in.k)) {
				goto jump
			}
		case opJeq32X:
			if uint32(r[in.dst&15]) == uint32(r[in.src&15]) {
				goto jump
			}
		case opJne32X:
			if uint32(r[in.dst&15]) != uint32(r[in.src&15]) {
				goto jump
			}
		case opJgt32X:
			if uint32(r[in.dst&15]) > uint32(r[in.src&15]) {
				goto jump
			}
		case opJge32X:
			if uint32(r[in.dst&15]) >= uint32(r[in.src&15]) {
				goto jump
			}
		case opJlt32X:
			if uint32(r[in.dst&15]) < uint32(r[in.src&15]) {
				goto jump
			}
		case opJle32X:
			if uint32(r[in.dst&15]) <= uint32(r[in.src&15]) {
				goto jump
			}
		case opJset32X:
			if uint32(r[in.dst&15])&uint32(r[in.src&15]) != 0 {
				goto jump
			}
		case opJsgt32X:
			if int32(uint32(r[in.dst&15])) > int32(uint32(r[in.src&15])) {
				goto jump
			}
		case opJsge32X:
			if int32(uint32(r[in.dst&15])) >= int32(uint32(r[in.src&15])) {
				goto jump
			}
		case opJslt32X:
			if int32(uint32(r[in.dst&15])) < int32(uint32(r[in.src&15])) {
				goto jump
			}
		case opJsle32X:
			if int32(uint32(r[in.dst&15])) <= int32(uint32(r[in.src&15])) {
				goto jump
			}
		case opMovsx64B:
			r[in.dst&15] = uint64(int64(int8(r[in.src&15])))
		case opMovsx64H:
			r[in.dst&15] = uint64(int64(int16(r[in.src&15])))
		case opMovsx64W:
			r[in.dst&15] = uint64(int64(int32(r[in.src&15])))
		case opMovsx32B:
			r[in.dst&15] = uint64(uint32(int32(int8(r[in.src&15]))))
		case opMovsx32H:
			r[in.dst&15] = uint64(uint32(int32(int16(r[in.src&15]))))
		case opNeg64:
			r[in.dst&15] = -r[in.dst&15]
		case opNeg32:
			r[in.dst&15] = uint64(-uint32(r[in.dst&15]))
		case opLe16:
			r[in.dst&15] = uint64(uint16(r[in.dst&15]))
		case opLe32:
			r[in.dst&15] = uint64(uint32(r[in.dst&15]))
		case opLe64:
		case opBe16, opBswap16:
			r[in.dst&15] = uint64(bits.ReverseBytes16(uint16(r[in.dst&15])))
		case opBe32, opBswap32:
			r[in.dst&15] = uint64(bits.ReverseBytes32(uint32(r[in.dst&15])))
		case opBe64, opBswap64:
			r[in.dst&15] = bits.ReverseBytes64(r[in.dst&15])
		case opJa:
			goto jump
		case opMayGoto:
			if m.loops == 0 {
				goto jump
			}
			m.loops--
		case opLdImm64:
			r[in.dst&15] = in.k
			pc += 2
			continue
		case opLdxB:
			b := m.access(r[in.src&15]+in.o, 1, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 1)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = v
				break
			}
			r[in.dst&15] = uint64(b[0])
		case opLdxH:
			b := m.access(r[in.src&15]+in.o, 2, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 2)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = v
				break
			}
			r[in.dst&15] = uint64(binary.LittleEndian.Uint16(b))
		case opLdxW:
			b := m.access(r[in.src&15]+in.o, 4, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 4)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = v
				break
			}
			r[in.dst&15] = uint64(binary.LittleEndian.Uint32(b))
		case opLdxDW:
			b := m.access(r[in.src&15]+in.o, 8, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 8)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = v
				break
			}
			r[in.dst&15] = binary.LittleEndian.Uint64(b)
		case opLdxsB:
			b := m.access(r[in.src&15]+in.o, 1, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 1)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = uint64(int64(int8(v)))
				break
			}
			r[in.dst&15] = uint64(int64(int8(b[0])))
		case opLdxsH:
			b := m.access(r[in.src&15]+in.o, 2, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 2)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = uint64(int64(int16(v)))
				break
			}
			r[in.dst&15] = uint64(int64(int16(binary.LittleEndian.Uint16(b))))
		case opLdxsW:
			b := m.access(r[in.src&15]+in.o, 4, false)
			if b == nil {
				v, ok := m.ldMap(r[in.src&15]+in.o, 4)
				if !ok {
					return fault(pc, ErrMemAccess)
				}
				r[in.dst&15] = uint64(int64(int32(v)))
				break
			}
			r[in.dst&15] = uint64(int64(int32(binary.LittleEndian.Uint32(b))))
		case opStB, opStxB:
			v := in.k
			if in.op == opStxB {
				v = r[in.src&15]
			}
			b := m.access(r[in.dst&15]+in.o, 1, true)
			if b == nil {
				if !m.stMap(r[in.dst&15]+in.o, 1, v) {
					return fault(pc, ErrMemAccess)
				}
				break
			}
			b[0] = byte(v)
		case opStH, opStxH:
			v := in.k
			if in.op == opStxH {
				v = r[in.src&15]
			}
			b := m.access(r[in.dst&15]+in.o, 2, true)
			if b == nil {
				if !m.stMap(r[in.dst&15]+in.o, 2, v) {
					return fault(pc, ErrMemAccess)
				}
				break
			}
			binary.LittleEndian.PutUint16(b, uint16(v))
		case opStW, opStxW:
			v := in.k
			if in.op == opStxW {
				v = r[in.src&15]
			}
			b := m.access(r[in.dst&15]+in.o, 4, true)
			if b == nil {
				if !m.stMap(r[in.dst&15]+in.o, 4, v) {
					return fault(pc, ErrMemAccess)
				}
				break
			}
			binary.LittleEndian.PutUint32(b, uint32(v))
		case opStDW, opStxDW:
			v := in.k
			if in.op == opStxDW {
				v = r[in.src&15]
			}
			b := m.access(r[in.dst&15]+in.o, 8, true)
			if b == nil {
				if !m.stMap(r[in.dst&15]+in.o, 8, v) {
					return fault(pc, ErrMemAccess)
				}
				break
			}
			binary.LittleEndian.PutUint64(b, v)
		case opAtomic32:
			b := m.accessAny(r[in.dst&15]+in.o, 4, true)
			if b == nil || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
				return fault(pc, ErrMemAccess)
			}
			atomic32(in, (*uint32)(unsafe.Pointer(&b[0])), &r)
		case opAtomic64:
			b := m.accessAny(r[in.dst&15]+in.o, 8, true)
			if b == nil || uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
				return fault(pc, ErrMemAccess)
			}
			atomic64(in, (*uint64)(unsafe.Pointer(&b[0])), &r)
		case opCtxData:
			_, data, _, _ := m.pkt.Buffer()
			r[in.dst&15] = packetAddr(data)
		case opCtxDataEnd:
			_, _, lin, _ := m.pkt.Buffer()
			r[in.dst&15] = packetAddr(lin)
		case opCtxLd:
			r[in.dst&15] = m.ctxLoad(&p.ctxs[in.aux])
		case opCtxSt:
			m.ctxStore(&p.ctxs[in.aux], r[in.src&15])
		case opCtxStK:
			m.ctxStore(&p.ctxs[in.aux], in.k)
		case opLdAbsB, opLdAbsH, opLdAbsW, opLdIndB, opLdIndH, opLdIndW:
			off := int32(in.k)
			if in.op >= opLdIndB {
				off = int32(uint32(r[in.src&15]) + uint32(in.k))
			}
			n := 1 << ((in.op - opLdAbsB) % 3) // B, H, W
			if b := absBytes(m.pkt, uint64(int64(off)), n); b != nil {
				switch n {
				case 1:
					r[0] = uint64(b[0])
				case 2:
					r[0] = uint64(binary.BigEndian.Uint16(b))
				default:
					r[0] = uint64(binary.BigEndian.Uint32(b))
				}
				break
			}
			v, ok := m.ldAbs(off, in.op)
			if !ok {
				goto ldAbsFail
			}
			r[0] = v
		case opLdxBJ:
			a := r[in.src&15] + in.o
			var v uint64
			var ok bool
			if b := m.access(a, 1, false); b != nil {
				v = uint64(b[0])
			} else if v, ok = m.ldMap(a, 1); !ok {
				return fault(pc, ErrMemAccess)
			}
			r[in.dst&15] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opLdxHJ:
			a := r[in.src&15] + in.o
			var v uint64
			var ok bool
			if b := m.access(a, 2, false); b != nil {
				v = uint64(binary.LittleEndian.Uint16(b))
			} else if v, ok = m.ldMap(a, 2); !ok {
				return fault(pc, ErrMemAccess)
			}
			r[in.dst&15] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opLdxWJ:
			a := r[in.src&15] + in.o
			var v uint64
			var ok bool
			if b := m.access(a, 4, false); b != nil {
				v = uint64(binary.LittleEndian.Uint32(b))
			} else if v, ok = m.ldMap(a, 4); !ok {
				return fault(pc, ErrMemAccess)
			}
			r[in.dst&15] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opLdAbsBJ:
			var v uint64
			var ok bool
			if b := absBytes(m.pkt, in.o, 1); b != nil {
				v = uint64(b[0])
			} else if v, ok = m.ldAbs(int32(in.o), opLdAbsB); !ok {
				goto ldAbsFail
			}
			r[0] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opLdAbsHJ:
			var v uint64
			var ok bool
			if b := absBytes(m.pkt, in.o, 2); b != nil {
				v = uint64(binary.BigEndian.Uint16(b))
			} else if v, ok = m.ldAbs(int32(in.o), opLdAbsH); !ok {
				goto ldAbsFail
			}
			r[0] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opLdAbsWJ:
			var v uint64
			var ok bool
			if b := absBytes(m.pkt, in.o, 4); b != nil {
				v = uint64(binary.BigEndian.Uint32(b))
			} else if v, ok = m.ldAbs(int32(in.o), opLdAbsW); !ok {
				goto ldAbsFail
			}
			r[0] = v
			pc++
			if in.c.test(v, in.k) {
				goto jump
			}
		case opMovAddK:
			r[in.dst&15] = r[in.src&15] + in.k
			pc++
		case opMovAddKJgtX:
			v := r[in.src&15] + in.k
			r[in.dst&15] = v
			pc += 2
			if v > r[in.aux&15] {
				goto jump
			}
		case opAddKJgtX:
			v := r[in.dst&15] + in.k
			r[in.dst&15] = v
			pc++
			if v > r[in.aux&15] {
				goto jump
			}
		case opRetK:
			r[0] = in.k
			goto exit
		case opCall:
			h := p.helpers[in.aux]
			m.args = [5]uint64{r[1], r[2], r[3], r[4], r[5]}
			m.steps, m.depth = steps, depth
			v, err := h.Func(m, &m.args)
			steps = m.steps
			if err != nil {
				return m.tailResult(pc, err)
			}
			r[0] = v
			if h.ChangesPacket {
				m.RefreshPacket()
			}
		case opCallx:
			h, ok := p.helpersByID[int32(r[in.dst&15])]
			if !ok || r[in.dst&15] > 0x7fffffff {
				return fault(pc, ErrBadCall)
			}
			m.args = [5]uint64{r[1], r[2], r[3], r[4], r[5]}
			m.steps, m.depth = steps, depth
			v, err := h.Func(m, &m.args)
			steps = m.steps
			if err != nil {
				return m.tailResult(pc, err)
			}
			r[0] = v
			if h.ChangesPacket {
				m.RefreshPacket()
			}
		case opCallLocal:
			if steps -= p.subLen[in.aux]; steps <= 0 {
				return fault(pc, ErrBudget)
			}
			if depth+1 >= maxFrames {
				return fault(pc, ErrCallDepth)
			}
			f := &m.frames[depth]
			f.ret, f.fp = pc+1, r[10]
			f.regs = [4]uint64{r[6], r[7], r[8], r[9]}
			depth++
			top := uint32(depth+1) * frameSize
			r[10] = addrOf(regStack, top)
			if d := p.stackDepth[in.aux]; d != 0 {
				clear(m.stack[top-d : top])
			}
			pc = int(in.jt)
			continue
		case opExit:
			goto exit
		default:
			return fault(pc, ErrBadCall)
		}
		pc++
		continue
	exit:
		{
			if depth == base {
				m.steps = steps
				return r[0], nil
			}
			depth--
			f := &m.frames[depth]
			r[6], r[7], r[8], r[9], r[10] = f.regs[0], f.regs[1], f.regs[2], f.regs[3], f.fp
			pc = f.ret
			continue
		}
	ldAbsFail:
		// A failed legacy load ends the current function with 0.
		r[0] = 0
		if depth == 0 {
			return 0, nil
		}
		depth--
		{
			f := &m.frames[depth]
			r[6], r[7], r[8], r[9], r[10] = f.regs[0], f.regs[1], f.regs[2], f.regs[3], f.fp
			pc = f.ret
		}
		continue
	jump:
		// A jump back is a loop iteration: charge the instructions
		// between target and jump against the budget.
		if t := int(in.jt); t <= pc {
			if steps -= int64(pc - t + 1); steps <= 0 {
				return fault(pc, ErrBudget)
			}
		}
		pc = int(in.jt)
	}
}

// atomic32 performs a 32-bit BPF_ATOMIC operation on *p.
func atomic32(in *inst, p *uint32, r *[16]uint64) {
	v := uint32(r[in.src&15])
	var old uint32
	switch in.aux &^ uapi.BPF_FETCH {
	case uapi.BPF_ADD:
		old = atomic.AddUint32(p, v) - v
	case uapi.BPF_OR:
		old = atomic.OrUint32(p, v)
	case uapi.BPF_AND:
		old = atomic.AndUint32(p, v)
	case uapi.BPF_XOR:
		for {
			old = atomic.LoadUint32(p)
			if atomic.CompareAndSwapUint32(p, old, old^v) {
				break
			}
		}
	case uapi.BPF_XCHG &^ uapi.BPF_FETCH:
		old = atomic.SwapUint32(p, v)
	case uapi.BPF_CMPXCHG &^ uapi.BPF_FETCH:
		want := uint32(r[0])
		for {
			old = atomic.LoadUint32(p)
			if old != want || atomic.CompareAndSwapUint32(p, old, v) {
				break
			}
		}
		r[0] = uint64(old)
		return
	}
	if in.aux&uapi.BPF_FETCH != 0 {
		r[in.src&15] = uint64(old)
	}
}

// atomic64 performs a 64-bit BPF_ATOMIC operation on *p.
func atomic64(in *inst, p *uint64, r *[16]uint64) {
	v := r[in.src&15]
	var old uint64
	switch in.aux &^ uapi.BPF_FETCH {
	case uapi.BPF_ADD:
		old = atomic.AddUint64(p, v) - v
	case uapi.BPF_OR:
		old = atomic.OrUint64(p, v)
	case uapi.BPF_AND:
		old = atomic.AndUint64(p, v)
	case uapi.BPF_XOR:
		for {
			old = atomic.LoadUint64(p)
			if atomic.CompareAndSwapUint64(p, old, old^v) {
				break
			}
		}
	case uapi.BPF_XCHG &^ uapi.BPF_FETCH:
		old = atomic.SwapUint64(p, v)
	case uapi.BPF_CMPXCHG &^ uapi.BPF_FETCH:
		want := r[0]
		for {
			old = atomic.LoadUint64(p)
			if old != want || atomic.CompareAndSwapUint64(p, old, v) {
				break
			}
		}
		r[0] = old
		return
	}
	if in.aux&uapi.BPF_FETCH != 0 {
		r[in.src&15] = old
	}
}

// ldAbs performs the load of a legacy LD_ABS/LD_IND at packet offset off
// (bpf_skb_load_helper_*: SKF_NET_OFF and SKF_LL_OFF references, then the
// bytes up to skb->len, big-endian).
func (m *Machine) ldAbs(off int32, op opcode) (uint64, bool) {
	n := 4
	switch op {
	case opLdAbsB, opLdIndB:
		n = 1
	case opLdAbsH, opLdIndH:
		n = 2
	}
	pk := m.pkt
	buf, data, _, end := pk.Buffer()
	pos := int(off)
	switch {
	case off >= 0:
	case off >= uapi.SKF_NET_OFF:
		nh := pk.NetworkOffset()
		if nh == -1 {
			return 0, false
		}
		pos = nh + int(off-uapi.SKF_NET_OFF)
	case off >= uapi.SKF_LL_OFF:
		mh := pk.MACOffset()
		if mh == -1 {
			return 0, false
		}
		pos = mh + int(off-uapi.SKF_LL_OFF)
	default:
		return 0, false
	}
	at := data + pos
	if at < 0 || at+n > end {
		return 0, false
	}
	b := buf[at : at+n]
	switch n {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), true
	}
	return uint64(binary.BigEndian.Uint32(b)), true
}
