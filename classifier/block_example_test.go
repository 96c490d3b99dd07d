package classifier_test

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

func ExampleBlock_Classify() {
	table := action.NewTable(action.Config{})
	block := classifier.NewBlock(classifier.BlockConfig{
		Config: classifier.Config{Actions: classifier.NewActionParser(table)},
	})
	ipv4, _ := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                         // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1}, // jeq #0x800, L2, L3
		bpf.RetConstant{Val: 0xFFFFFFFF},                           // L2: ret #-1: match
		bpf.RetConstant{Val: 0},                                    // L3: ret #0: no match
	})
	all, _ := cbpf.Load([]bpf.Instruction{bpf.RetConstant{Val: 0xFFFFFFFF}}) // ret #-1

	// chain 0, pref 10: IPv4 goes on in chain 1 (action gact goto chain 1).
	goto1, _ := action.GotoChain(1)
	acts, _ := table.NewChain([]action.Spec{&action.Gact{Params: action.Params{Verdict: goto1}}}, action.FilterContext{})
	_, _, err := block.Change(classifier.Where{Chain: 0, Prio: 10, Protocol: classifier.ProtocolAll},
		classifier.FilterSpec{Program: ipv4, Actions: classifier.NewActions(acts)}, classifier.Create|classifier.Excl)
	if err != nil {
		fmt.Println(err)
		return
	}
	// chain 1, automatic priority: everything to class 1:20.
	w, _, err := block.Change(classifier.Where{Chain: 1, Protocol: classifier.ProtocolAll},
		classifier.FilterSpec{Program: all, ClassID: handle.Make(1, 0x20)}, classifier.Create|classifier.Excl)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("chain 1 priority", w.Prio)

	pkt := packet.New(len(frame))
	_ = pkt.SetFrame(frame)
	res := block.Classify(pkt)
	fmt.Println(res.Verdict, res.ClassID)

	ipv6 := append([]byte(nil), frame...)
	ipv6[13] = 0xDD
	_ = pkt.SetFrame(ipv6)
	fmt.Println(block.Classify(pkt).Verdict)

	// Priority 10 of chain 0 holds a classifier for every protocol: one
	// for IPv6 alone cannot go there.
	_, _, err = block.Change(classifier.Where{Chain: 0, Prio: 10, Protocol: 0x86DD},
		classifier.FilterSpec{Program: all}, classifier.Create)
	fmt.Println(errors.Is(err, syscall.EINVAL))
	// Output:
	// chain 1 priority 49152
	// pass 1:20
	// continue
	// true
}

func ExampleBlock_Bind() {
	// A software "NIC" that runs the filters it is given.
	nic := soft.New(soft.Capabilities(nil, nil))
	devices := offload.NewBlock()
	block := classifier.NewBlock(classifier.BlockConfig{Config: classifier.Config{Offload: devices}})
	prog, _ := cbpf.Load([]bpf.Instruction{bpf.RetConstant{Val: 2}}) // ret #2 (shot)

	// skip_sw with no device able to take it: EINVAL.
	spec := classifier.FilterSpec{Program: prog, DirectAction: true, Flags: classifier.SkipSW}
	where := classifier.Where{Prio: 1, Protocol: classifier.ProtocolAll}
	_, _, err := block.Change(where, spec, classifier.Create)
	fmt.Println(errors.Is(err, syscall.EINVAL))

	// Bind the device, then add: the filter is in hardware only.
	if err := block.Bind(&offload.Device{Name: "soft0", Ifindex: 7, HWTC: true, Offloader: nic}); err != nil {
		fmt.Println(err)
		return
	}
	_, f, err := block.Change(where, spec, classifier.Create)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("flags %#x in %d device(s)\n", f.Flags(), f.InHWCount())

	// Packets received on the device meet the filter there.
	pkt := packet.New(len(frame))
	_ = pkt.SetFrame(frame)
	pkt.Ifindex = 7
	fmt.Println(block.Classify(pkt).Verdict)
	pkt.Ifindex = 3
	fmt.Println(block.Classify(pkt).Verdict)
	// Output:
	// true
	// flags 0x6 in 1 device(s)
	// drop
	// continue
}
