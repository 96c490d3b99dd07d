package ebpf_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
)

// Trace one run of testdata/vlan.c on an untagged IPv4 frame: each step
// shows the instruction as the verifier log prints it, its bytes, the
// registers it read and wrote and its memory access or helper call, and
// each new C source line is announced before its first instruction.
func ExampleProgram_RunTrace() {
	spec, err := ebpf.LoadObjectFile("testdata/vlan.o")
	if err != nil {
		panic(err)
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{})
	if err != nil {
		panic(err)
	}
	prog := col.Programs["vlan"]
	pkt := packet.New(64)
	if err := pkt.SetFrame(tcpFrame(80)); err != nil {
		panic(err)
	}
	var tr trace.Trace
	res := prog.RunTrace(pkt, &tr)
	lines := strings.Split(tr.String(), "\n")
	for _, l := range lines[2:6] {
		fmt.Println(l)
	}
	fmt.Println("result", res, "steps", tr.Executed, "mark", pkt.Mark)
	// Output:
	// ; if (skb->vlan_present) {  (vlan.c:8)
	// r1 = *(u32 *)(r6 +20)                        | 61 61 14 00 00 00 00 00 | read r6=0x10000000000 | write r1=0x0 | load ctx[vlan_present]=0x0
	// if w1 == 0x0 goto pc+9                       | 16 01 09 00 00 00 00 00 | read r1=0x0 | taken
	// ; if (bpf_skb_vlan_pop(skb))  (vlan.c:10)
	// result 0 steps 17 mark 1
}

// Coverage of the C source lines of testdata/vlan.c by a test set of one
// frame carrying an offloaded VLAN tag: lines 15 and 17, which handle
// untagged frames, never ran ("!"); "~" marks lines only partly run or
// with a branch direction never seen.
func ExampleCoverage_WriteLinesText() {
	spec, err := ebpf.LoadObjectFile("testdata/vlan.o")
	if err != nil {
		panic(err)
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{})
	if err != nil {
		panic(err)
	}
	c := ebpf.NewCoverage(col.Programs["vlan"])
	pkt := packet.New(64)
	if err := pkt.SetFrame(tcpFrame(80)); err != nil {
		panic(err)
	}
	pkt.VLANPresent, pkt.VLANTCI = true, 5
	c.Run(pkt)
	if err := c.WriteLinesText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// coverage: 5/7 source lines (71.4%), 1 runs
	//       hits   insns    dirs  line             source
	//          1     1/1       -  vlan.c:6         int vlan(struct __sk_buff *skb)
	// ~        1     2/2     1/2  vlan.c:8         if (skb->vlan_present) {
	//          1     2/2       -  vlan.c:9         skb->cb[0] = skb->vlan_tci;
	// ~        1     6/8     1/2  vlan.c:10        if (bpf_skb_vlan_pop(skb))
	// !        0     0/2     0/2  vlan.c:15        if (skb->protocol != bpf_htons(ETH_P_IP))
	// !        0     0/8     0/2  vlan.c:17        if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100))
	//          1     1/1       -  vlan.c:21        }
}
