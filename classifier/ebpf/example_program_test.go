package ebpf_test

import (
	"encoding/hex"
	"fmt"

	"github.com/mdlayher/netlink"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// exampleFrame is an Ethernet + IPv4 + TCP frame to port 80.
func exampleFrame() []byte { return tcpFrame(80) }

// Load a clang-compiled object (clang -O2 -g -target bpf -c globals.c),
// make its maps and programs, run a packet and read a global variable.
func ExampleLoadObjectFile() {
	spec, err := ebpf.LoadObjectFile("testdata/globals.o")
	if err != nil {
		panic(err)
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	if err != nil {
		panic(err)
	}
	prog := col.Programs["globals"]
	tag := prog.Tag()
	fmt.Println(prog.Name(), prog.Type(), hex.EncodeToString(tag[:]))

	var pkt packet.Packet
	if err := pkt.SetFrame(exampleFrame()); err != nil {
		panic(err)
	}
	verdict := prog.Run(&pkt)
	fmt.Printf("verdict %d, mark %#x\n", int32(verdict), pkt.Mark)

	var packets uint64 // the program's "__u64 packets = 7" in .data
	if err := col.Maps[".data"].Lookup(uint32(0), &packets); err != nil {
		panic(err)
	}
	fmt.Println("packets", packets)
	// Output:
	// globals SchedCLS 595e6feba5c8effb
	// verdict 0, mark 0x103
	// packets 8
}

// An eBPF filter in a chain, given by value: the port classifier returns
// the classid its hash map holds for the destination port.
func ExampleProgram_Run_classifier() {
	spec, err := ebpf.LoadObjectFile("testdata/port.o")
	if err != nil {
		panic(err)
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	if err != nil {
		panic(err)
	}
	// struct port_val { __u32 classid; __u32 pad; __u64 packets; }
	val := make([]byte, 16)
	val[0], val[2] = 0x20, 0x01 // classid 1:20
	if err := col.Maps["ports"].Put(uint16(80), val); err != nil {
		panic(err)
	}

	chain := classifier.New(classifier.Config{})
	if _, err := chain.Change(classifier.FilterSpec{Program: col.Programs["port_classifier"]}, classifier.Create|classifier.Excl); err != nil {
		panic(err)
	}
	var pkt packet.Packet
	if err := pkt.SetFrame(exampleFrame()); err != nil {
		panic(err)
	}
	res := chain.Classify(&pkt)
	fmt.Println(res.Verdict == action.OK, res.ClassID)
	// Output:
	// true 1:20
}

// An eBPF filter given by descriptor, as a netlink request carries it in
// TCA_BPF_FD: a ProgramTable stands for the process's file descriptors.
func ExampleProgramTable() {
	spec, err := ebpf.LoadObjectFile("testdata/globals.o")
	if err != nil {
		panic(err)
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, ProgramIDs: map[string]uint32{"globals": 42}})
	if err != nil {
		panic(err)
	}
	var table ebpf.ProgramTable
	fd := table.Add(col.Programs["globals"])

	chain := classifier.New(classifier.Config{Programs: &table})
	// TCA_OPTIONS of "tc filter add ... bpf da fd 3 name globals.o:[tc]".
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(6, fd)               // TCA_BPF_FD
	ae.String(7, "globals.o:[tc]") // TCA_BPF_NAME
	ae.Uint32(8, 1)                // TCA_BPF_FLAGS: TCA_BPF_FLAG_ACT_DIRECT
	opts, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	f, err := chain.ChangeNetlink(classifier.Request{Handle: 1, Flags: classifier.Create | classifier.Excl, Options: opts})
	if err != nil {
		panic(err)
	}
	name, _ := f.Name()
	fmt.Println("fd", fd, "filter", name, "id", f.Program().(classifier.ExtendedProgram).ID(), "direct action", f.DirectAction())
	// Output:
	// fd 3 filter globals.o:[tc] id 42 direct action true
}

// Two collections made from objects whose maps tc pins (iproute2's
// PIN_GLOBAL_NS) share those maps through one PinNamespace, as two
// `tc filter add ... bpf obj` commands share /sys/fs/bpf/tc/globals.
func ExamplePinNamespace() {
	spec, err := ebpf.LoadObjectFile("testdata/elfmap.o")
	if err != nil {
		panic(err)
	}
	pins := ebpf.NewPinNamespace()
	a, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	if err != nil {
		panic(err)
	}
	b, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	if err != nil {
		panic(err)
	}
	var pkt packet.Packet
	for _, p := range []*ebpf.Program{a.Programs["count"], b.Programs["count"]} {
		if err := pkt.SetFrame(exampleFrame()); err != nil {
			panic(err)
		}
		p.Run(&pkt)
	}
	var n uint64
	if err := a.Maps["shared_counts"].Lookup(uint32(len(exampleFrame())&3), &n); err != nil {
		panic(err)
	}
	fmt.Println("shared:", a.Maps["shared_counts"] == b.Maps["shared_counts"], "count:", n)
	fmt.Println(pins.Paths()[1])
	// Output:
	// shared: true count: 2
	// globals/shared_counts
}
