package classifier_test

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

// frame is an Ethernet frame carrying IPv4.
var frame = []byte{
	0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
	0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
}

func ExampleChain_Classify() {
	// tc filter add ... bpf bytecode '4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0' classid 1:10
	prog, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                         // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1}, // jeq #0x800, L2, L3
		bpf.RetConstant{Val: 0xFFFFFFFF},                           // L2: ret #-1: the filter's classid
		bpf.RetConstant{Val: 0},                                    // L3: ret #0: no match
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	chain := classifier.New(classifier.Config{})
	if _, err := chain.Change(classifier.FilterSpec{Program: prog, ClassID: handle.Make(1, 0x10)}, classifier.Create|classifier.Excl); err != nil {
		fmt.Println(err)
		return
	}

	pkt := packet.New(len(frame))
	if err := pkt.SetFrame(frame); err != nil {
		fmt.Println(err)
		return
	}
	res := chain.Classify(pkt)
	fmt.Println(res.Verdict, res.ClassID)

	frame[13] = 0xDD // now an IPv6 EtherType: no match
	_ = pkt.SetFrame(frame)
	res = chain.Classify(pkt)
	fmt.Println(res.Verdict, res.Decided())
	// Output:
	// pass 1:10
	// continue false
}

func ExampleChain_Change() {
	chain := classifier.New(classifier.Config{})
	prog, _ := cbpf.Load([]bpf.Instruction{bpf.RetConstant{Val: 0}})

	// tc filter add: Create|Excl. Handle 0 asks for the lowest free one.
	f, _ := chain.Change(classifier.FilterSpec{Program: prog}, classifier.Create|classifier.Excl)
	fmt.Printf("handle %#x\n", f.Handle())

	// Adding it again is EEXIST, as the kernel answers.
	_, err := chain.Change(classifier.FilterSpec{Handle: 1, Program: prog}, classifier.Create|classifier.Excl)
	fmt.Println(errors.Is(err, syscall.EEXIST))

	// tc filter replace: Create. The filter keeps its place.
	f, _ = chain.Change(classifier.FilterSpec{Handle: 1, Program: prog, DirectAction: true}, classifier.Create)
	fmt.Println(f.DirectAction(), chain.Len())

	// Both skip flags at once is EINVAL; nothing changes.
	_, err = chain.Change(classifier.FilterSpec{Program: prog, Flags: classifier.SkipHW | classifier.SkipSW}, classifier.Create)
	fmt.Println(errors.Is(err, syscall.EINVAL), chain.Len())
	// Output:
	// handle 0x1
	// true
	// true 1
	// true 1
}
