package tcsyntax_test

import (
	"fmt"
	"os"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
)

// An eBPF object line loads the object (testdata/obj/cls.c, built by
// build.sh) through Config.Objects; the Block resolves the program's
// descriptor through the same ProgramTable.
func ExampleObjects() {
	progs := &ebpf.ProgramTable{}
	cfg := tcsyntax.Config{Objects: &tcsyntax.Objects{FS: os.DirFS("testdata/obj"), Programs: progs}}
	f, err := tcsyntax.ParseFilter("tc filter add dev eth0 ingress bpf da obj cls.o sec classifier classid 1:", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	blk := classifier.NewBlock(classifier.BlockConfig{Config: classifier.Config{Programs: progs}, Parent: 0xFFFFFFF2})
	if err := f.Apply(blk); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Name, f.FD)

	frame := make([]byte, 60)
	frame[12], frame[13] = 0x08, 0x00 // IPv4
	pkt := packet.New(len(frame))
	if err := pkt.SetFrame(frame); err != nil {
		fmt.Println(err)
		return
	}
	res := blk.Classify(pkt)
	fmt.Println(res.Verdict, res.ClassID)
	// Output:
	// cls.o:[classifier] 3
	// pass 1:20
}
