package ebpfvm

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// traceProg reads the packet's first byte through data/data_end, stores
// it on the stack and returns it: ctx, packet and stack accesses.
var traceProg = []Instruction{
	{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_W, Dst: 2, Src: 1, Off: 76},   // r2 = *(u32 *)(r1 +76)
	{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_W, Dst: 3, Src: 1, Off: 80},   // r3 = *(u32 *)(r1 +80)
	{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 4, Src: 2},          // r4 = r2
	{Op: uapi.BPF_ALU64 | uapi.BPF_ADD | uapi.BPF_K, Dst: 4, Imm: 1},          // r4 += 1
	{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_K, Dst: 0, Imm: 0},          // r0 = 0
	{Op: uapi.BPF_JMP | uapi.BPF_JGT | uapi.BPF_X, Dst: 4, Src: 3, Off: 3},    // if r4 > r3 goto pc+3
	{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_B, Dst: 0, Src: 2, Off: 0},    // r0 = *(u8 *)(r2 +0)
	{Op: uapi.BPF_STX | uapi.BPF_MEM | uapi.BPF_DW, Dst: 10, Src: 0, Off: -8}, // *(u64 *)(r10 -8) = r0
	{Op: uapi.BPF_LDX | uapi.BPF_MEM | uapi.BPF_DW, Dst: 0, Src: 10, Off: -8}, // r0 = *(u64 *)(r10 -8)
	{Op: uapi.BPF_JMP | uapi.BPF_EXIT},                                        // exit
}

func TestTracerAccesses(t *testing.T) {
	p, err := Load(traceProg, Options{Context: ContextSkb})
	require.NoError(t, err)
	l := NewListing(p, nil, nil)
	pkt := packet.New(64)
	require.NoError(t, pkt.SetFrame(append([]byte{0xab}, make([]byte, 59)...)))
	var tr trace.Trace
	r0, err := NewTracer(p, l).Run(pkt, &tr)
	require.NoError(t, err)
	assert.Equal(t, uint64(0xab), r0)
	var got []string
	for _, s := range tr.Steps {
		got = append(got, s.String())
	}
	assert.Equal(t, []string{
		"r2 = *(u32 *)(r1 +76)                        | 61 12 4c 00 00 00 00 00 | read r1=0x10000000000 | write r2=" + data(pkt) + " | load ctx[data]=" + data(pkt),
	}, got[:1])
	assert.Equal(t, "r4 += 1", tr.Steps[3].Insn)
	assert.Equal(t, trace.BranchNotTaken, tr.Steps[5].Branch)
	assert.Equal(t, "load pkt[0:1]=0xab", tr.Steps[6].Access.String())
	assert.Equal(t, "store fp[-8:8]=0xab", tr.Steps[7].Access.String())
	assert.Equal(t, "load fp[-8:8]=0xab", tr.Steps[8].Access.String())
	assert.True(t, tr.Steps[9].Ends)

	// Coverage of the same run: all ten ran, the jump fell through.
	insns, index := l.CoverageInsns()
	c := trace.NewCoverage(insns)
	_, err = NewCoverer(p, c, index).Run(pkt)
	require.NoError(t, err)
	covered, n, dirs, all := c.Summary()
	assert.Equal(t, [4]int{10, 10, 1, 2}, [4]int{covered, n, dirs, all})
	_, taken, not := c.Counts(5)
	assert.Equal(t, [2]uint64{0, 1}, [2]uint64{taken, not})
}

// data formats the data pointer of pkt: the packet region's tag and the
// data offset in the buffer.
func data(pkt *packet.Packet) string {
	_, d, _, _ := pkt.Buffer()
	return fmt.Sprintf("%#x", addrOf(regPacket, uint32(d)))
}

// TestDisassemble checks the kernel's print_bpf_insn formats
// (kernel/bpf/disasm.c).
func TestDisassemble(t *testing.T) {
	for _, tc := range []struct {
		in   []Instruction
		want string
	}{
		{[]Instruction{{Op: 0xbf, Dst: 6, Src: 1}}, "r6 = r1"},                            // mov64 r6, r1
		{[]Instruction{{Op: 0xb4, Dst: 0, Imm: 2}}, "w0 = 2"},                             // mov32 w0, 2
		{[]Instruction{{Op: 0x07, Dst: 1, Imm: -4}}, "r1 += -4"},                          // add64 r1, -4
		{[]Instruction{{Op: 0x3f, Dst: 1, Src: 2, Off: 1}}, "r1 s/= r2"},                  // sdiv64 r1, r2
		{[]Instruction{{Op: 0x87, Dst: 3}}, "r3 = -r3"},                                   // neg64 r3
		{[]Instruction{{Op: 0xdc, Dst: 2, Imm: 16}}, "r2 = be16 r2"},                      // be16 r2
		{[]Instruction{{Op: 0xd4, Dst: 2, Imm: 32}}, "r2 = le32 r2"},                      // le32 r2
		{[]Instruction{{Op: 0xd7, Dst: 2, Imm: 64}}, "r2 = bswap64 r2"},                   // bswap64 r2
		{[]Instruction{{Op: 0xbf, Dst: 1, Src: 2, Off: 8}}, "r1 = (s8)r2"},                // movsx64 r1, (s8)r2
		{[]Instruction{{Op: 0x61, Dst: 1, Src: 6, Off: 20}}, "r1 = *(u32 *)(r6 +20)"},     // ldxw r1, [r6+20]
		{[]Instruction{{Op: 0x91, Dst: 1, Src: 6, Off: -1}}, "r1 = *(s8 *)(r6 -1)"},       // ldxsb r1, [r6-1]
		{[]Instruction{{Op: 0x7b, Dst: 10, Src: 1, Off: -8}}, "*(u64 *)(r10 -8) = r1"},    // stxdw [r10-8], r1
		{[]Instruction{{Op: 0x62, Dst: 10, Off: -4, Imm: 7}}, "*(u32 *)(r10 -4) = 7"},     // stw [r10-4], 7
		{[]Instruction{{Op: 0xdb, Dst: 1, Src: 2, Imm: 0}}, "lock *(u64 *)(r1 +0) += r2"}, // xadd64
		{[]Instruction{{Op: 0xdb, Dst: 1, Src: 2, Imm: 1}}, "r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)"},
		{[]Instruction{{Op: 0xc3, Dst: 1, Src: 2, Imm: 0xe1}}, "r2 = atomic_xchg((u32 *)(r1 +0), r2)"},
		{[]Instruction{{Op: 0xdb, Dst: 1, Src: 2, Imm: 0xf1}}, "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"},
		{[]Instruction{{Op: 0x30, Imm: 12}}, "r0 = *(u8 *)skb[12]"},                   // ldabsb 12
		{[]Instruction{{Op: 0x48, Src: 7, Imm: 2}}, "r0 = *(u16 *)skb[r7 + 2]"},       // ldindh r7, 2
		{[]Instruction{{Op: 0x18, Dst: 1, Imm: 1}, {Imm: 2}}, "r1 = 0x200000001"},     // lddw r1, 0x200000001
		{[]Instruction{{Op: 0x18, Dst: 1, Src: 1, Imm: 3}, {}}, "r1 = map[id:3]"},     // lddw r1, map 3
		{[]Instruction{{Op: 0x85, Imm: 18}}, "call #18"},                              // call 18
		{[]Instruction{{Op: 0x85, Src: 1, Imm: 4}}, "call pc+4"},                      // call local +4
		{[]Instruction{{Op: 0x95}}, "exit"},                                           // exit
		{[]Instruction{{Op: 0x05, Off: -3}}, "goto pc-3"},                             // ja -3
		{[]Instruction{{Op: 0x06, Imm: 70000}}, "gotol pc+70000"},                     // gotol
		{[]Instruction{{Op: 0xe5, Off: 2}}, "may_goto pc+2"},                          // may_goto
		{[]Instruction{{Op: 0x16, Dst: 1, Off: 9}}, "if w1 == 0x0 goto pc+9"},         // jeq32 w1, 0
		{[]Instruction{{Op: 0x5d, Dst: 1, Src: 2, Off: -1}}, "if r1 != r2 goto pc-1"}, // jne r1, r2
		{[]Instruction{{Op: 0xc5, Dst: 1, Off: 1, Imm: -1}}, "if r1 s< 0xffffffff goto pc+1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, Disassemble(tc.in, 0, nil))
		})
	}
}

// FuzzDisassemble: any instruction disassembles without a panic.
func FuzzDisassemble(f *testing.F) {
	f.Add([]byte{0x18, 0x01, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0xdb, 0x21, 0, 0, 0xf1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		insns, err := Decode(b[:len(b)/8*8])
		if err != nil || len(insns) == 0 {
			return
		}
		for pc := range insns {
			_ = Disassemble(insns, pc, func(int32) string { return "" })
		}
	})
}

// BenchmarkHook runs a 600-instruction loop on the reference interpreter
// with no hook (what every reference run pays for the hook: one nil
// check per instruction) and with a Tracer and a Coverer.
func BenchmarkHook(b *testing.B) {
	prog := []Instruction{
		{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_K, Dst: 0, Imm: 0},          // r0 = 0
		{Op: uapi.BPF_ALU64 | uapi.BPF_ADD | uapi.BPF_K, Dst: 0, Imm: 1},          // r0 += 1
		{Op: uapi.BPF_JMP | uapi.BPF_JLT | uapi.BPF_K, Dst: 0, Off: -2, Imm: 200}, // if r0 < 0xc8 goto pc-2
		{Op: uapi.BPF_JMP | uapi.BPF_EXIT},                                        // exit
	}
	p, err := Load(prog, Options{Context: ContextSkb, Engine: EngineReference})
	require.NoError(b, err)
	pkt := packet.New(64)
	require.NoError(b, pkt.SetFrame(make([]byte, 60)))
	l := NewListing(p, nil, nil)
	b.Run("Off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Run(pkt)
		}
	})
	b.Run("Trace", func(b *testing.B) {
		tr := NewTracer(p, l)
		t := trace.Trace{MaxSteps: 1000}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = tr.Run(pkt, &t)
		}
	})
	b.Run("Cover", func(b *testing.B) {
		insns, index := l.CoverageInsns()
		cv := NewCoverer(p, trace.NewCoverage(insns), index)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = cv.Run(pkt)
		}
	})
}

// TestTracerLdAbsOutOfBounds: a legacy packet load past the packet's end
// ends the program with 0, which the trace reports with the line.
func TestTracerLdAbsOutOfBounds(t *testing.T) {
	prog := []Instruction{
		{Op: uapi.BPF_ALU64 | uapi.BPF_MOV | uapi.BPF_X, Dst: 6, Src: 1}, // r6 = r1
		{Op: uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_W, Imm: 100},          // r0 = *(u32 *)skb[100]
		{Op: uapi.BPF_JMP | uapi.BPF_EXIT},                               // exit
	}
	p, err := Load(prog, Options{Context: ContextSkb})
	require.NoError(t, err)
	l := NewListing(p, nil, []trace.Source{{}, {File: "prog.c", Line: 42, Text: "x = load_word(skb, 100);"}})
	for _, tc := range []struct {
		name  string
		len   int
		fault string
		steps int
	}{
		{"in bounds", 120, "", 3},
		{"past the end", 60, "packet load out of bounds at prog.c:42 (insn 1)", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := packet.New(tc.len)
			require.NoError(t, pkt.SetFrame(make([]byte, tc.len)))
			var tr trace.Trace
			r0, err := NewTracer(p, l).Run(pkt, &tr)
			require.NoError(t, err)
			assert.Equal(t, uint64(0), r0)
			assert.Equal(t, tc.fault, tr.Fault)
			require.Len(t, tr.Steps, tc.steps)
			ld := tr.Steps[1]
			assert.Equal(t, tc.fault != "", ld.Access.Fault)
			assert.Equal(t, "r0 = *(u32 *)skb[100]", ld.Insn)
			assert.Equal(t, []trace.Reg{{Name: "r0", Value: 0}}, ld.Writes())
		})
	}
}
