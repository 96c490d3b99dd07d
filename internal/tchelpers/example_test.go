package tchelpers_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// mustInsns converts cilium/ebpf instructions to the VM's.
func mustInsns(insns asm.Instructions) []ebpfvm.Instruction {
	var buf bytes.Buffer
	if err := insns.Marshal(&buf, binary.LittleEndian); err != nil {
		panic(err)
	}
	out, err := ebpfvm.Decode(buf.Bytes())
	if err != nil {
		panic(err)
	}
	return out
}

// A program counts packets in an array map and redirects them to
// ifindex 4; Go reads the counter and the redirect the program recorded.
func ExampleRegistry() {
	env, err := tchelpers.Registry(tchelpers.Options{Slots: 1})
	if err != nil {
		panic(err)
	}
	counter, err := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1}, maps.Options{Slots: 1})
	if err != nil {
		panic(err)
	}
	prog, err := ebpfvm.Load(mustInsns(asm.Instructions{
		asm.Mov.Imm(asm.R1, 0),                      // r1 = 0
		asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word), // key = 0
		asm.LoadMapPtr(asm.R1, 10),                  // r1 = counter map
		asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
		asm.Add.Imm(asm.R2, -4),                     // r2 = &key
		asm.FnMapLookupElem.Call(),                  // r0 = &value or NULL
		asm.JEq.Imm(asm.R0, 0, "out"),               // if r0 == NULL goto out
		asm.Mov.Imm(asm.R1, 1),                      // r1 = 1
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),    // lock *value += 1
		asm.Mov.Imm(asm.R1, 4).WithSymbol("out"),    // r1 = ifindex 4
		asm.Mov.Imm(asm.R2, 0),                      // r2 = flags (egress)
		asm.FnRedirect.Call(),                       // r0 = TC_ACT_REDIRECT
		asm.Return(),                                // exit
	}), ebpfvm.Options{Helpers: env.Helpers(), Linker: linker{counter}})
	if err != nil {
		panic(err)
	}
	var pkt packet.Packet
	if err := pkt.SetFrame(make([]byte, 60)); err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		verdict, err := prog.Run(&pkt)
		if err != nil {
			panic(err)
		}
		fmt.Println("verdict", verdict)
	}
	v := make([]byte, 8)
	counter.SysLookup([]byte{0, 0, 0, 0}, v, 0)
	fmt.Println("packets", binary.LittleEndian.Uint64(v))
	fmt.Printf("redirect %+v\n", env.Redirect(0).Ifindex)
	// Output:
	// verdict 7
	// verdict 7
	// verdict 7
	// packets 3
	// redirect 4
}

// A caller adds its own helper next to the kernel's.
func ExampleOptions_extra() {
	double := ebpfvm.Helper{
		ID:   1000,
		Name: "double",
		Args: 1,
		Func: func(_ *ebpfvm.Machine, args *[5]uint64) (uint64, error) { return 2 * args[0], nil },
	}
	env, err := tchelpers.Registry(tchelpers.Options{Extra: []ebpfvm.Helper{double}})
	if err != nil {
		panic(err)
	}
	prog, err := ebpfvm.Load([]ebpfvm.Instruction{
		{Op: 0xb7, Dst: 1, Imm: 21}, // r1 = 21
		{Op: 0x85, Imm: 1000},       // r0 = double(r1)
		{Op: 0x95},                  // exit
	}, ebpfvm.Options{Helpers: env.Helpers()})
	if err != nil {
		panic(err)
	}
	var pkt packet.Packet
	_ = pkt.SetFrame(make([]byte, 60))
	r0, err := prog.Run(&pkt)
	fmt.Println(r0, err)
	// Output: 42 <nil>
}
