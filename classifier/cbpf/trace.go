package cbpf

import (
	"sync"

	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/cbpfvm"
)

// listingCache builds a program's listing once, on the first traced or
// covered run, so programs that are never traced carry none.
type listingCache struct {
	once sync.Once
	l    *cbpfvm.Listing
}

func (p *Program) listingOf() *cbpfvm.Listing {
	p.listing.once.Do(func() { p.listing.l = cbpfvm.NewListing(p.insns) })
	return p.listing.l
}

// RunTrace runs the program on pkt on the reference interpreter, records
// every executed instruction into t (reset first) and returns the result,
// which is the result Run returns. Each step carries the pc, the
// instruction as tc bytecode and disassembled, the registers read and
// written with their values, the memory access (packet, scratch M[] or
// ancillary) and the branch direction; t ends with the result and, for a
// run ended by a load past the packet or a division by X == 0, the fault.
//
// Run is not affected by tracing. RunTrace allocates nothing into a
// reused Trace once the program's listing is built (on its first traced
// run). t must not be used concurrently; the program may be.
func (p *Program) RunTrace(pkt *packet.Packet, t *trc.Trace) uint32 {
	if pkt == nil {
		pkt = &emptyPacket
	}
	return cbpfvm.InterpretTrace(p.insns, p.listingOf(), pkt, p.random, t)
}
