package ebpfvm

// The reference interpreter: the instruction set written to be read, one
// instruction at a time from the program as loaded, decoding class,
// operation, source and size on every step, in the order RFC 9669 and
// kernel/bpf/core.c describe them. It shares the machine state, the
// region checks (Machine.access) and the context field operations with the
// compiled engine, and nothing else: it exists to cross-check compile.go
// and exec.go (the tests run both on the conformance suite, the kernel
// differential and FuzzEngines) and for debugging. Select it with
// Options.Engine = EngineReference.

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Engine selects how a loaded program runs.
type Engine uint8

// Engines.
const (
	// EngineCompiled runs the pre-decoded form (exec.go), the default.
	EngineCompiled Engine = iota
	// EngineReference runs the reference interpreter (interp.go).
	EngineReference
)

// interpret runs the program with the reference interpreter.
func (m *Machine) interpret(r1, r2 uint64) (uint64, error) {
	return m.interpretHook(r1, r2, nil)
}

// interpretHook is interpret that calls hook, when not nil, before each
// instruction with its pc and the registers (trace.go).
func (m *Machine) interpretHook(r1, r2 uint64, hook Hook) (uint64, error) {
	p := m.prog
	var r [uapi.MAX_BPF_REG]uint64
	r[1], r[2] = r1, r2
	r[10] = addrOf(regStack, frameSize)
	if d := p.stackDepth[0]; d != 0 {
		clear(m.stack[frameSize-d : frameSize])
	}
	m.loops = uapi.BPF_MAX_LOOPS
	depth := 0
	steps := int64(p.budget)
	pc := 0
	ret := func() bool { // returns from a bpf-to-bpf call; false at top level
		if depth == 0 {
			return false
		}
		depth--
		f := &m.frames[depth]
		r[6], r[7], r[8], r[9], r[10] = f.regs[0], f.regs[1], f.regs[2], f.regs[3], f.fp
		pc = f.ret
		return true
	}
	for {
		if hook != nil {
			hook.Step(pc, r)
		}
		if p.insns[pc].op == opDead {
			return fault(pc, ErrBadCall) // unreachable: the verifier proved it
		}
		in := p.raw[pc]
		cls := in.Op & 0x07
		switch cls {
		case uapi.BPF_ALU, uapi.BPF_ALU64:
			r[in.Dst] = refALU(in, r[in.Dst], r[in.Src])
			pc++
		case uapi.BPF_JMP, uapi.BPF_JMP32:
			op := in.Op & 0xf0
			from := pc
			switch {
			case op == uapi.BPF_JA && cls == uapi.BPF_JMP32:
				pc += 1 + int(in.Imm)
			case op == uapi.BPF_JA:
				pc += 1 + int(in.Off)
			case op == uapi.BPF_JCOND:
				if m.loops == 0 {
					pc += 1 + int(in.Off)
				} else {
					m.loops--
					pc++
				}
			case op == uapi.BPF_EXIT:
				if !ret() {
					return r[0], nil
				}
			case op == uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL:
				if depth+1 >= maxFrames {
					return fault(pc, ErrCallDepth)
				}
				f := &m.frames[depth]
				f.ret, f.fp, f.regs = pc+1, r[10], [4]uint64{r[6], r[7], r[8], r[9]}
				depth++
				top := uint32(depth+1) * frameSize
				r[10] = addrOf(regStack, top)
				t := pc + 1 + int(in.Imm)
				if d := p.stackDepth[p.subOf[t]]; d != 0 {
					clear(m.stack[top-d : top])
				}
				pc = t
			case op == uapi.BPF_CALL:
				id := in.Imm
				if in.Op&uapi.BPF_X != 0 {
					if r[in.Dst] > 0x7fffffff {
						return fault(pc, ErrBadCall)
					}
					id = int32(r[in.Dst])
				}
				h, ok := p.opts.Helpers.Lookup(id)
				if !ok {
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
				pc++
			default:
				a, b := r[in.Dst], r[in.Src]
				if in.Op&uapi.BPF_X == 0 {
					b = uint64(int64(in.Imm))
				}
				if refCond(op, cls == uapi.BPF_JMP32, a, b) {
					pc += 1 + int(in.Off)
				} else {
					pc++
				}
			}
			// The budget: a jump back costs the instructions it spans,
			// a call the length of its callee.
			switch {
			case op == uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL:
				steps -= p.subLen[p.subOf[pc]]
			case op != uapi.BPF_CALL && op != uapi.BPF_EXIT && pc <= from:
				steps -= int64(from - pc + 1)
			}
			if steps <= 0 {
				return fault(from, ErrBudget)
			}
		case uapi.BPF_LD:
			if in.Op&0xe0 == uapi.BPF_IMM {
				r[in.Dst] = p.insns[pc].k // pseudo sources were linked at load
				pc += 2
				break
			}
			off := in.Imm
			if in.Op&0xe0 == uapi.BPF_IND {
				off = int32(uint32(r[in.Src]) + uint32(in.Imm))
			}
			op := map[uint8]opcode{uapi.BPF_B: opLdAbsB, uapi.BPF_H: opLdAbsH, uapi.BPF_W: opLdAbsW}[in.Op&0x18]
			v, ok := m.ldAbs(off, op)
			if !ok {
				r[0] = 0
				if !ret() {
					return 0, nil
				}
				break
			}
			r[0] = v
			pc++
		case uapi.BPF_LDX, uapi.BPF_ST, uapi.BPF_STX:
			if err := m.refMem(in, &r); err != nil {
				return fault(pc, err)
			}
			pc++
		}
	}
}

// refALU computes one ALU or ALU64 instruction.
func refALU(in Instruction, dst, src uint64) uint64 {
	is64 := in.Op&0x07 == uapi.BPF_ALU64
	if in.Op&uapi.BPF_X == 0 {
		src = uint64(int64(in.Imm))
	}
	op := in.Op & 0xf0
	if op == uapi.BPF_END {
		w := uint(in.Imm)
		switch {
		case !is64 && in.Op&uapi.BPF_X == 0: // to little endian: truncate
			if w == 64 {
				return dst
			}
			return dst & (1<<w - 1)
		case w == 16:
			return uint64(bits.ReverseBytes16(uint16(dst)))
		case w == 32:
			return uint64(bits.ReverseBytes32(uint32(dst)))
		}
		return bits.ReverseBytes64(dst)
	}
	if is64 {
		switch op {
		case uapi.BPF_ADD:
			return dst + src
		case uapi.BPF_SUB:
			return dst - src
		case uapi.BPF_MUL:
			return dst * src
		case uapi.BPF_DIV:
			if src == 0 {
				return 0
			}
			if in.Off == 1 {
				return uint64(int64(dst) / int64(src))
			}
			return dst / src
		case uapi.BPF_MOD:
			if src == 0 {
				return dst
			}
			if in.Off == 1 {
				return uint64(int64(dst) % int64(src))
			}
			return dst % src
		case uapi.BPF_OR:
			return dst | src
		case uapi.BPF_AND:
			return dst & src
		case uapi.BPF_XOR:
			return dst ^ src
		case uapi.BPF_LSH:
			return dst << (src & 63)
		case uapi.BPF_RSH:
			return dst >> (src & 63)
		case uapi.BPF_ARSH:
			return uint64(int64(dst) >> (src & 63))
		case uapi.BPF_NEG:
			return -dst
		case uapi.BPF_MOV:
			switch in.Off {
			case 8:
				return uint64(int64(int8(src)))
			case 16:
				return uint64(int64(int16(src)))
			case 32:
				return uint64(int64(int32(src)))
			}
			return src
		}
		return dst
	}
	d, s := uint32(dst), uint32(src)
	var v uint32
	switch op {
	case uapi.BPF_ADD:
		v = d + s
	case uapi.BPF_SUB:
		v = d - s
	case uapi.BPF_MUL:
		v = d * s
	case uapi.BPF_DIV:
		switch {
		case s == 0:
			v = 0
		case in.Off == 1:
			v = uint32(int32(d) / int32(s))
		default:
			v = d / s
		}
	case uapi.BPF_MOD:
		switch {
		case s == 0:
			v = d
		case in.Off == 1:
			v = uint32(int32(d) % int32(s))
		default:
			v = d % s
		}
	case uapi.BPF_OR:
		v = d | s
	case uapi.BPF_AND:
		v = d & s
	case uapi.BPF_XOR:
		v = d ^ s
	case uapi.BPF_LSH:
		v = d << (s & 31)
	case uapi.BPF_RSH:
		v = d >> (s & 31)
	case uapi.BPF_ARSH:
		v = uint32(int32(d) >> (s & 31))
	case uapi.BPF_NEG:
		v = -d
	case uapi.BPF_MOV:
		switch in.Off {
		case 8:
			v = uint32(int32(int8(s)))
		case 16:
			v = uint32(int32(int16(s)))
		default:
			v = s
		}
	}
	return uint64(v)
}

// refCond evaluates a conditional jump.
func refCond(op uint8, is32 bool, a, b uint64) bool {
	if is32 {
		a, b = uint64(uint32(a)), uint64(uint32(b))
	}
	sa, sb := int64(a), int64(b)
	if is32 {
		sa, sb = int64(int32(a)), int64(int32(b))
	}
	switch op {
	case uapi.BPF_JEQ:
		return a == b
	case uapi.BPF_JNE:
		return a != b
	case uapi.BPF_JGT:
		return a > b
	case uapi.BPF_JGE:
		return a >= b
	case uapi.BPF_JLT:
		return a < b
	case uapi.BPF_JLE:
		return a <= b
	case uapi.BPF_JSET:
		return a&b != 0
	case uapi.BPF_JSGT:
		return sa > sb
	case uapi.BPF_JSGE:
		return sa >= sb
	case uapi.BPF_JSLT:
		return sa < sb
	case uapi.BPF_JSLE:
		return sa <= sb
	}
	return false
}

// refMem performs a load, store or atomic. Context accesses are
// recognised by address (the context region) and resolved by offset and
// size, as the verifier resolved them at load.
func (m *Machine) refMem(in Instruction, r *[uapi.MAX_BPF_REG]uint64) error {
	cls := in.Op & 0x07
	size := sizeBytes(in.Op)
	mode := in.Op & 0xe0
	base := in.Dst // ST, STX, atomics other than load-acquire
	if cls == uapi.BPF_LDX || (mode == uapi.BPF_ATOMIC && in.Imm == uapi.BPF_LOAD_ACQ) {
		base = in.Src
	}
	addr := r[base] + uint64(int64(in.Off))
	write := cls != uapi.BPF_LDX && !(mode == uapi.BPF_ATOMIC && in.Imm == uapi.BPF_LOAD_ACQ)
	if m.prog.opts.Context == ContextSkb && addr>>32 == regionTag+regCtx {
		a, verr := resolveSkb(0, int32(uint32(addr)), size, write)
		if verr != nil || mode == uapi.BPF_ATOMIC {
			return ErrMemAccess
		}
		switch cls {
		case uapi.BPF_LDX:
			r[in.Dst] = m.ctxLoad(&a)
		case uapi.BPF_ST:
			a.imm = true
			m.ctxStore(&a, uint64(int64(in.Imm)))
		default:
			m.ctxStore(&a, r[in.Src])
		}
		return nil
	}
	b := m.accessAny(addr, size, write)
	if b == nil {
		return ErrMemAccess
	}
	shared := isMapAddr(addr)
	load := func() uint64 {
		if shared {
			v, _ := m.ldMap(addr, size)
			return v
		}
		switch size {
		case 1:
			return uint64(b[0])
		case 2:
			return uint64(binary.LittleEndian.Uint16(b))
		case 4:
			return uint64(binary.LittleEndian.Uint32(b))
		}
		return binary.LittleEndian.Uint64(b)
	}
	store := func(v uint64) {
		if shared {
			m.stMap(addr, size, v)
			return
		}
		switch size {
		case 1:
			b[0] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b, uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b, uint32(v))
		default:
			binary.LittleEndian.PutUint64(b, v)
		}
	}
	switch {
	case cls == uapi.BPF_LDX && mode == uapi.BPF_MEMSX:
		v := load()
		switch size {
		case 1:
			v = uint64(int64(int8(v)))
		case 2:
			v = uint64(int64(int16(v)))
		case 4:
			v = uint64(int64(int32(v)))
		}
		r[in.Dst] = v
	case cls == uapi.BPF_LDX:
		r[in.Dst] = load()
	case cls == uapi.BPF_ST:
		store(uint64(int64(in.Imm)))
	case mode == uapi.BPF_MEM:
		store(r[in.Src])
	case in.Imm == uapi.BPF_LOAD_ACQ:
		r[in.Dst] = load()
	case in.Imm == uapi.BPF_STORE_REL:
		store(r[in.Src])
	default:
		if uintptr(unsafe.Pointer(&b[0]))%uintptr(size) != 0 {
			return ErrMemAccess
		}
		refAtomic(in, b, size, r)
	}
	return nil
}

// refAtomic performs a read-modify-write atomic on b (4 or 8 bytes).
func refAtomic(in Instruction, b []byte, size uint32, r *[uapi.MAX_BPF_REG]uint64) {
	mask := ^uint64(0)
	if size == 4 {
		mask = 0xffffffff
	}
	for {
		var old uint64
		if size == 4 {
			old = uint64(atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[0]))))
		} else {
			old = atomic.LoadUint64((*uint64)(unsafe.Pointer(&b[0])))
		}
		src := r[in.Src] & mask
		var nv uint64
		switch in.Imm &^ uapi.BPF_FETCH {
		case uapi.BPF_ADD:
			nv = (old + src) & mask
		case uapi.BPF_OR:
			nv = old | src
		case uapi.BPF_AND:
			nv = old & src
		case uapi.BPF_XOR:
			nv = old ^ src
		case uapi.BPF_XCHG &^ uapi.BPF_FETCH:
			nv = src
		case uapi.BPF_CMPXCHG &^ uapi.BPF_FETCH:
			if old != r[0]&mask {
				r[0] = old
				return
			}
			nv = src
		}
		var swapped bool
		if size == 4 {
			swapped = atomic.CompareAndSwapUint32((*uint32)(unsafe.Pointer(&b[0])), uint32(old), uint32(nv))
		} else {
			swapped = atomic.CompareAndSwapUint64((*uint64)(unsafe.Pointer(&b[0])), old, nv)
		}
		if !swapped {
			continue
		}
		switch {
		case in.Imm == uapi.BPF_CMPXCHG:
			r[0] = old
		case in.Imm&uapi.BPF_FETCH != 0:
			r[in.Src] = old
		}
		return
	}
}
