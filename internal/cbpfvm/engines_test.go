package cbpfvm

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The engines against each other: the reference interpreter, the
// pre-decoded and fused forms on the switch executor, and the closures,
// on generated checked programs and packets.

// genKs are the constants generated programs use: packet offsets around
// the headers, header-relative and ancillary offsets, masks, ports.
var genKs = []uint32{
	0, 1, 2, 4, 6, 12, 14, 16, 20, 22, 23, 26, 27, 30, 34, 36, 40, 60, 63, 64, 1499, 1500,
	0x800, 0x86dd, 6, 17, 80, 443, 0x1fff, 0xff000000, 0x0a000000, 0xffffffff, 0x7fffffff, 0x80000000,
	skfADOff, skfADOff + uapi.SKF_AD_PROTOCOL, skfADOff + uapi.SKF_AD_MARK, skfADOff + uapi.SKF_AD_RANDOM,
	skfADOff + uapi.SKF_AD_ALU_XOR_X, skfADOff + uapi.SKF_AD_PAY_OFFSET, skfADOff + uapi.SKF_AD_NLATTR,
	0x100000000 + uapi.SKF_NET_OFF, 0x100000000 + uapi.SKF_NET_OFF + 9, 0x100000000 + uapi.SKF_LL_OFF + 12,
}

// genCodes weighs the opcodes filters use most: loads and constant jumps.
var genCodes = func() []uint16 {
	c := Codes()
	for range 4 {
		c = append(c, ld|uapi.BPF_H|uapi.BPF_ABS, ld|uapi.BPF_B|uapi.BPF_ABS, ld|uapi.BPF_W|uapi.BPF_ABS,
			ld|uapi.BPF_H|uapi.BPF_IND, ldx|uapi.BPF_B|uapi.BPF_MSH, alu|uapi.BPF_AND|uapi.BPF_K,
			jmp|uapi.BPF_JEQ|uapi.BPF_K, jmp|uapi.BPF_JEQ|uapi.BPF_K, jmp|uapi.BPF_JSET|uapi.BPF_K,
			jmp|uapi.BPF_JGT|uapi.BPF_K, jmp|uapi.BPF_JGE|uapi.BPF_K)
	}
	return c
}()

// genProgram turns b, eight bytes an instruction, into a program that is
// likely to pass Check: known opcodes, jumps in range, a final return.
func genProgram(b []byte) []Insn {
	n := min(len(b)/8, 64)
	prog := make([]Insn, 0, n+1)
	for i := range n {
		r := b[8*i : 8*i+8]
		in := Insn{Code: genCodes[int(r[0])%len(genCodes)]}
		left := n - i // instructions after this one, the final return included
		in.Jt, in.Jf = uint8(int(r[1])%left), uint8(int(r[2])%left)
		if r[3]&1 == 0 {
			in.K = genKs[int(r[3]>>1)%len(genKs)]
		} else {
			in.K = binary.LittleEndian.Uint32(r[4:])
		}
		switch in.Code {
		case ld | uapi.BPF_MEM, ldx | uapi.BPF_MEM, uapi.BPF_ST, uapi.BPF_STX:
			in.K %= uapi.BPF_MEMWORDS
		case alu | uapi.BPF_LSH | uapi.BPF_K, alu | uapi.BPF_RSH | uapi.BPF_K:
			in.K %= 32
		case alu | uapi.BPF_DIV | uapi.BPF_K, alu | uapi.BPF_MOD | uapi.BPF_K:
			in.K |= 1
		case jmp | uapi.BPF_JA:
			in.K = uint32(int(r[1]) % left)
		}
		prog = append(prog, in)
	}
	return append(prog, Insn{Code: ret | uapi.BPF_A})
}

// runAllEngines runs prog on every engine and fails t on a disagreement.
// rnd is reset before each engine so that SKF_AD_RANDOM sequences match.
func runAllEngines(t testing.TB, prog []Insn, pkt *packet.Packet) uint32 {
	var n uint32
	rnd := func() uint32 { n += 0x9e3779b9; return n }
	want := Interpret(prog, pkt, &Env{Random: rnd})
	n = 0
	if got := Compile(prog).Run(pkt, rnd); got != want {
		t.Fatalf("pre-decoded %#x, interpreter %#x", got, want)
	}
	fused := CompileFused(prog)
	n = 0
	if got := fused.Run(pkt, rnd); got != want {
		t.Fatalf("fused %#x, interpreter %#x", got, want)
	}
	if c := CompileClosures(fused, rnd); c != nil {
		n = 0
		if got := c.Run(pkt); got != want {
			t.Fatalf("closures %#x, interpreter %#x", got, want)
		}
	}
	return want
}

// genFrames are the packets generated programs run on: the seed SYN at
// several lengths (loads near and past the end) and a VLAN-tagged copy.
func genFrames() [][]byte {
	long := make([]byte, 1500)
	copy(long, seedFrame)
	tagged := append(append(append([]byte{}, seedFrame[:12]...), 0x81, 0, 0, 7), seedFrame[12:]...)
	return [][]byte{seedFrame, seedFrame[:14], seedFrame[:24], seedFrame[:37], seedFrame[:38], long, tagged}
}

// TestEngines compares the engines on 3000 generated programs (300 under
// -short), each on seven packet layouts and four metadata settings.
func TestEngines(t *testing.T) {
	count := 3000
	if testing.Short() {
		count = 300
	}
	r := rand.New(rand.NewPCG(9, 9))
	frames := genFrames()
	checked, fusedProgs, closures := 0, 0, 0
	for range count {
		b := make([]byte, 8*(1+r.IntN(24)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		prog := genProgram(b)
		if Check(prog) != nil {
			continue
		}
		checked++
		fused := CompileFused(prog)
		if fused.Fused() > 0 {
			fusedProgs++
		}
		if CompileClosures(fused, nil) != nil {
			closures++
		}
		for _, f := range frames {
			for flags := uint32(0); flags < 4; flags++ {
				runAllEngines(t, prog, fuzzPacket(f, flags|flags<<8))
			}
		}
	}
	// The generator must reach every engine often enough to mean something.
	assert.Greater(t, checked, count/3)
	assert.Greater(t, fusedProgs, checked/4)
	assert.Greater(t, closures, checked/4)
}

func FuzzEngines(f *testing.F) {
	for i, p := range seedPrograms {
		f.Add(p, seedFrame, uint32(i))
	}
	f.Add(encode(
		Insn{0x28, 0, 0, 12},         // ldh [12]
		Insn{0x15, 0, 5, 0x800},      // jeq #0x800 jt 2 jf 7
		Insn{0xb1, 0, 0, 14},         // ldxb 4*([14]&0xf)
		Insn{0x48, 0, 0, 16},         // ldh [x + 16]
		Insn{0x15, 2, 0, 22},         // jeq #22 jt 7 jf 5
		Insn{0x15, 1, 0, 80},         // jeq #80 jt 7 jf 6
		Insn{0x15, 0, 1, 443},        // jeq #443 jt 7 jf 8
		Insn{0x06, 0, 0, 0xffffffff}, // ret #-1
		Insn{0x06, 0, 0, 0},          // ret #0
	), seedFrame, uint32(0))
	f.Add([]byte{1, 2, 3}, seedFrame, uint32(1<<31))
	f.Fuzz(func(t *testing.T, b, data []byte, flags uint32) {
		prog := decode(b)
		switch {
		case flags>>31 != 0:
			// A tcpdump-shaped prologue whose constants come from data.
			h := fnv.New64a()
			h.Write(b)
			ref := make([]byte, 128)
			copy(ref, data)
			prog = genPrologue(rand.New(rand.NewPCG(h.Sum64(), 0)), ref)
		case Check(prog) != nil:
			prog = genProgram(b)
		}
		if Check(prog) != nil {
			return
		}
		runAllEngines(t, prog, fuzzPacket(data, flags&^(1<<31)))
	})
}

// TestFusion pins which superinstructions the compiled form finds.
func TestFusion(t *testing.T) {
	tests := []struct {
		name  string
		prog  []Insn
		fused int
		kinds map[int]kind // instruction index: operation kind in the fused form
	}{
		{
			name: "tcp_dst_port_80",
			prog: decode(seedPrograms[0]),
			// ldh [12]; jeq / ldb [23]; jeq / ldh [20]; jset / ldh [x+16]; jeq
			fused: 4,
			kinds: map[int]kind{0: kGuardAbsHEq, 2: kGuardAbsBEq, 4: kGuardAbsHEq, 6: kLdxMsh, 7: kGuardIndHEq, 9: kRetK},
		},
		{
			name: "load_and_jeq",
			prog: []Insn{
				{0x20, 0, 0, 26},         // ld [26]
				{0x54, 0, 0, 0xff000000}, // and #0xff000000
				{0x15, 0, 1, 0x0a000000}, // jeq #0xa000000 jt 3 jf 4
				{0x06, 0, 0, 1},          // ret #1
				{0x06, 0, 0, 0},          // ret #0
			},
			fused: 1,
			kinds: map[int]kind{0: kGuardAbsWEq, 1: kAndK, 2: kJeqK},
		},
		{
			name: "jgt_and_jge",
			prog: []Insn{
				{0x30, 0, 0, 23}, // ldb [23]
				{0x25, 1, 0, 6},  // jgt #6 jt 3 jf 2
				{0x50, 0, 0, 1},  // ldb [x + 1]
				{0x35, 0, 0, 0},  // jge #0 jt 4 jf 4
				{0x16, 0, 0, 0},  // ret a
			},
			fused: 2,
			kinds: map[int]kind{0: kGuardAbsBGt, 2: kGuardIndBEq},
		},
		{
			name: "jeq_run_is_a_table",
			prog: []Insn{
				{0x15, 3, 0, 1}, // jeq #1 jt 4 jf 1
				{0x15, 2, 0, 2}, // jeq #2 jt 4 jf 2
				{0x15, 1, 0, 3}, // jeq #3 jt 4 jf 3
				{0x15, 0, 1, 4}, // jeq #4 jt 4 jf 5
				{0x06, 0, 0, 1}, // ret #1
				{0x06, 0, 0, 0}, // ret #0
			},
			fused: 2,
			kinds: map[int]kind{0: kJeqTable, 1: kJeqTable, 2: kJeqK, 3: kJeqK},
		},
		{
			name: "nothing_to_fuse",
			prog: []Insn{
				{0x20, 0, 0, skfADOff + uapi.SKF_AD_MARK}, // ld [mark]
				{0x04, 0, 0, 1}, // add #1
				{0x16, 0, 0, 0}, // ret a
			},
			fused: 0,
			kinds: map[int]kind{0: kAncMark, 1: kAddK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Nil(t, Check(tt.prog))
			p := CompileFused(tt.prog)
			assert.Equal(t, tt.fused, p.Fused())
			for i, k := range tt.kinds {
				assert.Equal(t, k, p.ops[i].kind, "instruction %d", i)
			}
			for _, f := range genFrames() {
				runAllEngines(t, tt.prog, fuzzPacket(f, 0))
			}
		})
	}
}

// TestClosable pins which programs closures can run.
func TestClosable(t *testing.T) {
	long := make([]Insn, 0, MaxClosureDepth+1)
	for range MaxClosureDepth {
		long = append(long, Insn{0x04, 0, 0, 1}) // add #1
	}
	long = append(long, Insn{0x16, 0, 0, 0}) // ret a
	// A JEQ table whose first entry leads down a long path.
	jeqs := []Insn{
		{0x15, 3, 0, 1}, // jeq #1 jt 4 jf 1
		{0x15, 1, 0, 2}, // jeq #2 jt 3 jf 2
		{0x15, 0, 0, 3}, // jeq #3 jt 3 jf 3
		{0x06, 0, 0, 0}, // ret #0
	}
	table := func(tail []Insn) []Insn { return append(append([]Insn{}, jeqs...), tail...) }
	tests := []struct {
		name string
		prog []Insn
		want bool
	}{
		{"tcp_dst_port_80", decode(seedPrograms[0]), true},
		{"table_entry_past_the_limit", table(long[1:]), false},
		{"table_entry_at_the_limit", table(long[2:]), true},
		{"every_extension", decode(seedPrograms[1]), true},
		{"scratch_memory", decode(seedPrograms[2]), false},
		{"path_at_the_limit", long[1:], true},
		{"path_past_the_limit", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Nil(t, Check(tt.prog))
			assert.Equal(t, tt.want, CompileClosures(CompileFused(tt.prog), nil) != nil)
		})
	}
}

// genFilter builds a program shaped like tcpdump's output, whose guards
// compare against the bytes of ref so that they pass as often as they
// fail: guards on constant offsets, "ldxb 4*([k]&0xf)" and guards on X
// plus a constant, JEQ runs, each guard going on to the next step or
// leaving for one of three returns (mostly the same RET #0, which makes
// windows).
func genFilter(r *rand.Rand, ref []byte) []Insn {
	be := func(off uint32, size int) uint32 {
		var v uint32
		for i := range size {
			v <<= 8
			if int(off)+i < len(ref) {
				v |= uint32(ref[int(off)+i])
			}
		}
		return v
	}
	sizes := []struct {
		code uint16
		n    int
	}{{uapi.BPF_B, 1}, {uapi.BPF_H, 2}, {uapi.BPF_W, 4}}
	var body [][]Insn
	x := uint32(0)
	for range 2 + r.IntN(7) {
		switch r.IntN(6) {
		case 0:
			k := uint32(r.IntN(40))
			x = uint32(ref[k]&0xf) << 2
			body = append(body, []Insn{{Code: ldx | uapi.BPF_B | uapi.BPF_MSH, K: k}})
			continue
		case 1:
			n := 3 + r.IntN(4)
			var run []Insn
			for j := range n {
				run = append(run, Insn{Code: jmp | uapi.BPF_JEQ | uapi.BPF_K, K: uint32(r.IntN(4)), Jt: uint8(n - 1 - j)})
			}
			body = append(body, run)
			continue
		}
		sz := sizes[r.IntN(3)]
		mode, k := uint16(uapi.BPF_ABS), uint32(r.IntN(60))
		if r.IntN(3) == 0 {
			mode, k = uapi.BPF_IND, uint32(r.IntN(30))
		}
		off := k
		if mode == uapi.BPF_IND {
			off += x
		}
		v := be(off, sz.n)
		g := []Insn{{Code: ld | sz.code | mode, K: k}}
		if r.IntN(3) == 0 {
			m := r.Uint32()
			g = append(g, Insn{Code: alu | uapi.BPF_AND | uapi.BPF_K, K: m})
			v &= m
		}
		if r.IntN(4) == 0 {
			v ^= 1 << r.IntN(8)
		}
		jcodes := []uint16{uapi.BPF_JEQ, uapi.BPF_JEQ, uapi.BPF_JSET, uapi.BPF_JGT, uapi.BPF_JGE}
		j := Insn{Code: jmp | jcodes[r.IntN(len(jcodes))] | uapi.BPF_K, K: v}
		if j.Code&0xf0 == uapi.BPF_JSET {
			j.K = 1 << r.IntN(8*sz.n)
		}
		g = append(g, j)
		body = append(body, g)
	}
	// Lay out the body, then ret #0x40000, ret #0, ret a; fix the jumps.
	var prog []Insn
	var fixes []int
	for _, s := range body {
		for _, in := range s {
			if in.Code&0x07 == jmp && in.Code != jmp|uapi.BPF_JEQ|uapi.BPF_K || (in.Code == jmp|uapi.BPF_JEQ|uapi.BPF_K && in.Jt == 0 && len(s) > 1) {
				fixes = append(fixes, len(prog))
			}
			prog = append(prog, in)
		}
	}
	end := len(prog)
	prog = append(prog, Insn{Code: ret | uapi.BPF_K, K: 0x40000}, Insn{Code: ret | uapi.BPF_K}, Insn{Code: ret | uapi.BPF_A})
	for _, pc := range fixes {
		fail := end + 1
		if r.IntN(5) == 0 {
			fail = end + r.IntN(3)
		}
		skip := uint8(fail - pc - 1)
		if r.IntN(2) == 0 {
			prog[pc].Jt, prog[pc].Jf = 0, skip
		} else {
			prog[pc].Jt, prog[pc].Jf = skip, 0
		}
	}
	// JEQ runs: the last one of each run leaves when false.
	for pc := range end {
		in := &prog[pc]
		if in.Code == jmp|uapi.BPF_JEQ|uapi.BPF_K && in.Jf == 0 && (pc+1 == end || prog[pc+1].Code != jmp|uapi.BPF_JEQ|uapi.BPF_K) {
			in.Jf = uint8(end + 1 - pc - 1)
		}
		if in.Code == jmp|uapi.BPF_JEQ|uapi.BPF_K && int(in.Jt)+pc+1 > end+2 {
			in.Jt = uint8(end - pc - 1)
		}
	}
	return prog
}

// genPrologue builds the start of a tcpdump port or flag filter, the
// shape the window and msh guard closures take: two or three guards at
// constant offsets that leave for RET #0 when they fail, "ldxb
// 4*([mk]&0xf)", a guard at X plus a constant, and the two returns. The
// constants come from ref, sometimes with a bit flipped.
func genPrologue(r *rand.Rand, ref []byte) []Insn {
	be := func(off uint32, size int) uint32 {
		var v uint32
		for i := range size {
			v = v<<8 | uint32(ref[int(off)+i])
		}
		return v
	}
	sizes := []struct {
		code uint16
		n    int
	}{{uapi.BPF_B, 1}, {uapi.BPF_H, 2}, {uapi.BPF_W, 4}}
	var prog []Insn
	var fails []int // jumps whose false (or, for JSET, true) branch is RET #0
	guard := func(code uint16, k, at uint32, n int) {
		prog = append(prog, Insn{Code: ld | code, K: k})
		v := be(at, n)
		if r.IntN(6) == 0 {
			v ^= 1 << r.IntN(8*n)
		}
		if r.IntN(4) == 0 {
			bit := uint32(1) << r.IntN(8*n)
			if r.IntN(3) != 0 {
				for b := range 8 * n {
					if v&(1<<b) == 0 {
						bit = 1 << b
						break
					}
				}
			}
			prog = append(prog, Insn{Code: jmp | uapi.BPF_JSET | uapi.BPF_K, K: bit}) // leaves when set
		} else {
			prog = append(prog, Insn{Code: jmp | uapi.BPF_JEQ | uapi.BPF_K, K: v}) // leaves when not equal
		}
		fails = append(fails, len(prog)-1)
	}
	for range 2 + r.IntN(2) {
		sz := sizes[r.IntN(3)]
		k := uint32(10 + r.IntN(12))
		guard(sz.code|uapi.BPF_ABS, k, k, sz.n)
	}
	mk := uint32(14)
	if r.IntN(4) == 0 {
		mk = uint32(r.IntN(40))
	}
	x := uint32(ref[mk]&0xf) << 2
	prog = append(prog, Insn{Code: ldx | uapi.BPF_B | uapi.BPF_MSH, K: mk})
	sz := sizes[r.IntN(3)]
	k2 := uint32(r.IntN(30))
	guard(sz.code|uapi.BPF_IND, k2, k2+x, sz.n)
	ok := len(prog)
	prog = append(prog, Insn{Code: ret | uapi.BPF_K, K: 0x40000}, Insn{Code: ret | uapi.BPF_K})
	for _, pc := range fails {
		skip := uint8(ok + 1 - pc - 1)
		if prog[pc].Code&0xf0 == uapi.BPF_JSET {
			prog[pc].Jt = skip
		} else {
			prog[pc].Jf = skip
		}
	}
	return prog
}

// TestFilterShapes compares the engines on 2000 generated tcpdump-shaped
// programs (200 under -short), each on the reference frame, its
// truncations (loads near and past the end) and mutated copies.
func TestFilterShapes(t *testing.T) {
	count := 2000
	if testing.Short() {
		count = 200
	}
	r := rand.New(rand.NewPCG(2, 10))
	ref := genFrames()[5] // 1500 bytes, the SYN at the front
	windows, matched := 0, 0
	for range count {
		prog := genFilter(r, ref)
		if r.IntN(2) == 0 {
			prog = genPrologue(r, ref)
		}
		require.Nil(t, Check(prog), "%v", prog)
		if CompileClosures(CompileFused(prog), nil) == nil {
			t.Fatalf("not closable: %v", prog)
		}
		frames := [][]byte{ref, ref[:64], ref[:20], ref[:30], ref[:36], ref[:38], ref[:40], ref[:50]}
		for range 3 {
			m := append([]byte(nil), ref[:64]...)
			m[r.IntN(64)] ^= byte(1 << r.IntN(8))
			frames = append(frames, m)
		}
		for _, f := range frames {
			if runAllEngines(t, prog, fuzzPacket(f, 0)) == 0x40000 {
				matched++
			}
		}
		if hasWindow(prog) {
			windows++
		}
	}
	assert.Greater(t, matched, count/10, "programs that reach their success return")
	assert.Greater(t, windows, count/20, "programs with a window")
}

// hasWindow reports whether two guards at constant offsets in a row
// leave for the same RET #0, the shape a window takes.
func hasWindow(prog []Insn) bool {
	p := CompileFused(prog)
	for i := range p.ops {
		if _, _, _, _, on, exit, ok := windowGuard(&p.ops[i]); ok && p.ops[exit].kind == kRetK {
			if _, _, _, _, _, exit2, ok := windowGuard(&p.ops[on]); ok && p.ops[exit2].kind == kRetK && p.ops[exit2].k == p.ops[exit].k {
				return true
			}
		}
	}
	return false
}
