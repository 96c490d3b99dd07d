package cbpf

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// effects is a step without its instruction text: the pc, then what it
// read, wrote and accessed and the branch direction, as Step.String
// prints them.
func effects(s *trc.Step) string {
	full := s.String()
	parts := strings.Split(full, " | ")
	out := []string{fmt.Sprint(s.PC)}
	out = append(out, parts[2:]...)
	if s.Ends {
		out = append(out, "ends")
	}
	return strings.Join(out, " | ")
}

func effectsOf(t *trc.Trace) []string {
	var out []string
	for i := range t.Steps {
		out = append(out, effects(&t.Steps[i]))
	}
	return out
}

func framePacket(t testing.TB, f []byte) *packet.Packet {
	t.Helper()
	pkt := packet.New(len(f))
	require.NoError(t, pkt.SetFrame(f))
	return pkt
}

func loadTCPDst80(t testing.TB) *Program {
	t.Helper()
	raw, err := ParseBytecode(bytecodeTCPDst80)
	require.NoError(t, err)
	p, err := LoadRaw(raw)
	require.NoError(t, err)
	return p
}

// TestRunTraceTCPDst80 follows `ip and tcp dst port 80` on a SYN to port
// 80 and one to port 22. The values are read off tcpSYN: ethertype 0x800
// at 12, protocol 6 at 23, flags and fragment offset 0x4000 (DF) at 20,
// IHL 5 (0x45) at 14, so X = 20 and the port is at 14+20+2 = 36.
func TestRunTraceTCPDst80(t *testing.T) {
	p := loadTCPDst80(t)
	common := []string{
		"0 | write A=0x800 | load pkt[12:2]=0x800",
		"1 | read A=0x800 | taken",
		"2 | write A=0x6 | load pkt[23:1]=0x6",
		"3 | read A=0x6 | taken",
		"4 | write A=0x4000 | load pkt[20:2]=0x4000",
		"5 | read A=0x4000 | not taken",
		"6 | write X=0x14 | load pkt[14:1]=0x45",
	}
	tests := []struct {
		name   string
		port   uint16
		result uint64
		tail   []string
	}{
		{"port_80", 80, 0x40000, []string{
			"7 | read X=0x14 | write A=0x50 | load pkt[36:2]=0x50",
			"8 | read A=0x50 | taken",
			"9 | ends",
		}},
		{"port_22", 22, 0, []string{
			"7 | read X=0x14 | write A=0x16 | load pkt[36:2]=0x16",
			"8 | read A=0x16 | not taken",
			"10 | ends",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkt := framePacket(t, tcpSYN(64, tc.port))
			var tr trc.Trace
			got := p.RunTrace(pkt, &tr)
			assert.Equal(t, p.Run(pkt), got)
			assert.Equal(t, tc.result, tr.Result)
			assert.Equal(t, append(append([]string{}, common...), tc.tail...), effectsOf(&tr))
			assert.False(t, tr.Truncated)
			assert.Equal(t, len(tr.Steps), tr.Executed)
			assert.Empty(t, tr.Fault)
			assert.Equal(t, "(001) jeq      #0x800           jt 2\tjf 10", tr.Steps[1].Insn)
			assert.Equal(t, "21 0 8 2048", tr.Steps[1].Bytecode)
		})
	}
}

// TestRunTraceAncillary traces extension loads, scratch memory and
// register moves; the values are the table packet's metadata.
func TestRunTraceAncillary(t *testing.T) {
	prog := []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_MARK)),      // ld #mark
		stmt(st, 1),                                // st M[1]
		stmt(ld|w|abs, anc(uapi.SKF_AD_IFINDEX)),   // ld #ifidx
		stmt(ldx|mem, 1),                           // ldx M[1]
		stmt(ld|w|abs, anc(uapi.SKF_AD_ALU_XOR_X)), // ld #xor_x
		stmt(misc|tax, 0),                          // tax
		stmt(ld|w|abs, anc(uapi.SKF_AD_PROTOCOL)),  // ld #proto
		jump(jmp|jset|x, 0, 0, 1),                  // jset x jt 8 jf 9
		stmt(ret|k, 7),                             // ret #7
		stmt(stx, 2),                               // stx M[2]
		stmt(ret|a, 0),                             // ret a
	}
	p, err := LoadRaw(prog)
	require.NoError(t, err)
	c := runCase{frame: syn300}
	pkt := tablePacket(t, c)
	var tr trc.Trace
	res := p.RunTrace(pkt, &tr)
	assert.Equal(t, p.Run(pkt), res)
	// 0x1234aaaa ^ 577 (0x241) = 0x1234a8eb; 0x800 & 0x1234a8eb = 0x800.
	assert.Equal(t, []string{
		"0 | write A=0x1234aaaa | load anc[mark]=0x1234aaaa",
		"1 | read A=0x1234aaaa | store M[1]=0x1234aaaa",
		"2 | write A=0x241 | load anc[ifidx]=0x241",
		"3 | write X=0x1234aaaa | load M[1]=0x1234aaaa",
		"4 | read A=0x241 X=0x1234aaaa | write A=0x1234a8eb | load anc[xor_x]=0x1234a8eb",
		"5 | read A=0x1234a8eb | write X=0x1234a8eb",
		"6 | write A=0x800 | load anc[proto]=0x800",
		"7 | read A=0x800 X=0x1234a8eb | taken",
		"8 | ends",
	}, effectsOf(&tr))
	assert.Equal(t, uint64(7), tr.Result)
	assert.Equal(t, trc.RegionAncillary, tr.Steps[0].Access.Region)
	assert.Equal(t, int64(uapi.SKF_AD_MARK), tr.Steps[0].Access.Offset)
	assert.Equal(t, trc.RegionScratch, tr.Steps[1].Access.Region)
	assert.True(t, tr.Steps[1].Access.Write)
}

// TestRunTraceFaults: a load past the packet and a division by X == 0
// end the run with 0 on the faulting step.
func TestRunTraceFaults(t *testing.T) {
	tests := []struct {
		name  string
		prog  []bpf.RawInstruction
		fault string
		last  string
	}{
		{"load_past_end", []bpf.RawInstruction{
			stmt(ldx|imm, 60), // ldx #60
			stmt(ld|h|ind, 3), // ldh [x + 3]
			stmt(ret|k, 1),    // ret #1
		}, "packet load out of bounds", "1 | read X=0x3c | load pkt[63:2] fault | ends"},
		{"div_by_zero", []bpf.RawInstruction{
			stmt(ld|imm, 5),    // ld #0x5
			stmt(alu|div|x, 0), // div x
			stmt(ret|a, 0),     // ret a
		}, "division by zero", "1 | read A=0x5 X=0x0 | ends"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadRaw(tc.prog)
			require.NoError(t, err)
			pkt := framePacket(t, tcpSYN(64, 80))
			tr := trc.Trace{Result: 99, Fault: "stale"}
			assert.Equal(t, uint32(0), p.RunTrace(pkt, &tr))
			assert.Equal(t, p.Run(pkt), uint32(tr.Result))
			assert.Equal(t, tc.fault, tr.Fault)
			require.Len(t, tr.Steps, 2)
			assert.Equal(t, tc.last, effects(&tr.Steps[1]))
			assert.Contains(t, tr.String(), "fault: "+tc.fault+"\nresult 0x0\n")
		})
	}
}

// TestRunTraceTruncated bounds a trace: steps past MaxSteps are counted
// but not kept.
func TestRunTraceTruncated(t *testing.T) {
	p := loadTCPDst80(t)
	pkt := framePacket(t, tcpSYN(64, 80))
	tr := trc.Trace{MaxSteps: 3}
	assert.Equal(t, uint32(0x40000), p.RunTrace(pkt, &tr))
	assert.True(t, tr.Truncated)
	assert.Len(t, tr.Steps, 3)
	assert.Equal(t, 10, tr.Executed)
	assert.Equal(t, uint64(0x40000), tr.Result)
	assert.Contains(t, tr.String(), "... truncated: 3 of 10 steps kept\nresult 0x40000\n")

	tr.MaxSteps = 0 // the default keeps every step of a classic program
	p.RunTrace(pkt, &tr)
	assert.False(t, tr.Truncated)
	assert.Len(t, tr.Steps, 10)
}

// checkTrace holds a trace to the program: it starts at 0, every step
// follows from the one before (the next instruction, a jump's target, the
// direction it reports), and it ends on the last step.
func checkTrace(t *testing.T, prog []bpf.RawInstruction, tr *trc.Trace) {
	t.Helper()
	require.False(t, tr.Truncated)
	require.NotEmpty(t, tr.Steps)
	require.Equal(t, len(tr.Steps), tr.Executed)
	assert.Equal(t, 0, tr.Steps[0].PC)
	for i := 1; i < len(tr.Steps); i++ {
		prev, in := tr.Steps[i-1], prog[tr.Steps[i-1].PC]
		next := prev.PC + 1
		switch {
		case in.Op == jmp|ja:
			next += int(in.K)
		case prev.Branch == trc.BranchTaken:
			next += int(in.Jt)
		case prev.Branch == trc.BranchNotTaken:
			next += int(in.Jf)
		}
		require.Equal(t, next, tr.Steps[i].PC, "step %d", i)
		require.False(t, prev.Ends)
	}
	last := tr.Steps[len(tr.Steps)-1]
	assert.True(t, last.Ends)
	if prog[last.PC].Op&0x07 == ret {
		assert.Empty(t, tr.Fault)
	} else {
		assert.NotEmpty(t, tr.Fault)
		assert.Zero(t, tr.Result)
	}
}

// TestRunTraceCorpus runs the whole run table, the benchmark filters and
// generated programs traced and covered: the results are Run's, the
// traces follow the programs, and coverage counts what the traces saw.
func TestRunTraceCorpus(t *testing.T) {
	type item struct {
		name string
		prog []bpf.RawInstruction
		pkt  *packet.Packet
	}
	var items []item
	for _, c := range allRunCases() {
		items = append(items, item{c.name, c.prog, tablePacket(t, c)})
	}
	for _, f := range benchFilters(t) {
		for i, fr := range [][]byte{benchFrame(f, 64), tcpSYN(64, 22), udp6(80), tcpSYN(54, 3306)} {
			items = append(items, item{fmt.Sprintf("%s/%d", f.name, i), f.prog, framePacket(t, fr)})
		}
	}
	r := rand.New(rand.NewPCG(11, 1))
	for i := 0; len(items) < 1000; i++ {
		plen := 64 + r.IntN(200)
		prog := genProgram(r, genMode{device: true, cpu: true}, plen)
		if Check(prog) != nil {
			continue
		}
		pkt := packet.New(plen + 64)
		require.NoError(t, pkt.SetFrame(genFrame(r, plen, devMAC)))
		items = append(items, item{fmt.Sprintf("gen/%d", i), prog, pkt})
	}
	var tr trc.Trace
	for _, it := range items {
		t.Run(it.name, func(t *testing.T) {
			p, err := LoadRaw(it.prog, WithRandom(fixedRandom))
			require.NoError(t, err)
			want := p.Run(it.pkt)
			require.Equal(t, want, p.RunTrace(it.pkt, &tr))
			require.Equal(t, uint64(want), tr.Result)
			checkTrace(t, it.prog, &tr)

			cov := NewCoverage(p)
			require.Equal(t, want, cov.Run(it.pkt))
			hits := make([]uint64, len(it.prog))
			for _, s := range tr.Steps {
				hits[s.PC]++
				_, tk, nt := cov.Counts(s.PC)
				assert.Equal(t, s.Branch == trc.BranchTaken, tk == 1, "pc %d", s.PC)
				assert.Equal(t, s.Branch == trc.BranchNotTaken, nt == 1, "pc %d", s.PC)
			}
			for pc := range it.prog {
				h, _, _ := cov.Counts(pc)
				assert.Equal(t, hits[pc], h, "pc %d", pc)
			}
		})
	}
}

// TestRunTraceAllocs: a run into a reused Trace allocates nothing, nor
// does a covered run.
func TestRunTraceAllocs(t *testing.T) {
	progs := map[string][]bpf.RawInstruction{"every_extension": everyExtension}
	for _, f := range benchFilters(t) {
		progs[f.name] = f.prog
	}
	pkt := framePacket(t, tcpSYN(1500, 80))
	for name, prog := range progs {
		p, err := LoadRaw(prog)
		require.NoError(t, err)
		var tr trc.Trace
		p.RunTrace(pkt, &tr)
		assert.Zero(t, testing.AllocsPerRun(100, func() { p.RunTrace(pkt, &tr) }), name)
		cov := NewCoverage(p)
		assert.Zero(t, testing.AllocsPerRun(100, func() { cov.Run(pkt) }), name)
	}
}

func TestRunTraceNilPacket(t *testing.T) {
	p := loadTCPDst80(t)
	var tr trc.Trace
	assert.Equal(t, uint32(0), p.RunTrace(nil, &tr))
	assert.Equal(t, "packet load out of bounds", tr.Fault)
	assert.Equal(t, uint32(0), NewCoverage(p).Run(nil))
}

// TestRunTraceConcurrent traces one program from several goroutines,
// each with its own Trace; the first runs build the listing together.
func TestRunTraceConcurrent(t *testing.T) {
	p := loadTCPDst80(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			port := []uint16{80, 22}[g%2]
			pkt := framePacket(t, tcpSYN(64, port))
			var tr trc.Trace
			for range 50 {
				p.RunTrace(pkt, &tr)
			}
			assert.Equal(t, p.Run(pkt), uint32(tr.Result))
			assert.Len(t, tr.Steps, 10)
		})
	}
	wg.Wait()
}
