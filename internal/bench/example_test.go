package bench_test

import (
	"fmt"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/bench"
)

// The suite's filters, each with its program and the hand-written Go
// function it is measured against, agree on the frame they are timed on.
func ExampleFilters() {
	for _, f := range bench.Filters() {
		frame := bench.SYN(64, f.Port)
		p, err := cbpf.LoadRaw(f.Prog)
		if err != nil {
			fmt.Println(err)
			return
		}
		pkt := packet.New(len(frame))
		if err := pkt.SetFrame(frame); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d instructions, program %#x, Go %#x\n", f.Name, len(f.Prog), p.Run(pkt), f.Go(frame))
	}
	// Output:
	// tcp_dst_port_80: 11 instructions, program 0x40000, Go 0x40000
	// tcp_syn_net_10: 17 instructions, program 0x40000, Go 0x40000
	// port_classifier_14: 37 instructions, program 0x1000e, Go 0x1000e
}
