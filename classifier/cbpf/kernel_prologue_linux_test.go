package cbpf

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// The compiled engine's largest superinstructions (windows over guards at
// constant offsets, msh guards, and the two in one closure) against the
// kernel, on programs shaped like the start of tcpdump's port and flag
// filters whose constants come from the frame they run on.

// prologuePrograms is the number of programs TestKernelGeneratedPrologues
// compares (a tenth under -short).
const prologuePrograms = 3000

// genPrologue returns two or three guards at constant offsets that leave
// for RET #0 when they fail, "ldxb 4*([mk]&0xf)", a guard at X plus a
// constant, and the returns; the constants are ref's bytes, sometimes
// with a bit flipped.
func genPrologue(r *rand.Rand, ref []byte) []bpf.RawInstruction {
	at := func(off, n int) uint32 {
		var v uint32
		for i := range n {
			v <<= 8
			if off+i < len(ref) {
				v |= uint32(ref[off+i])
			}
		}
		return v
	}
	sizes := []struct {
		code uint16
		n    int
	}{{b, 1}, {h, 2}, {w, 4}}
	var prog []bpf.RawInstruction
	var fails []int
	guard := func(code uint16, kv uint32, off, n int) {
		prog = append(prog, stmt(ld|code, kv)) // ld{b,h,} [kv] or [x + kv]
		v := at(off, n)
		if r.IntN(6) == 0 {
			v ^= 1 << r.IntN(8*n)
		}
		if r.IntN(4) == 0 {
			bit := uint32(1) << r.IntN(8*n)
			for i := range 8 * n {
				if v&(1<<i) == 0 && r.IntN(3) != 0 {
					bit = 1 << i
					break
				}
			}
			prog = append(prog, jump(jmp|jset|k, bit, 0, 0)) // jset #bit: leaves when set
		} else {
			prog = append(prog, jump(jmp|jeq|k, v, 0, 0)) // jeq #v: leaves when not equal
		}
		fails = append(fails, len(prog)-1)
	}
	for range 2 + r.IntN(2) {
		sz := sizes[r.IntN(3)]
		off := 10 + r.IntN(12)
		guard(sz.code|abs, uint32(off), off, sz.n)
	}
	mk := 14
	if r.IntN(4) == 0 {
		mk = r.IntN(40)
	}
	x := 0
	if mk < len(ref) {
		x = int(ref[mk]&0xf) << 2
	}
	prog = append(prog, stmt(ldx|b|msh, uint32(mk))) // ldxb 4*([mk]&0xf)
	sz := sizes[r.IntN(3)]
	k2 := r.IntN(30)
	guard(sz.code|ind, uint32(k2), k2+x, sz.n)
	ok := len(prog)
	prog = append(prog, stmt(ret|k, 0x40000), stmt(ret|k, 0)) // ret #0x40000; ret #0
	for _, pc := range fails {
		skip := uint8(ok - pc)
		if prog[pc].Op == jmp|jset|k {
			prog[pc].Jt = skip
		} else {
			prog[pc].Jf = skip
		}
	}
	return prog
}

func TestKernelGeneratedPrologues(t *testing.T) {
	v := kerneltest.NewVeth(t)
	cpu := pinCPU(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x70726f6c))
	pkt := packet.New(1024)
	d := &differ{o: v, mk: func(f []byte) *packet.Packet {
		vethPacket(t, pkt, f, v)
		pkt.Slot = cpu
		return pkt
	}}
	matched := 0
	for i := range shortened(prologuePrograms) {
		// Short frames put the windows' and guards' loads near and past
		// the end, where the closures hand over to exact ones.
		f := genFrame(r, 256+r.IntN(200), v.MAC)
		if r.IntN(2) == 0 {
			f = f[:34+r.IntN(40)]
		}
		ref := append([]byte(nil), d.mk(f).Bytes()...)
		prog := genPrologue(r, ref)
		frames := [][]byte{f, genFrame(r, 256, v.MAC)[:34+r.IntN(222)]}
		if err := d.compare(prog, frames); err != nil {
			failProgram(t, seed, i, prog, err)
		}
		if p, err := LoadRaw(prog); err == nil && p.Run(d.mk(f)) != 0 {
			matched++
		}
	}
	if matched < shortened(prologuePrograms)/20 {
		t.Errorf("only %d programs reached their success return", matched)
	}
	t.Logf("seed %d: %d programs (%d matching their frame), %d runs (%d kept) agree with the kernel", seed, shortened(prologuePrograms), matched, d.runs, d.kept)
}
