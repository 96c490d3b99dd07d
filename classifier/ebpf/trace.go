package ebpf

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"weak"

	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// listings holds each traced or covered program's listing, built on its
// first traced or covered run, so programs that are never traced carry
// none. The entry goes when the program is collected.
var listings sync.Map // weak.Pointer[Program] -> *ebpfvm.Listing

func (p *Program) listingOf() *ebpfvm.Listing {
	key := weak.Make(p)
	if l, ok := listings.Load(key); ok {
		return l.(*ebpfvm.Listing)
	}
	l, loaded := listings.LoadOrStore(key, ebpfvm.NewListing(p.vm, tracedHelperName, p.spec.Lines))
	if !loaded {
		runtime.AddCleanup(p, func(k weak.Pointer[Program]) { listings.Delete(k) }, key)
	}
	return l.(*ebpfvm.Listing)
}

// helperNameTable holds HelperName of every known helper id, so traces
// name helper calls without allocating.
var helperNameTable = sync.OnceValue(func() []string {
	t := make([]string, len(helperNames))
	for i := range t {
		t[i] = HelperName(int32(i))
	}
	return t
})

func tracedHelperName(id int32) string {
	if t := helperNameTable(); id > 0 && int(id) < len(t) {
		return t[id]
	}
	return ""
}

// tracers pools the per-run tracers of RunTrace.
var tracers sync.Pool

// RunTrace runs the program on pkt on the reference interpreter, records
// every executed instruction into t (reset first) and returns the result,
// which is the result Run returns. Each step carries the pc, the
// instruction's bytes and its disassembly as the kernel's verifier log
// prints it, the C source line when the object carried BTF line
// information, the registers read (before) and written (after), the
// memory access with its region (ctx, packet relative to skb->data, stack
// relative to r10, map value, given memory) and offset, the helper call
// with its arguments and result, and the branch direction. A run fault
// ends the trace with t.Fault naming the cause and the source line
// ("invalid memory access at prog.c:42 (insn 7)"); like Run, RunTrace
// then returns 0 and counts the fault in Faults.
//
// Run is not affected by tracing. RunTrace allocates nothing into a
// reused Trace once the program's listing is built (on its first traced
// or covered run). Tail calls run the callee untraced. t must not be used
// concurrently; the program may be.
func (p *Program) RunTrace(pkt *packet.Packet, t *trc.Trace) uint32 {
	tr, _ := tracers.Get().(*ebpfvm.Tracer)
	l := p.listingOf()
	if tr == nil {
		tr = ebpfvm.NewTracer(p.vm, l)
	} else {
		tr.Reuse(p.vm, l)
	}
	r0, err := tr.Run(pkt, t)
	tracers.Put(tr)
	if err != nil {
		p.faults.Add(1)
		return 0
	}
	return uint32(r0)
}

// Source returns the C source line of instruction pc, or the zero Source
// when the program has no line information or pc is out of range.
func (p *Program) Source(pc int) trc.Source {
	if pc < 0 || pc >= len(p.spec.Lines) {
		return trc.Source{}
	}
	return p.spec.Lines[pc]
}

// SourceError describes a run fault (from RunChecked) with the C source
// line of the faulting instruction: "ebpf: run vlan: invalid memory
// access at vlan.c:9 (insn 4)". It unwraps to the run error, so
// errors.Is(err, syscall.EFAULT) and errors.As(err, **ebpfvm.RunError)
// work. Errors that are not run faults are returned unchanged.
func (p *Program) SourceError(err error) error {
	var re *ebpfvm.RunError
	if err == nil || !errors.As(err, &re) {
		return err
	}
	return &sourceError{text: fmt.Sprintf("ebpf: run %s: %s", p.spec.Name, ebpfvm.FaultText(re, p.listingOf())), err: re}
}

type sourceError struct {
	text string
	err  *ebpfvm.RunError
}

func (e *sourceError) Error() string { return e.text }

func (e *sourceError) Unwrap() error { return e.err }

// Coverage collects which instructions of a program ran, and which way
// each conditional jump went, over many runs, and reports it per
// instruction or per C source line. Its counters are atomic: one Coverage
// may run packets from many goroutines at once.
type Coverage struct {
	*trc.Coverage
	p  *Program
	cv *ebpfvm.Coverer
}

// NewCoverage returns an empty Coverage of p. The second slots of 64-bit
// immediate loads, which never run, are left out of it.
func NewCoverage(p *Program) *Coverage {
	insns, index := p.listingOf().CoverageInsns()
	c := trc.NewCoverage(insns)
	return &Coverage{Coverage: c, p: p, cv: ebpfvm.NewCoverer(p.vm, c, index)}
}

// Run runs the program on pkt on the reference interpreter, counts the
// run into c and returns the result, which is the result Run returns (a
// fault gives 0 and is counted in the program's Faults). It allocates
// nothing.
func (c *Coverage) Run(pkt *packet.Packet) uint32 {
	r0, err := c.cv.Run(pkt)
	if err != nil {
		c.p.faults.Add(1)
		return 0
	}
	return uint32(r0)
}

// Program returns the program c covers.
func (c *Coverage) Program() *Program { return c.p }

// WriteHTML writes the per-instruction report as an HTML page in the
// style of `go tool cover -html` (see trace.Coverage.WriteHTML).
func (c *Coverage) WriteHTML(w io.Writer) error {
	return c.Coverage.WriteHTML(w, "ebpf coverage: "+c.p.spec.Name)
}

// WriteLinesHTML writes the per-source-line report as an HTML page (see
// trace.Coverage.WriteLinesHTML).
func (c *Coverage) WriteLinesHTML(w io.Writer) error {
	return c.Coverage.WriteLinesHTML(w, "ebpf coverage: "+c.p.spec.Name)
}
