package cbpf

import (
	"encoding/binary"
	"math/rand/v2"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// A generator of random classic programs for differential tests, biased
// toward packet loads, extensions, ALU operations and jumps, with enough
// structure that most programs pass the checker. Everything comes from one
// seeded source, so a failure names the seed that reproduces it.

// genMode says which loads the oracle the programs run against can answer
// deterministically.
type genMode struct {
	device bool // ifindex, hatype and MAC-relative loads (AF_PACKET on veth)
	cpu    bool // the CPU is pinned, so SKF_AD_CPU is known
}

// interesting constants for immediates and compares.
var interesting = []uint32{
	0, 1, 2, 3, 4, 7, 8, 12, 14, 15, 16, 20, 23, 31, 32, 33, 40, 64, 255, 256,
	0x800, 0x86dd, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
	0x80000001, 0xfffffff0, 0xfffffffe, 0xffffffff,
}

func pick(r *rand.Rand, s []uint32) uint32 { return s[r.IntN(len(s))] }

// genImm returns an immediate: interesting or random.
func genImm(r *rand.Rand) uint32 {
	if r.IntN(3) == 0 {
		return r.Uint32()
	}
	return pick(r, interesting)
}

// genOffset returns a packet offset for a load of a packet around plen
// bytes long: mostly inside, often at the edge, sometimes far out or
// header-relative.
func genOffset(r *rand.Rand, m genMode, plen int) uint32 {
	switch r.IntN(12) {
	case 0:
		return uint32(plen - 4 + r.IntN(8))
	case 1:
		if m.device {
			return pick(r, []uint32{0x7fffffff, 0x80000000, netOff - 1, llOff - 1, adOff - 1, 0x10000})
		}
		return pick(r, []uint32{0x7fffffff, 0x80000000, llOff - 1, adOff - 1, 0x10000})
	case 2:
		return netOff + uint32(r.IntN(64))
	case 3:
		if m.device {
			return llOff + uint32(r.IntN(64))
		}
		return netOff + uint32(plen-4+r.IntN(8))
	}
	return uint32(r.IntN(plen))
}

// ancillaries the mode allows.
func genAnc(r *rand.Rand, m genMode) uint32 {
	all := []uint32{
		uapi.SKF_AD_PROTOCOL, uapi.SKF_AD_PKTTYPE, uapi.SKF_AD_NLATTR, uapi.SKF_AD_NLATTR_NEST,
		uapi.SKF_AD_MARK, uapi.SKF_AD_QUEUE, uapi.SKF_AD_RXHASH, uapi.SKF_AD_ALU_XOR_X,
		uapi.SKF_AD_VLAN_TAG, uapi.SKF_AD_VLAN_TAG_PRESENT, uapi.SKF_AD_PAY_OFFSET, uapi.SKF_AD_VLAN_TPID,
	}
	if m.device {
		all = append(all, uapi.SKF_AD_IFINDEX, uapi.SKF_AD_HATYPE)
	}
	if m.cpu {
		all = append(all, uapi.SKF_AD_CPU)
	}
	return anc(pick(r, all))
}

// genProgram returns a random program for packets of about plen bytes.
// Most are valid; some break a checker rule on purpose when invalid is set.
func genProgram(r *rand.Rand, m genMode, plen int) []bpf.RawInstruction {
	n := 2 + r.IntN(24)
	prog := make([]bpf.RawInstruction, 0, n)
	var stored uint16
	sizes := []uint16{w, h, b}
	for i := 0; i < n-1; i++ {
		left := n - 1 - i // instructions after this one
		var in bpf.RawInstruction
		switch c := r.IntN(100); {
		case c < 22: // packet loads
			sz := sizes[r.IntN(3)]
			switch r.IntN(4) {
			case 0, 1:
				in = stmt(ld|sz|abs, genOffset(r, m, plen))
			case 2:
				kv := uint32(r.IntN(plen))
				if r.IntN(4) == 0 {
					kv = genOffset(r, m, plen)
				}
				if !m.device && kv >= llOff-1024 && kv < netOff {
					// X+k could land MAC-relative, which the oracle without a
					// MAC header cannot answer as the packet model does.
					kv = netOff
				}
				in = stmt(ld|sz|ind, kv)
			default:
				in = stmt(ldx|b|msh, genOffset(r, m, plen))
			}
		case c < 32: // extensions
			sz := sizes[r.IntN(3)]
			in = stmt(ld|sz|abs, genAnc(r, m))
		case c < 40: // immediates and lengths
			switch r.IntN(4) {
			case 0:
				in = stmt(ld|imm, genImm(r))
			case 1:
				in = stmt(ldx|imm, genImm(r))
			case 2:
				in = stmt(ld|w|lenm, 0)
			default:
				in = stmt(ldx|w|lenm, 0)
			}
		case c < 48: // scratch memory
			switch r.IntN(4) {
			case 0:
				s := uint32(r.IntN(16))
				in, stored = stmt(st, s), stored|1<<s
			case 1:
				s := uint32(r.IntN(16))
				in, stored = stmt(stx, s), stored|1<<s
			default:
				s := uint32(r.IntN(16))
				if stored != 0 && r.IntN(8) != 0 {
					for stored&(1<<s) == 0 {
						s = (s + 1) % 16
					}
				}
				code := uint16(ld | mem)
				if r.IntN(2) == 0 {
					code = ldx | mem
				}
				in = stmt(code, s)
			}
		case c < 72: // ALU
			ops := []uint16{add, sub, mul, div, or, and, lsh, rsh, mod, xor}
			op := ops[r.IntN(len(ops))]
			if r.IntN(12) == 0 {
				in = stmt(alu|neg, 0)
				break
			}
			if r.IntN(2) == 0 {
				in = stmt(alu|op|x, 0)
				break
			}
			kv := genImm(r)
			switch op {
			case div, mod:
				if kv == 0 {
					kv = 3
				}
			case lsh, rsh:
				kv %= 32
			}
			in = stmt(alu|op|k, kv)
		case c < 88: // jumps
			ops := []uint16{jeq, jgt, jge, jset}
			jt := uint8(r.IntN(min(left, 256)))
			jf := uint8(r.IntN(min(left, 256)))
			if r.IntN(3) == 0 {
				jf = 0
			}
			if r.IntN(6) == 0 {
				in = stmt(jmp|ja, uint32(r.IntN(left)))
				break
			}
			src := uint16(k)
			if r.IntN(3) == 0 {
				src = x
			}
			in = jump(jmp|ops[r.IntN(4)]|src, genImm(r), jt, jf)
		case c < 94:
			if r.IntN(2) == 0 {
				in = stmt(misc|tax, 0)
			} else {
				in = stmt(misc|txa, 0)
			}
		default: // an early return
			if r.IntN(2) == 0 {
				in = stmt(ret|a, 0)
			} else {
				in = stmt(ret|k, genImm(r))
			}
		}
		prog = append(prog, in)
	}
	if r.IntN(2) == 0 {
		prog = append(prog, stmt(ret|a, 0))
	} else {
		prog = append(prog, stmt(ret|k, genImm(r)))
	}
	return prog
}

// mutate breaks or bends one instruction of prog at random: the programs
// the checker differential compares include many invalid ones.
func mutate(r *rand.Rand, prog []bpf.RawInstruction) []bpf.RawInstruction {
	p := append([]bpf.RawInstruction(nil), prog...)
	i := r.IntN(len(p))
	switch r.IntN(10) {
	case 0:
		p[i].Op = uint16(r.IntN(0x100))
	case 1:
		p[i].Op = uint16(r.Uint32())
	case 2:
		p[i].Jt = uint8(r.IntN(256))
	case 3:
		p[i].Jf = uint8(r.IntN(256))
	case 4:
		p[i].K = pick(r, []uint32{0, 16, 31, 32, 0xffffffff, adOff + uint32(r.IntN(80)), adOff - 1})
	case 5:
		p = p[:len(p)-1]
	case 6:
		p[i] = stmt(ld|mem, uint32(r.IntN(17)))
	case 7:
		p[i] = stmt(jmp|ja, uint32(len(p)-i-1-r.IntN(2)))
	case 8:
		p[i] = stmt(ld|pick16(r, []uint16{w, h, b})|abs, adOff+uint32(r.IntN(72)))
	default:
		p[i].K = r.Uint32()
	}
	return p
}

func pick16(r *rand.Rand, s []uint16) uint16 { return s[r.IntN(len(s))] }

// genPayload returns plen random bytes, sometimes laid out as netlink
// attributes (host order headers, some nested) so that the netlink
// extensions find something.
func genPayload(r *rand.Rand, plen int) []byte {
	p := make([]byte, plen)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	if r.IntN(3) != 0 {
		return p
	}
	off := r.IntN(4) * 4
	for off+8 <= plen {
		l := 4 + r.IntN(5)*4
		if off+l > plen {
			break
		}
		t := uint16(r.IntN(16))
		if r.IntN(4) == 0 {
			t |= 0x8000
		}
		binary.LittleEndian.PutUint16(p[off:], uint16(l))
		binary.LittleEndian.PutUint16(p[off+2:], t)
		if r.IntN(3) == 0 && l >= 12 { // a nested attribute inside
			binary.LittleEndian.PutUint16(p[off+4:], uint16(l-4))
			binary.LittleEndian.PutUint16(p[off+6:], uint16(r.IntN(16)))
			off += 4
			continue
		}
		off += l
	}
	return p
}

// genFrame returns an Ethernet frame of about plen bytes with headers the
// flow dissector and the extensions care about. dst is the receiving
// device's MAC address.
func genFrame(r *rand.Rand, plen int, dst []byte) []byte {
	f := genPayload(r, plen)
	switch r.IntN(5) {
	case 0:
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	case 1:
		f[0] |= 1 // multicast
	case 2:
		f[0] &^= 1 // another host
	default:
		copy(f, dst)
	}
	f[6] &^= 1 // a unicast source
	off := 12
	if r.IntN(5) == 0 { // an 802.1Q tag, which the receive path offloads
		ether := pick(r, []uint32{0x8100, 0x88a8})
		binary.BigEndian.PutUint16(f[off:], uint16(ether))
		off += 4
		if r.IntN(3) == 0 { // and sometimes a second one
			binary.BigEndian.PutUint16(f[off:], 0x8100)
			off += 4
		}
	}
	ethers := []uint32{0x0800, 0x0800, 0x0800, 0x86dd, 0x86dd, 0x0806, 0x8847, 0x8864, 0x8906, 0x88ca, 0x0042, 0x1234}
	ether := uint16(pick(r, ethers))
	binary.BigEndian.PutUint16(f[off:], ether)
	l3 := f[off+2:]
	protos := []byte{6, 6, 17, 1, 58, 2, 33, 132, 136, 47, 4, 41, 0, 43, 44, 60, 99}
	switch ether {
	case 0x0800:
		ihl := byte(5)
		if r.IntN(4) == 0 {
			ihl = byte(r.IntN(16))
		}
		l3[0] = 0x40 | ihl
		l3[9] = protos[r.IntN(len(protos))]
		l3[6], l3[7] = 0, 0
		if r.IntN(5) == 0 {
			l3[6], l3[7] = byte(r.IntN(4)), byte(r.Uint32()) // fragments
		}
		if int(ihl)*4 <= len(l3) {
			fillL4(r, l3[int(ihl)*4:], l3[9])
		}
	case 0x86dd:
		l3[0] = 0x60
		l3[6] = protos[r.IntN(len(protos))]
		if len(l3) > 40 {
			fillL4(r, l3[40:], l3[6])
		}
	case 0x8864:
		l3[0], l3[1] = 0x11, 0
		if r.IntN(4) == 0 {
			l3[0] = byte(r.Uint32())
		}
		pp := pick(r, []uint32{0x21, 0x57, 0x281, 0x2100, 0x0001, 0x0003})
		binary.BigEndian.PutUint16(l3[6:], uint16(pp))
		l3[8] = 0x45
		l3[17] = 6
	}
	return f
}

// fillL4 gives a transport or extension header some plausible fields.
func fillL4(r *rand.Rand, l4 []byte, proto byte) {
	if len(l4) < 20 {
		return
	}
	switch proto {
	case 6:
		l4[12] = byte(r.IntN(16)) << 4
	case 47: // GRE: mostly plain, protocol IPv4 or TEB
		l4[0], l4[1] = pick8(r, []byte{0, 0x20, 0x80, 0x10, 0x40, 0x01, 0x30}), pick8(r, []byte{0, 0, 1, 0x80})
		binary.BigEndian.PutUint16(l4[2:], uint16(pick(r, []uint32{0x0800, 0x86dd, 0x6558, 0x880b})))
	case 0, 43, 60: // IPv6 extension headers
		l4[0] = pick8(r, []byte{6, 17, 44, 60})
		l4[1] = byte(r.IntN(3))
	case 44:
		l4[0] = pick8(r, []byte{6, 17})
		l4[2], l4[3] = byte(r.IntN(2)), byte(r.IntN(8))
	case 4:
		l4[0] = 0x45
		l4[9] = pick8(r, []byte{6, 17})
	}
}

func pick8(r *rand.Rand, s []byte) byte { return s[r.IntN(len(s))] }
