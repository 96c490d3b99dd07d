package cbpfvm

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// The closure-compiled form: each operation of the compiled form (fuse.go)
// becomes a Go closure that does its work with its constants captured and
// then calls the closure of the instruction that runs next, passing A, X,
// the frame and the packet as arguments. Classic jumps only go forward, so
// the closures are built from the last instruction back and a run is a
// chain of direct calls in which A and X live in argument registers, with
// no program counter, no operation fetch and no dispatch switch. A jump to
// a RET #k returns the constant in the jumping closure.
//
// The closures keep no state between calls; a run allocates nothing. The
// form cannot hold the scratch memory (a per-run array would have to be
// allocated or shared), and a run's call depth is the length of its path
// through the program, so Closures refuses programs that use M[] or whose
// longest path is longer than MaxClosureDepth; those run on the switch
// executor (exec.go).

// MaxClosureDepth bounds the longest path, in operations, of a program
// compiled to closures, and with it the stack a run needs.
const MaxClosureDepth = 256

// node runs the rest of the program from one operation.
type node func(d []byte, pkt *packet.Packet, a, x uint32) uint32

// next is where a closure goes on: another closure, or a RET #k folded
// into the caller.
type next struct {
	n   node
	ret bool
	val uint32
}

// to continues the run at the target.
func (t next) to(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
	if t.ret {
		return t.val
	}
	return t.n(d, pkt, a, x)
}

// Closures is a checked program compiled to closures, immutable and safe
// for concurrent use.
type Closures struct {
	entry node
}

// CompileClosures compiles the compiled form p (from CompileFused) of a
// checked program to closures; random is the SKF_AD_RANDOM source. It
// returns nil when the program uses scratch memory or a path through it is
// longer than MaxClosureDepth.
func CompileClosures(p *Prog, random func() uint32) *Closures {
	if !closable(p.ops) {
		return nil
	}
	nodes := make([]node, len(p.ops))
	at := func(t uint16) next {
		if o := &p.ops[t]; o.kind == kRetK {
			return next{ret: true, val: o.k}
		}
		return next{n: nodes[t]}
	}
	for i := len(p.ops) - 1; i >= 0; i-- {
		nodes[i] = p.closure(i, at, random)
	}
	return &Closures{entry: nodes[0]}
}

// Run runs the program on pkt and returns the filter's result.
func (c *Closures) Run(pkt *packet.Packet) uint32 {
	buf, data, _, end := pkt.Buffer()
	return c.entry(buf[data:end:end], pkt, 0, 0)
}

// closable reports whether a program can run as closures: no scratch
// memory, and no path longer than MaxClosureDepth.
func closable(ops []op) bool {
	depth := make([]int, len(ops))
	for i := len(ops) - 1; i >= 0; i-- {
		o := &ops[i]
		d := 0
		switch o.kind {
		case kLdMem, kLdxMem, kSt, kStx:
			return false
		case kRetK, kRetA:
		case kJA:
			d = depth[o.jt]
		case kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX,
			kGuardAbsWEq, kGuardAbsHEq, kGuardAbsBEq, kGuardAbsWGt, kGuardAbsHGt, kGuardAbsBGt,
			kGuardIndWEq, kGuardIndHEq, kGuardIndBEq, kGuardIndWGt, kGuardIndHGt, kGuardIndBGt:
			d = max(depth[o.jt], depth[o.jf])
		case kJeqTable:
			d = depth[o.jf]
			// The entries' targets are checked through the JEQs the table
			// covers, whose depths include them.
		default:
			d = depth[i+1]
		}
		if depth[i] = d + 1; depth[i] > MaxClosureDepth {
			return false
		}
	}
	return true
}

// closure builds the closure of operation i; at resolves jump targets.
func (p *Prog) closure(i int, at func(uint16) next, random func() uint32) node {
	o := p.ops[i]
	k, mask, test, cmp := uint(o.k), o.mask, o.test, o.cmp
	t, f := at(o.jt), at(o.jf)
	switch o.kind {
	case kRetK:
		return func([]byte, *packet.Packet, uint32, uint32) uint32 { return o.k }
	case kRetA:
		return func(_ []byte, _ *packet.Packet, a, _ uint32) uint32 { return a }
	case kJA:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 { return t.to(d, pkt, a, x) }
	case kJeqK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a == o.k {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJgtK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a > o.k {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJgeK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a >= o.k {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJsetK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a&o.k != 0 {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJeqX:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a == x {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJgtX:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a > x {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJgeX:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a >= x {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJsetX:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if a&x != 0 {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kJeqTable:
		keys := p.keys[o.cmp : o.cmp+o.mask]
		targets := make([]next, len(keys))
		for j := range keys {
			targets[j] = at(p.targets[int(o.cmp)+j])
		}
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			for j, key := range keys {
				if a == key {
					return targets[j].to(d, pkt, a, x)
				}
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsWEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+4 > uint(len(d)) {
				return 0
			}
			a = binary.BigEndian.Uint32(d[k:]) & mask
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsWGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+4 > uint(len(d)) {
				return 0
			}
			a = binary.BigEndian.Uint32(d[k:]) & mask
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsHEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+2 > uint(len(d)) {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(d[k:])) & mask
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsHGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+2 > uint(len(d)) {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(d[k:])) & mask
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsBEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+1 > uint(len(d)) {
				return 0
			}
			a = uint32(d[k]) & mask
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardAbsBGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k+1 > uint(len(d)) {
				return 0
			}
			a = uint32(d[k]) & mask
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndWEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+4 <= uint(len(d)) {
				a = binary.BigEndian.Uint32(d[off:]) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 4); ok {
				a = v & mask
			} else {
				return 0
			}
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndWGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+4 <= uint(len(d)) {
				a = binary.BigEndian.Uint32(d[off:]) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 4); ok {
				a = v & mask
			} else {
				return 0
			}
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndHEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+2 <= uint(len(d)) {
				a = uint32(binary.BigEndian.Uint16(d[off:])) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 2); ok {
				a = v & mask
			} else {
				return 0
			}
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndHGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+2 <= uint(len(d)) {
				a = uint32(binary.BigEndian.Uint16(d[off:])) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 2); ok {
				a = v & mask
			} else {
				return 0
			}
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndBEq:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+1 <= uint(len(d)) {
				a = uint32(d[off]) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 1); ok {
				a = v & mask
			} else {
				return 0
			}
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	case kGuardIndBGt:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if off := uint(o.k + x); off+1 <= uint(len(d)) {
				a = uint32(d[off]) & mask
			} else if v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 1); ok {
				a = v & mask
			} else {
				return 0
			}
			if a > cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	}
	return p.straight(i, at(uint16(i+1)), random)
}

// straight builds the closure of an operation that falls through to the
// next instruction: the common ones inline, the rest through step.
func (p *Prog) straight(i int, n next, random func() uint32) node {
	o := p.ops[i]
	k := uint(o.k)
	switch o.kind {
	case kLdxMsh:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if k < uint(len(d)) {
				return n.to(d, pkt, a, uint32(d[k]&0xf)<<2)
			}
			v, ok := loadN(pkt, frameOf(pkt), int32(o.k), 1)
			if !ok {
				return 0
			}
			return n.to(d, pkt, a, (v&0xf)<<2)
		}
	case kLdAbsH:
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			if k+2 > uint(len(d)) {
				return 0
			}
			return n.to(d, pkt, uint32(binary.BigEndian.Uint16(d[k:])), x)
		}
	case kLdAbsB:
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			if k >= uint(len(d)) {
				return 0
			}
			return n.to(d, pkt, uint32(d[k]), x)
		}
	case kLdAbsW:
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			if k+4 > uint(len(d)) {
				return 0
			}
			return n.to(d, pkt, binary.BigEndian.Uint32(d[k:]), x)
		}
	case kTax:
		return func(d []byte, pkt *packet.Packet, a, _ uint32) uint32 { return n.to(d, pkt, a, a) }
	case kAndK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 { return n.to(d, pkt, a&o.k, x) }
	case kAddK:
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 { return n.to(d, pkt, a+o.k, x) }
	}
	return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
		a, x, ok := step(&o, d, pkt, a, x, random)
		if !ok {
			return 0
		}
		return n.to(d, pkt, a, x)
	}
}

// step runs one operation that falls through to the next instruction and
// touches no scratch memory; ok is false when the program ends with 0 (a
// failed load, a division by X == 0). It has the semantics of the same
// kinds in exec.go.
func step(o *op, d []byte, pkt *packet.Packet, a, x uint32, random func() uint32) (uint32, uint32, bool) {
	switch o.kind {
	case kLdImm:
		a = o.k
	case kLdxImm:
		x = o.k
	case kLdLen:
		a = uint32(len(d))
	case kLdxLen:
		x = uint32(len(d))
	case kTax:
		x = a
	case kTxa:
		a = x
	case kLdAbsW, kLdAbsH, kLdAbsB, kLdNegW, kLdNegH, kLdNegB:
		size := 4 >> ((o.kind - kLdAbsW) % 3)
		v, ok := loadN(pkt, frameOf(pkt), int32(o.k), int(size))
		if !ok {
			return 0, 0, false
		}
		a = v
	case kLdIndW, kLdIndH, kLdIndB:
		v, ok := loadN(pkt, frameOf(pkt), int32(o.k+x), 4>>(o.kind-kLdIndW))
		if !ok {
			return 0, 0, false
		}
		a = v
	case kLdxMsh:
		v, ok := loadN(pkt, frameOf(pkt), int32(o.k), 1)
		if !ok {
			return 0, 0, false
		}
		x = (v & 0xf) << 2
	case kAddK:
		a += o.k
	case kSubK:
		a -= o.k
	case kMulK:
		a *= o.k
	case kDivK:
		a /= o.k
	case kModK:
		a %= o.k
	case kAndK:
		a &= o.k
	case kOrK:
		a |= o.k
	case kXorK:
		a ^= o.k
	case kLshK:
		a <<= o.k & 31
	case kRshK:
		a >>= o.k & 31
	case kAddX:
		a += x
	case kSubX:
		a -= x
	case kMulX:
		a *= x
	case kDivX:
		if x == 0 {
			return 0, 0, false
		}
		a /= x
	case kModX:
		if x == 0 {
			return 0, 0, false
		}
		a %= x
	case kAndX:
		a &= x
	case kOrX:
		a |= x
	case kXorX, kAncXorX:
		a ^= x
	case kLshX:
		a <<= x & 31
	case kRshX:
		a >>= x & 31
	case kNeg:
		a = -a
	case kAncProtocol, kAncPktType, kAncIfindex, kAncMark, kAncQueue, kAncHatype,
		kAncRxhash, kAncCPU, kAncVlanTag, kAncVlanPresent, kAncVlanTPID:
		a = metaValue(o.kind, pkt)
	case kAncNlattr:
		a = ancNlattr(pkt, frameOf(pkt), a, x)
	case kAncNlattrNest:
		a = ancNlattrNest(pkt, frameOf(pkt), a, x)
	case kAncPayOffset:
		a = PayloadOffset(pkt)
	case kAncRandom:
		a = random()
	default:
		return 0, 0, false // unreachable: closable and closure cover the rest
	}
	return a, x, true
}
