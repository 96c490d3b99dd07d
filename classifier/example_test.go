package classifier_test

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
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

func ExampleChain_ChangeNetlink() {
	// The TCA_OPTIONS nest tc sends for
	//   bpf bytecode '1,6 0 0 4294967295' classid 1:10 direct-action
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(3, 0x00010010)                                   // TCA_BPF_CLASSID 1:10
	ae.Uint16(4, 1)                                            // TCA_BPF_OPS_LEN
	ae.Bytes(5, []byte{0x06, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}) // TCA_BPF_OPS: ret #-1
	ae.Uint32(8, 1)                                            // TCA_BPF_FLAGS: direct-action
	options, _ := ae.Encode()

	chain := classifier.New(classifier.Config{})
	f, err := chain.ChangeNetlink(classifier.Request{Handle: 1, Flags: classifier.Create | classifier.Excl, Options: options})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The dump is what RTM_GETTFILTER returns as TCA_OPTIONS, with
	// TCA_BPF_FLAGS_GEN = NOT_IN_HW added.
	dump, _ := f.AppendOptions(nil)
	fmt.Printf("%x\n", dump)

	// A NAME without its NUL fails the kernel's policy.
	_, err = chain.ChangeNetlink(classifier.Request{Handle: 2, Flags: classifier.Create, Options: []byte{7, 0, 7, 0, 'a', 'b', 'c', 0}})
	var ce *classifier.Error
	fmt.Println(errors.As(err, &ce), ce.Attr, errors.Is(err, syscall.EINVAL))
	// Output:
	// 30000200080003001000010006000400010000000c00050006000000ffffffff08000800010000000800090008000000
	// true TCA_BPF_NAME true
}

func ExampleChain_Walk() {
	chain := classifier.New(classifier.Config{})
	prog, _ := cbpf.Load([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	for _, h := range []uint32{5, 2, 9} {
		_, _ = chain.Change(classifier.FilterSpec{Handle: h, Program: prog}, classifier.Create|classifier.Excl)
	}
	// List order is insertion order, newest first; skip one as a resumed
	// dump would.
	w := &classifier.Walker{Skip: 1, Fn: func(f *classifier.Filter) int {
		fmt.Println(f.Handle())
		return 0
	}}
	chain.Walk(w)
	fmt.Println("count", w.Count)
	// Output:
	// 2
	// 5
	// count 3
}
