package cbpf

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Opcode pieces for program tables, with the kernel's names.
const (
	ld   = uapi.BPF_LD
	ldx  = uapi.BPF_LDX
	st   = uapi.BPF_ST
	stx  = uapi.BPF_STX
	alu  = uapi.BPF_ALU
	jmp  = uapi.BPF_JMP
	ret  = uapi.BPF_RET
	misc = uapi.BPF_MISC
	w    = uapi.BPF_W
	h    = uapi.BPF_H
	b    = uapi.BPF_B
	imm  = uapi.BPF_IMM
	abs  = uapi.BPF_ABS
	ind  = uapi.BPF_IND
	mem  = uapi.BPF_MEM
	lenm = uapi.BPF_LEN
	msh  = uapi.BPF_MSH
	k    = uapi.BPF_K
	x    = uapi.BPF_X
	a    = uapi.BPF_A
	add  = uapi.BPF_ADD
	sub  = uapi.BPF_SUB
	mul  = uapi.BPF_MUL
	div  = uapi.BPF_DIV
	or   = uapi.BPF_OR
	and  = uapi.BPF_AND
	lsh  = uapi.BPF_LSH
	rsh  = uapi.BPF_RSH
	neg  = uapi.BPF_NEG
	mod  = uapi.BPF_MOD
	xor  = uapi.BPF_XOR
	ja   = uapi.BPF_JA
	jeq  = uapi.BPF_JEQ
	jgt  = uapi.BPF_JGT
	jge  = uapi.BPF_JGE
	jset = uapi.BPF_JSET
	tax  = uapi.BPF_TAX
	txa  = uapi.BPF_TXA
)

// Offsets for negative and ancillary loads, as the unsigned k of LD ABS.
const (
	adOff  = uint32(0x100000000 + uapi.SKF_AD_OFF)
	netOff = uint32(0x100000000 + uapi.SKF_NET_OFF)
	llOff  = uint32(0x100000000 + uapi.SKF_LL_OFF)
)

// anc returns k for the extension n (uapi.SKF_AD_*).
func anc(n uint32) uint32 { return adOff + n }

// stmt is a non-jump instruction.
func stmt(code uint16, kv uint32) bpf.RawInstruction { return bpf.RawInstruction{Op: code, K: kv} }

// jump is a conditional jump.
func jump(code uint16, kv uint32, jt, jf uint8) bpf.RawInstruction {
	return bpf.RawInstruction{Op: code, Jt: jt, Jf: jf, K: kv}
}

// engines lists the execution engines every table case runs on.
var engines = []struct {
	name string
	e    engine
}{
	{"compiled", engineCompiled},
	{"fused", engineFused},
	{"predecoded", enginePredecoded},
	{"interp", engineInterp},
}

// fixedRandom is the SKF_AD_RANDOM source of table tests.
func fixedRandom() uint32 { return 0x5eed1234 }

// runEngines loads prog on every engine, requires that they agree on pkt
// and returns the result.
func runEngines(t testing.TB, prog []bpf.RawInstruction, pkt *packet.Packet, opts ...Option) uint32 {
	t.Helper()
	var got []uint32
	for _, e := range engines {
		p, err := LoadRaw(prog, append([]Option{WithRandom(fixedRandom), withEngine(e.e)}, opts...)...)
		require.NoError(t, err)
		got = append(got, p.Run(pkt))
	}
	for i := 1; i < len(got); i++ {
		require.Equalf(t, got[0], got[i], "engine %s disagrees with %s", engines[i].name, engines[0].name)
	}
	return got[0]
}

// rewriteReturns turns prog into a probe: every RET becomes a jump to
// epi, which then ends the program from A (RET K first loads K into A). A
// run that ends through a fault (a failed load, division by zero) still
// returns 0. It reports false when a rewritten jump no longer fits 8 bits.
func rewriteReturns(prog, epi []bpf.RawInstruction) ([]bpf.RawInstruction, bool) {
	pos := make([]int, len(prog)+1)
	p := 0
	for i, in := range prog {
		pos[i] = p
		p++
		if in.Op == ret|k {
			p++
		}
	}
	pos[len(prog)] = p
	start := p
	out := make([]bpf.RawInstruction, 0, p+len(epi))
	for i, in := range prog {
		self := pos[i]
		switch {
		case in.Op == ret|k:
			out = append(out, stmt(ld|imm, in.K), stmt(jmp|ja, uint32(start-(self+1)-1)))
		case in.Op == ret|a:
			out = append(out, stmt(jmp|ja, uint32(start-self-1)))
		case in.Op == jmp|ja:
			out = append(out, stmt(jmp|ja, uint32(pos[i+1+int(in.K)]-self-1)))
		case in.Op&0x07 == jmp:
			jt := pos[i+1+int(in.Jt)] - self - 1
			jf := pos[i+1+int(in.Jf)] - self - 1
			if jt > 255 || jf > 255 {
				return nil, false
			}
			out = append(out, jump(in.Op, in.K, uint8(jt), uint8(jf)))
		default:
			out = append(out, in)
		}
	}
	return append(out, epi...), true
}

// byteProbe is the epilogue that returns byte n of A plus one: on a socket
// the probe delivers byte+1 bytes of a packet of at least 256 bytes.
func byteProbe(n int) []bpf.RawInstruction {
	return []bpf.RawInstruction{
		stmt(alu|rsh|k, uint32(8*n)), // rsh #8n
		stmt(alu|and|k, 0xff),        // and #0xff
		stmt(alu|add|k, 1),           // add #1
		stmt(ret|a, 0),               // ret a
	}
}

// classProbe is the epilogue that returns classid 1:(nibble n of A)+1,
// one of the classes 1:1 to 1:16.
func classProbe(n int) []bpf.RawInstruction {
	return []bpf.RawInstruction{
		stmt(alu|rsh|k, uint32(4*n)), // rsh #4n
		stmt(alu|and|k, 0xf),         // and #0xf
		stmt(alu|add|k, 0x10001),     // add #0x10001
		stmt(ret|a, 0),               // ret a
	}
}

// pktType is eth_type_trans's choice of skb->pkt_type.
func pktType(f, own []byte) packet.Type {
	switch {
	case string(f[:6]) == string(own):
		return packet.Host
	case string(f[:6]) == "\xff\xff\xff\xff\xff\xff":
		return packet.Broadcast
	case f[0]&1 != 0:
		return packet.Multicast
	}
	return packet.OtherHost
}
