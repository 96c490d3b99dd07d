package cbpfvm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// checkRecorded holds a trace and a coverage of the same run to the
// program: the steps start at 0 and follow the program's control flow
// with the directions they report, the run ends on the last step (on a
// return, or on a fault with result 0), and the coverage counts each
// traced step once.
func checkRecorded(t *testing.T, prog []Insn, tr *trace.Trace, cov *trace.Coverage) {
	t.Helper()
	require.False(t, tr.Truncated)
	require.Equal(t, len(tr.Steps), tr.Executed)
	require.NotEmpty(t, tr.Steps)
	require.Equal(t, 0, tr.Steps[0].PC)
	hits := make([]uint64, len(prog))
	for i, s := range tr.Steps {
		hits[s.PC]++
		in := prog[s.PC]
		_, cond := condition(in, 0, 0)
		require.Equal(t, cond, s.Branch != trace.BranchNone, "step %d", i)
		if i == len(tr.Steps)-1 {
			require.True(t, s.Ends)
			if in.Code&0x07 != ret {
				require.NotEmpty(t, tr.Fault)
				require.Zero(t, tr.Result)
			} else {
				require.Empty(t, tr.Fault)
			}
			break
		}
		require.False(t, s.Ends)
		next := s.PC + 1
		switch {
		case in.Code == jmp|uapi.BPF_JA:
			next += int(in.K)
		case s.Branch == trace.BranchTaken:
			next += int(in.Jt)
		case s.Branch == trace.BranchNotTaken:
			next += int(in.Jf)
		}
		require.Equal(t, next, tr.Steps[i+1].PC, "step %d", i)
	}
	for pc := range prog {
		h, tk, nt := cov.Counts(pc)
		require.Equal(t, hits[pc], h, "pc %d", pc)
		require.LessOrEqual(t, tk+nt, h)
	}
}

// FuzzTrace: a traced and a covered run of any accepted program return
// what the interpreter returns, and record the run it made.
func FuzzTrace(f *testing.F) {
	for i, p := range seedPrograms {
		f.Add(p, seedFrame, uint32(i))
	}
	f.Fuzz(func(t *testing.T, b, data []byte, flags uint32) {
		prog := decode(b)
		if Check(prog) != nil {
			return
		}
		pkt := fuzzPacket(data, flags)
		n := uint32(0)
		rnd := func() uint32 { n++; return n }
		want := Interpret(prog, pkt, &Env{Random: rnd})
		l := NewListing(prog)
		var tr trace.Trace
		n = 0
		require.Equal(t, want, InterpretTrace(prog, l, pkt, rnd, &tr))
		require.Equal(t, uint64(want), tr.Result)
		cov := trace.NewCoverage(l.CoverageInsns(prog))
		n = 0
		require.Equal(t, want, InterpretCover(prog, pkt, rnd, cov))
		checkRecorded(t, prog, &tr, cov)
		require.NotEmpty(t, tr.String())
	})
}

// TestTraceMsh: ldxb 4*([k]&0xf) records the byte it read, not X.
func TestTraceMsh(t *testing.T) {
	prog := []Insn{
		{Code: 0xb1, K: 14}, // ldxb 4*([14]&0xf)
		{Code: 0x87},        // txa
		{Code: 0x16},        // ret a
	}
	require.Nil(t, Check(prog))
	pkt := fuzzPacket(seedFrame, 0)
	var tr trace.Trace
	res := InterpretTrace(prog, NewListing(prog), pkt, nil, &tr)
	require.Len(t, tr.Steps, 3)
	b := pkt.Data()[14]
	assert.Equal(t, uint32(b&0xf)*4, res)
	assert.Equal(t, uint64(b), tr.Steps[0].Access.Value)
	assert.Equal(t, []trace.Reg{{Name: "X", Value: uint64(res)}}, tr.Steps[0].Writes())
	assert.Equal(t, []trace.Reg{{Name: "A", Value: uint64(res)}}, tr.Steps[1].Writes())
	assert.Equal(t, []trace.Reg{{Name: "A", Value: uint64(res)}}, tr.Steps[2].Reads())
}
