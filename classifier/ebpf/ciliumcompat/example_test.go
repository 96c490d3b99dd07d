package ebpf_test

import (
	"fmt"

	ebpf "github.com/clsbpf/clsbpf/classifier/ebpf/ciliumcompat"
)

// Example runs the port classifier of an object file on a TCP frame to
// port 80, as a cilium/ebpf test would.
func Example() {
	spec, err := ebpf.LoadCollectionSpec("../testdata/port.o")
	if err != nil {
		panic(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		panic(err)
	}
	defer coll.Close()
	type portVal struct {
		ClassID, Pad uint32
		Packets      uint64
	}
	if err := coll.Maps["ports"].Put(uint16(80), portVal{ClassID: 0x10001}); err != nil {
		panic(err)
	}
	frame := make([]byte, 54)
	frame[12], frame[14], frame[23], frame[37] = 0x08, 0x45, 6, 80
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, 128)}
	ret, err := coll.Programs["port_classifier"].Run(opts)
	fmt.Printf("ret %#x, %d bytes out, err %v\n", ret, len(opts.DataOut), err)
	// Output:
	// ret 0x10001, 54 bytes out, err <nil>
}
