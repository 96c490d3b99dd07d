package cbpfvm

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// The closure-compiled form: each operation of the fused form (fuse.go)
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
// allocated or shared), and a run's call depth grows with the length of
// its path through the program, so CompileClosures refuses programs that
// use M[] or whose longest path is longer than MaxClosureDepth; those run
// on the switch executor (exec.go).

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

// CompileClosures compiles the fused form p (from CompileFused) of a
// checked program to closures; random is the SKF_AD_RANDOM source. It
// returns nil when the program uses scratch memory or a path through it is
// longer than MaxClosureDepth.
func CompileClosures(p *Prog, random func() uint32) *Closures {
	if !p.closable() {
		return nil
	}
	// plain[i] runs instruction i's operation alone; nodes[i], what jumps
	// land on, is a window or a msh guard when one starts at i. The larger
	// closures hand the loads they cannot decide to plain ones.
	plain := make([]node, len(p.ops))
	nodes := make([]node, len(p.ops))
	live := liveA(p.ops)
	at := func(t uint16) next {
		if o := &p.ops[t]; o.kind == kRetK {
			return next{ret: true, val: o.k}
		}
		return next{n: nodes[t]}
	}
	for i := len(p.ops) - 1; i >= 0; i-- {
		plain[i] = p.closure(i, at, random)
		nodes[i] = plain[i]
		if c := p.window(i, at, plain, live); c != nil {
			nodes[i] = c
		} else if c := p.mshGuard(i, at, plain); c != nil {
			nodes[i] = c
		}
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
func (p *Prog) closable() bool {
	ops := p.ops
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
			for _, t := range p.targets[o.cmp : o.cmp+o.mask] {
				d = max(d, depth[t])
			}
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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
		return func(d []byte, pkt *packet.Packet, _, x uint32) uint32 {
			var a uint32
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

// A window checks, with two 64-bit compares, a run of guards at constant
// offsets ("ldh [12]; jeq #0x800", "ldb [23]; jeq #6", "ldh [20]; jset
// #0x1fff") that all go on when their test holds and all leave for the
// same RET #k when it does not, and whose bytes lie within 16 bytes of
// each other. Which guard failed does not matter then: each would return
// the same constant. When the whole 16-byte window is not inside the
// frame the run goes on in the first guard's own closure instead, which
// decides each load exactly. Otherwise A ends as the last guard leaves it.

// windowGuard returns the parts of a guard a window can take: its offset,
// size, the bits it tests and the value they must have, and where it goes
// on and leaves; ok is false for anything else.
func windowGuard(o *op) (k, size, bits, want uint32, on, exit uint16, ok bool) {
	switch o.kind {
	case kGuardAbsWEq:
		size = 4
	case kGuardAbsHEq:
		size = 2
	case kGuardAbsBEq:
		size = 1
	default:
		return 0, 0, 0, 0, 0, 0, false
	}
	bits = o.mask & o.test
	if size < 4 {
		bits &= 1<<(8*size) - 1
	}
	if o.cmp&^bits != 0 {
		return 0, 0, 0, 0, 0, 0, false // never equal: leave it to the guard
	}
	return o.k, size, bits, o.cmp, o.jt, o.jf, true
}

// window returns the window closure starting at instruction i, or nil
// when fewer than two guards qualify.
func (p *Prog) window(i int, at func(uint16) next, plain []node, live []bool) node {
	type member struct{ k, size, bits, want uint32 }
	var members []member
	var exit uint16
	lo, hi := uint32(0), uint32(0)
	pc := i
	for {
		o := &p.ops[pc]
		k, size, bits, want, on, off, ok := windowGuard(o)
		if !ok || p.ops[off].kind != kRetK || len(members) > 0 && p.ops[off].k != p.ops[exit].k {
			break
		}
		nlo, nhi := k, k+size
		if len(members) > 0 {
			nlo, nhi = min(lo, k), max(hi, k+size)
		}
		if nhi-nlo > 16 {
			break
		}
		members = append(members, member{k, size, bits, want})
		lo, hi, exit = nlo, nhi, off
		pc = int(on)
	}
	if len(members) < 2 {
		return nil
	}
	// The masks and wanted values of the window, byte by byte, as two
	// little-endian words.
	var m, c [2]uint64
	for _, g := range members {
		for j := range g.size {
			shift := 8 * (g.size - 1 - j) // big-endian: the first byte is the top
			mb, cb := uint64(g.bits>>shift&0xff), uint64(g.want>>shift&0xff)
			pos := g.k + j - lo
			w, bit := pos/8, 8*(pos%8)
			if old := m[w] >> bit & 0xff; c[w]>>bit&mb != cb&old {
				return nil // two guards want different values of one bit
			}
			m[w] |= mb << bit
			c[w] |= cb << bit
		}
	}
	last := members[len(members)-1]
	lk, lshift, lmask := uint(last.k), 32-8*last.size, p.lastMask(i, len(members))
	first, out, after := plain[i], p.ops[exit].k, at(uint16(pc))
	base := uint(lo)
	if pc+1 < len(p.ops) && p.ops[pc].kind == kLdxMsh && p.ops[pc+1].kind == kGuardIndHEq {
		// The window, then "ldxb 4*([k]&0xf); ldh [x + k2]; jeq/jset":
		// the start of every tcpdump port filter, in one closure with no
		// call between the two. A is dead between them: the guard writes
		// it before anything reads it. Loads the closure cannot decide go
		// on in the instructions' own closures.
		g := &p.ops[pc+1]
		mk, gk, mask, test, cmp := uint(p.ops[pc].k), g.k, g.mask, g.test, g.cmp
		t, f, msh, guard := at(g.jt), at(g.jf), plain[pc], plain[pc+1]
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if base+16 > uint(len(d)) {
				return first(d, pkt, a, x)
			}
			if binary.LittleEndian.Uint64(d[base:])&m[0] != c[0] || binary.LittleEndian.Uint64(d[base+8:])&m[1] != c[1] {
				return out
			}
			if mk >= uint(len(d)) {
				return msh(d, pkt, a, x)
			}
			x = uint32(d[mk]&0xf) << 2
			off := uint(gk + x)
			if off+2 > uint(len(d)) {
				return guard(d, pkt, a, x)
			}
			a = uint32(binary.BigEndian.Uint16(d[off:])) & mask
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	}
	if pc+1 < len(p.ops) && p.ops[pc].kind == kLdxMsh && (p.ops[pc+1].kind == kGuardIndBEq || p.ops[pc+1].kind == kGuardIndWEq) {
		// The same for byte and word loads, read as a word and shifted.
		g := &p.ops[pc+1]
		mk, gk, mask, test, cmp := uint(p.ops[pc].k), g.k, g.mask, g.test, g.cmp
		shift := uint32(24)
		if g.kind == kGuardIndWEq {
			shift = 0
		}
		t, f, msh, guard := at(g.jt), at(g.jf), plain[pc], plain[pc+1]
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if base+16 > uint(len(d)) {
				return first(d, pkt, a, x)
			}
			if binary.LittleEndian.Uint64(d[base:])&m[0] != c[0] || binary.LittleEndian.Uint64(d[base+8:])&m[1] != c[1] {
				return out
			}
			if mk >= uint(len(d)) {
				return msh(d, pkt, a, x)
			}
			x = uint32(d[mk]&0xf) << 2
			off := uint(gk + x)
			if off+4 > uint(len(d)) {
				return guard(d, pkt, a, x)
			}
			a = binary.BigEndian.Uint32(d[off:]) >> (shift & 31) & mask
			if a&test == cmp {
				return t.to(d, pkt, a, x)
			}
			return f.to(d, pkt, a, x)
		}
	}
	if !live[pc] {
		// What follows writes A before it reads it: the window need not
		// set it.
		return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
			if base+16 > uint(len(d)) {
				return first(d, pkt, a, x)
			}
			if binary.LittleEndian.Uint64(d[base:])&m[0] != c[0] || binary.LittleEndian.Uint64(d[base+8:])&m[1] != c[1] {
				return out
			}
			return after.to(d, pkt, a, x)
		}
	}
	return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
		if base+16 > uint(len(d)) {
			return first(d, pkt, a, x)
		}
		if binary.LittleEndian.Uint64(d[base:])&m[0] != c[0] || binary.LittleEndian.Uint64(d[base+8:])&m[1] != c[1] {
			return out
		}
		a = binary.BigEndian.Uint32(d[lk:]) >> (lshift & 31) & lmask
		return after.to(d, pkt, a, x)
	}
}

// liveA returns, for every instruction, whether the value A has when the
// instruction starts may still be read: by the instruction itself, or, if
// it does not overwrite A, by one that can run after it.
func liveA(ops []op) []bool {
	live := make([]bool, len(ops))
	for i := len(ops) - 1; i >= 0; i-- {
		o := &ops[i]
		switch o.kind {
		case kRetK:
		case kRetA, kTax, kSt, kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX, kJeqTable,
			kAddK, kSubK, kMulK, kDivK, kModK, kAndK, kOrK, kXorK, kLshK, kRshK,
			kAddX, kSubX, kMulX, kDivX, kModX, kAndX, kOrX, kXorX, kLshX, kRshX, kNeg,
			kAncNlattr, kAncNlattrNest, kAncXorX:
			live[i] = true
		case kLdImm, kLdLen, kLdMem, kTxa, kLdAbsW, kLdAbsH, kLdAbsB, kLdNegW, kLdNegH, kLdNegB,
			kLdIndW, kLdIndH, kLdIndB, kAncProtocol, kAncPktType, kAncIfindex, kAncMark, kAncQueue,
			kAncHatype, kAncRxhash, kAncCPU, kAncVlanTag, kAncVlanPresent, kAncPayOffset, kAncRandom, kAncVlanTPID,
			kGuardAbsWEq, kGuardAbsHEq, kGuardAbsBEq, kGuardAbsWGt, kGuardAbsHGt, kGuardAbsBGt,
			kGuardIndWEq, kGuardIndHEq, kGuardIndBEq, kGuardIndWGt, kGuardIndHGt, kGuardIndBGt:
			// A is written before anything reads it.
		case kJA:
			live[i] = live[o.jt]
		default:
			// kLdxImm, kLdxLen, kLdxMem, kStx, kLdxMsh: A passes through.
			live[i] = live[i+1]
		}
	}
	return live
}

// lastMask returns the AND mask of the n-th guard of the window starting
// at i, following the branches the window goes on along.
func (p *Prog) lastMask(i, n int) uint32 {
	pc := i
	for range n - 1 {
		pc = int(p.ops[pc].jt)
	}
	return p.ops[pc].mask
}

// A msh guard is "ldxb 4*([k]&0xf)" followed by a guard on a load at X
// plus a constant, the way to the transport header in tcpdump's programs:
// both in one closure. A load not wholly inside the frame goes on in the
// two instructions' own closures, which decide it exactly.
func (p *Prog) mshGuard(i int, at func(uint16) next, plain []node) node {
	if p.ops[i].kind != kLdxMsh || i+1 >= len(p.ops) {
		return nil
	}
	g := &p.ops[i+1]
	var shift uint32
	switch g.kind {
	case kGuardIndWEq:
		shift = 0
	case kGuardIndHEq:
		shift = 16
	case kGuardIndBEq:
		shift = 24
	default:
		return nil
	}
	k, gk, mask, test, cmp := uint(p.ops[i].k), g.k, g.mask, g.test, g.cmp
	t, f := at(g.jt), at(g.jf)
	first, second := plain[i], plain[i+1]
	return func(d []byte, pkt *packet.Packet, a, x uint32) uint32 {
		if k >= uint(len(d)) {
			return first(d, pkt, a, x)
		}
		x = uint32(d[k]&0xf) << 2
		off := uint(gk + x)
		if off+4 > uint(len(d)) {
			return second(d, pkt, a, x)
		}
		a = binary.BigEndian.Uint32(d[off:]) >> (shift & 31) & mask
		if a&test == cmp {
			return t.to(d, pkt, a, x)
		}
		return f.to(d, pkt, a, x)
	}
}
