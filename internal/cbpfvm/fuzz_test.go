package cbpfvm

import (
	"encoding/binary"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Native fuzz targets: the checker never panics and every program it
// accepts runs to its end on both engines, which always agree.

// decode reads struct sock_filter records (host order) from b.
func decode(b []byte) []Insn {
	prog := make([]Insn, 0, len(b)/8)
	for ; len(b) >= 8; b = b[8:] {
		prog = append(prog, Insn{
			Code: binary.LittleEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.LittleEndian.Uint32(b[4:]),
		})
	}
	return prog
}

// encode is the inverse of decode.
func encode(prog ...Insn) []byte {
	var b []byte
	for _, in := range prog {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// seedPrograms are valid and invalid programs the fuzzers start from.
var seedPrograms = [][]byte{
	// tcpdump -ddd 'ip and tcp dst port 80'
	encode(Insn{0x28, 0, 0, 12}, Insn{0x15, 0, 8, 0x800}, Insn{0x30, 0, 0, 23}, Insn{0x15, 0, 6, 6},
		Insn{0x28, 0, 0, 20}, Insn{0x45, 4, 0, 0x1fff}, Insn{0xb1, 0, 0, 14}, Insn{0x48, 0, 0, 16},
		Insn{0x15, 0, 1, 80}, Insn{0x06, 0, 0, 262144}, Insn{0x06, 0, 0, 0}),
	// every extension, then header-relative loads and a division by X
	encode(Insn{0x20, 0, 0, 0xfffff000}, Insn{0x20, 0, 0, 0xfffff004}, Insn{0x20, 0, 0, 0xfffff008},
		Insn{0x20, 0, 0, 0xfffff00c}, Insn{0x20, 0, 0, 0xfffff010}, Insn{0x20, 0, 0, 0xfffff014},
		Insn{0x20, 0, 0, 0xfffff018}, Insn{0x20, 0, 0, 0xfffff01c}, Insn{0x20, 0, 0, 0xfffff020},
		Insn{0x20, 0, 0, 0xfffff024}, Insn{0x20, 0, 0, 0xfffff028}, Insn{0x20, 0, 0, 0xfffff02c},
		Insn{0x20, 0, 0, 0xfffff030}, Insn{0x20, 0, 0, 0xfffff034}, Insn{0x20, 0, 0, 0xfffff038},
		Insn{0x20, 0, 0, 0xfffff03c}, Insn{0x30, 0, 0, 0xffe0000c}, Insn{0x40, 0, 0, 0xfff00000},
		Insn{0x3c, 0, 0, 0}, Insn{0x16, 0, 0, 0}),
	// scratch memory and jumps
	encode(Insn{0x00, 0, 0, 7}, Insn{0x02, 0, 0, 3}, Insn{0x15, 1, 0, 7}, Insn{0x61, 0, 0, 3},
		Insn{0x07, 0, 0, 0}, Insn{0x6c, 0, 0, 0}, Insn{0x16, 0, 0, 0}),
	// invalid: read before write, no final return, bad opcode
	encode(Insn{0x60, 0, 0, 0}, Insn{0x16, 0, 0, 0}),
	encode(Insn{0x00, 0, 0, 0}),
	encode(Insn{0x0e, 0, 0, 0}),
}

// seedFrame is an Ethernet IPv4 TCP SYN.
var seedFrame = func() []byte {
	f := make([]byte, 64)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f[14], f[23], f[46], f[47] = 0x45, 6, 0x50, 0x02
	binary.BigEndian.PutUint16(f[36:], 80)
	return f
}()

// fuzzPacket builds a packet from fuzz input: a frame, an L3 packet or the
// empty packet, with metadata and a layout chosen by flags.
func fuzzPacket(data []byte, flags uint32) *packet.Packet {
	pkt := &packet.Packet{}
	switch flags & 3 {
	case 0:
		if pkt.SetFrame(data) != nil {
			return &packet.Packet{}
		}
		if flags&4 != 0 {
			_ = pkt.UntagVLAN()
		}
	case 1:
		if pkt.SetL3(data) != nil {
			return &packet.Packet{}
		}
	case 2:
		return pkt // no buffer at all
	case 3:
		if pkt.SetFrame(data) != nil {
			return &packet.Packet{}
		}
		_ = pkt.Pull(int(flags>>8) % (pkt.LinearLen() + 1))
	}
	if flags&8 != 0 {
		_ = pkt.SetLinearLen(int(flags>>16) % (pkt.Len() + 1))
	}
	pkt.Mark, pkt.Hash, pkt.Ifindex, pkt.Slot = flags, ^flags, flags>>3, flags>>28
	pkt.VLANPresent, pkt.VLANTCI, pkt.VLANProto = flags&16 != 0, uint16(flags>>5), uint16(flags>>9)
	pkt.Protocol = uint16(flags >> 12)
	return pkt
}

func FuzzCheck(f *testing.F) {
	for _, p := range seedPrograms {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		prog := decode(b)
		if Check(prog) != nil {
			return
		}
		fast := Compile(prog)
		env := &Env{Random: func() uint32 { return 4 }}
		for flags := uint32(0); flags < 4; flags++ {
			pkt := fuzzPacket(seedFrame, flags)
			want := Interpret(prog, pkt, env)
			if got := fast.Run(pkt, env.Random); got != want {
				t.Fatalf("pre-decoded %#x, interpreter %#x", got, want)
			}
		}
	})
}

func FuzzRun(f *testing.F) {
	for i, p := range seedPrograms {
		f.Add(p, seedFrame, uint32(i))
	}
	f.Add(seedPrograms[1], []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17}, uint32(1))
	f.Fuzz(func(t *testing.T, b, data []byte, flags uint32) {
		prog := decode(b)
		if Check(prog) != nil {
			return
		}
		pkt := fuzzPacket(data, flags)
		n := uint32(0)
		rnd := func() uint32 { n++; return n }
		want := Interpret(prog, pkt, &Env{Random: rnd})
		n = 0
		if got := Compile(prog).Run(pkt, rnd); got != want {
			t.Fatalf("pre-decoded %#x, interpreter %#x", got, want)
		}
	})
}

func FuzzPayloadOffset(f *testing.F) {
	f.Add(seedFrame, uint32(0))
	f.Add(seedFrame, uint32(4))
	f.Fuzz(func(t *testing.T, data []byte, flags uint32) {
		pkt := fuzzPacket(data, flags)
		if off := PayloadOffset(pkt); off > 0xffff+60 {
			t.Fatalf("payload offset %d", off)
		}
	})
}
