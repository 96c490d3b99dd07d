package tcx_test

import (
	"fmt"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
)

// Example attaches two programs to a tcx list, the second before the
// first, and runs a frame through it.
func Example() {
	var list tcx.List
	first := &retProg{id: 1, ret: 0xffffffff} // TCX_NEXT
	second := &retProg{id: 2, ret: 0}         // TCX_PASS
	if err := list.Attach(first, tcx.AttachOptions{}); err != nil {
		panic(err)
	}
	if err := list.Attach(second, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagID, Relative: 1}); err != nil {
		panic(err)
	}
	q, _ := list.Query()
	fmt.Println("revision", q.Revision, "programs", q.Programs)

	pkt := packet.New(60)
	if err := pkt.SetFrame(make([]byte, 60)); err != nil {
		panic(err)
	}
	pkt.TCClassID = 0x12
	fmt.Println(list.Run(pkt), "tc_index", pkt.TCIndex)
	// Output:
	// revision 3 programs [{2 0} {1 0}]
	// TCX_PASS tc_index 18
}
