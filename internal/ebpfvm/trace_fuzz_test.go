package ebpfvm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// FuzzTracer runs generated tc programs, mutated in one field, on the
// compiled engine, under a Tracer and under a Coverer: the three must
// agree on R0 or the fault and on the packet, the trace must end on the
// instruction the run ended on (the faulting one for a fault), and
// rendering the trace and the reports must not panic.
func FuzzTracer(f *testing.F) {
	for seed := range uint64(24) {
		f.Add(seed, uint16(seed*11), uint8(seed%6), uint64(seed*0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, seed uint64, at uint16, field uint8, val uint64) {
		g := newProgGen(seed)
		prog := g.program()
		i := int(at) % len(prog)
		switch field % 6 {
		case 0:
			prog[i].Op = uint8(val)
		case 1:
			prog[i].Dst = uint8(val) % 11
		case 2:
			prog[i].Src = uint8(val) % 11
		case 3:
			prog[i].Off = int16(val)
		case 4:
			prog[i].Imm = int32(val)
		}
		p, err := ebpfvm.Load(prog, ebpfvm.Options{Budget: 1 << 16})
		if err != nil {
			return
		}
		l := ebpfvm.NewListing(p, nil, nil)
		tracer := ebpfvm.NewTracer(p, l)
		insns, index := l.CoverageInsns()
		cov := trace.NewCoverage(insns)
		coverer := ebpfvm.NewCoverer(p, cov, index)
		tr := trace.Trace{MaxSteps: 1 << 17}
		for _, frame := range g.frames(2) {
			var pkts [3]packet.Packet
			var r0 [3]uint64
			var errs [3]error
			for k := range pkts {
				if err := pkts[k].SetFrame(frame); err != nil {
					t.Fatal(err)
				}
			}
			r0[0], errs[0] = p.Run(&pkts[0])
			r0[1], errs[1] = tracer.Run(&pkts[1], &tr)
			r0[2], errs[2] = coverer.Run(&pkts[2])
			for k := 1; k < 3; k++ {
				var a, b *ebpfvm.RunError
				switch {
				case errs[0] == nil && errs[k] == nil:
					if r0[0] != r0[k] {
						t.Fatalf("r0 %#x, hooked run %d %#x\n%s", r0[0], k, r0[k], listing(prog))
					}
				case errors.As(errs[0], &a) && errors.As(errs[k], &b):
					if a.Err != b.Err || a.PC != b.PC {
						t.Fatalf("faults differ: %v / %v\n%s", errs[0], errs[k], listing(prog))
					}
				default:
					t.Fatalf("errors differ: %v / %v\n%s", errs[0], errs[k], listing(prog))
				}
				if !bytes.Equal(pkts[0].Bytes(), pkts[k].Bytes()) || pkts[0].Mark != pkts[k].Mark {
					t.Fatalf("packet or metadata differ\n%s", listing(prog))
				}
			}
			last := tr.Last()
			if last == nil || !last.Ends || tr.Executed == 0 {
				t.Fatalf("trace does not end: %+v", tr)
			}
			var re *ebpfvm.RunError
			if errors.As(errs[1], &re) && !tr.Truncated && last.PC != re.PC {
				t.Fatalf("trace ends at pc %d, fault at %d", last.PC, re.PC)
			}
			if (errs[1] != nil) != (tr.Fault != "") && errs[1] != nil {
				t.Fatalf("fault %v not in the trace", errs[1])
			}
			_ = tr.String()
		}
		var b bytes.Buffer
		if err := cov.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if err := cov.WriteLinesHTML(&b, "fuzz"); err != nil {
			t.Fatal(err)
		}
	})
}
