package cbpf

import (
	"io"

	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/cbpfvm"
)

// Coverage collects which instructions of a program ran, and which way
// each conditional jump went, over many runs. Its counters are atomic:
// one Coverage may run packets from many goroutines at once. Reports list
// each instruction as tc bytecode and disassembled.
type Coverage struct {
	*trc.Coverage
	p *Program
}

// NewCoverage returns an empty Coverage of p.
func NewCoverage(p *Program) *Coverage {
	return &Coverage{Coverage: trc.NewCoverage(p.listingOf().CoverageInsns(p.insns)), p: p}
}

// Run runs the program on pkt on the reference interpreter, counts the
// run into c and returns the result, which is the result Run returns.
// It allocates nothing.
func (c *Coverage) Run(pkt *packet.Packet) uint32 {
	if pkt == nil {
		pkt = &emptyPacket
	}
	return cbpfvm.InterpretCover(c.p.insns, pkt, c.p.random, c.Coverage)
}

// Program returns the program c covers.
func (c *Coverage) Program() *Program { return c.p }

// WriteHTML writes the report as an HTML page in the style of `go tool
// cover -html` (see trace.Coverage.WriteHTML).
func (c *Coverage) WriteHTML(w io.Writer) error {
	return c.Coverage.WriteHTML(w, "cbpf coverage")
}
