package cbpfvm

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The executor of the pre-decoded and fused forms: one switch on the kind
// per operation, registers and scratch memory in locals, no allocation, no
// lock. Packet loads whose offset is non-negative and inside the packet
// read the buffer directly; the rest (header-relative offsets, faults) go
// through resolve, as in the reference interpreter.

// Run runs p on pkt and returns the filter's result. random is the
// SKF_AD_RANDOM source.
func (p *Prog) Run(pkt *packet.Packet, random func() uint32) uint32 {
	var (
		a, x uint32
		mem  [uapi.BPF_MEMWORDS]uint32
	)
	buf, data, _, end := pkt.Buffer()
	f := frame{buf: buf, data: data, len: end - data}
	n := uint64(f.len)
	ops, keys, targets := p.ops, p.keys, p.targets
	pc := uint(0)
	for {
		o := &ops[pc]
		pc++
		switch o.kind {
		case kRetK:
			return o.k
		case kRetA:
			return a
		case kLdImm:
			a = o.k
		case kLdxImm:
			x = o.k
		case kLdLen:
			a = uint32(f.len)
		case kLdxLen:
			x = uint32(f.len)
		case kLdMem:
			a = mem[o.k&15]
		case kLdxMem:
			x = mem[o.k&15]
		case kSt:
			mem[o.k&15] = a
		case kStx:
			mem[o.k&15] = x
		case kTax:
			x = a
		case kTxa:
			a = x
		case kLdAbsW:
			if uint64(o.k)+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(buf[data+int(o.k):])
		case kLdAbsH:
			if uint64(o.k)+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(buf[data+int(o.k):]))
		case kLdAbsB:
			if uint64(o.k)+1 > n {
				return 0
			}
			a = uint32(buf[data+int(o.k)])
		case kLdIndW:
			if off := uint64(o.k + x); off+4 <= n {
				a = binary.BigEndian.Uint32(buf[data+int(off):])
				break
			}
			v, ok := loadN(pkt, f, int32(o.k+x), 4)
			if !ok {
				return 0
			}
			a = v
		case kLdIndH:
			if off := uint64(o.k + x); off+2 <= n {
				a = uint32(binary.BigEndian.Uint16(buf[data+int(off):]))
				break
			}
			v, ok := loadN(pkt, f, int32(o.k+x), 2)
			if !ok {
				return 0
			}
			a = v
		case kLdIndB:
			if off := uint64(o.k + x); off+1 <= n {
				a = uint32(buf[data+int(off)])
				break
			}
			v, ok := loadN(pkt, f, int32(o.k+x), 1)
			if !ok {
				return 0
			}
			a = v
		case kLdNegW, kLdNegH, kLdNegB:
			v, ok := loadN(pkt, f, int32(o.k), 4>>(o.kind-kLdNegW))
			if !ok {
				return 0
			}
			a = v
		case kLdxMsh:
			if uint64(o.k)+1 <= n {
				x = uint32(buf[data+int(o.k)]&0xf) << 2
				break
			}
			v, ok := loadN(pkt, f, int32(o.k), 1)
			if !ok {
				return 0
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
				return 0
			}
			a /= x
		case kModX:
			if x == 0 {
				return 0
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
		case kJA:
			pc = uint(o.jt)
		case kJeqK:
			pc = pick(a == o.k, o)
		case kJgtK:
			pc = pick(a > o.k, o)
		case kJgeK:
			pc = pick(a >= o.k, o)
		case kJsetK:
			pc = pick(a&o.k != 0, o)
		case kJeqX:
			pc = pick(a == x, o)
		case kJgtX:
			pc = pick(a > x, o)
		case kJgeX:
			pc = pick(a >= x, o)
		case kJsetX:
			pc = pick(a&x != 0, o)
		case kAncProtocol, kAncPktType, kAncIfindex, kAncMark, kAncQueue, kAncHatype,
			kAncRxhash, kAncCPU, kAncVlanTag, kAncVlanPresent, kAncVlanTPID:
			a = metaValue(o.kind, pkt)
		case kAncNlattr:
			a = ancNlattr(pkt, f, a, x)
		case kAncNlattrNest:
			a = ancNlattrNest(pkt, f, a, x)
		case kAncPayOffset:
			a = PayloadOffset(pkt)
		case kAncRandom:
			a = random()

		case kGuardAbsWEq:
			if uint64(o.k)+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(buf[data+int(o.k):]) & o.mask
			pc = pick(a&o.test == o.cmp, o)
		case kGuardAbsWGt:
			if uint64(o.k)+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(buf[data+int(o.k):]) & o.mask
			pc = pick(a > o.cmp, o)
		case kGuardAbsHEq:
			if uint64(o.k)+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(buf[data+int(o.k):])) & o.mask
			pc = pick(a&o.test == o.cmp, o)
		case kGuardAbsHGt:
			if uint64(o.k)+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(buf[data+int(o.k):])) & o.mask
			pc = pick(a > o.cmp, o)
		case kGuardAbsBEq:
			if uint64(o.k)+1 > n {
				return 0
			}
			a = uint32(buf[data+int(o.k)]) & o.mask
			pc = pick(a&o.test == o.cmp, o)
		case kGuardAbsBGt:
			if uint64(o.k)+1 > n {
				return 0
			}
			a = uint32(buf[data+int(o.k)]) & o.mask
			pc = pick(a > o.cmp, o)
		case kGuardIndWEq:
			if off := uint64(o.k + x); off+4 <= n {
				a = binary.BigEndian.Uint32(buf[data+int(off):]) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 4); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a&o.test == o.cmp, o)
		case kGuardIndWGt:
			if off := uint64(o.k + x); off+4 <= n {
				a = binary.BigEndian.Uint32(buf[data+int(off):]) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 4); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a > o.cmp, o)
		case kGuardIndHEq:
			if off := uint64(o.k + x); off+2 <= n {
				a = uint32(binary.BigEndian.Uint16(buf[data+int(off):])) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 2); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a&o.test == o.cmp, o)
		case kGuardIndHGt:
			if off := uint64(o.k + x); off+2 <= n {
				a = uint32(binary.BigEndian.Uint16(buf[data+int(off):])) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 2); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a > o.cmp, o)
		case kGuardIndBEq:
			if off := uint64(o.k + x); off+1 <= n {
				a = uint32(buf[data+int(off)]) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 1); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a&o.test == o.cmp, o)
		case kGuardIndBGt:
			if off := uint64(o.k + x); off+1 <= n {
				a = uint32(buf[data+int(off)]) & o.mask
			} else if v, ok := loadN(pkt, f, int32(o.k+x), 1); ok {
				a = v & o.mask
			} else {
				return 0
			}
			pc = pick(a > o.cmp, o)
		case kJeqTable:
			pc = uint(o.jf)
			for i, key := range keys[o.cmp : o.cmp+o.mask] {
				if a == key {
					pc = uint(targets[int(o.cmp)+i])
					break
				}
			}
		default:
			return 0 // unreachable for a compiled program
		}
	}
}

// pick returns the target of a conditional jump.
func pick(cond bool, o *op) uint {
	if cond {
		return uint(o.jt)
	}
	return uint(o.jf)
}
