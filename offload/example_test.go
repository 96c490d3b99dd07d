package offload_test

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/offload"
)

func ExampleCapabilities_Check() {
	// A device that runs eBPF only, with helper 1 (bpf_map_lookup_elem)
	// and hash maps.
	caps := offload.Capabilities{Extended: true, Classes: offload.AllClasses, Helpers: []int32{1}, MapTypes: []uint32{offload.MapHash}}

	classic := &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x06}}} // ret #0
	fmt.Println(errors.Is(caps.Check(classic), syscall.EOPNOTSUPP))

	ebpf := &offload.Program{Kind: offload.Extended, Insns: []byte{
		0x85, 0, 0, 0, 1, 0, 0, 0, // call 1
		0x95, 0, 0, 0, 0, 0, 0, 0, // exit
	}, Maps: []offload.Map{{ID: 1, Type: offload.MapHash, KeySize: 4, ValueSize: 8, MaxEntries: 16}}}
	fmt.Println(caps.Check(ebpf))

	ebpf.Insns[4] = 12 // call 12 (bpf_tail_call)
	fmt.Println(caps.Check(ebpf))
	// Output:
	// true
	// <nil>
	// offload: helper 12 not supported: operation not supported
}

func ExampleFaulty() {
	// A driver that takes everything but fails every replace and the
	// third call.
	drv := &offload.Faulty{
		Caps:         offload.Capabilities{Classic: true, Classes: offload.AllClasses},
		FailCommands: []offload.Command{offload.Replace},
		FailNth:      3,
	}
	dev := &offload.Device{Name: "nic0", Ifindex: 2, HWTC: true, Offloader: drv}
	prog := &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x06}}}
	for _, cmd := range []offload.Command{offload.Add, offload.Replace, offload.Destroy} {
		err := dev.Setup(&offload.Request{Command: cmd, Prog: prog})
		fmt.Println(cmd, errors.Is(err, syscall.EIO))
	}
	fmt.Println(drv.Calls())
	// Output:
	// add false
	// replace true
	// destroy true
	// [add replace destroy]
}
