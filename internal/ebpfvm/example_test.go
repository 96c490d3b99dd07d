package ebpfvm_test

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// A tc program that returns the TCP destination port of an IPv4 frame,
// written as raw bytecode and decoded.
func ExampleDecode() {
	code := []byte{
		0xbf, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // r6 = r1
		0x28, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, // r0 = ldh [36]
		0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // exit
	}
	insns, err := ebpfvm.Decode(code)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(insns), insns[1])
	// Output: 3 op=0x28 dst=r0 src=r0 off=0 imm=36
}

// Load verifies and compiles a program; Run runs it on a packet.
func ExampleProgram_Run() {
	prog, err := ebpfvm.Load([]ebpfvm.Instruction{
		{Op: 0xbf, Dst: 6, Src: 1}, // r6 = r1
		{Op: 0x28, Imm: 36},        // r0 = ldh [36] (TCP destination port)
		{Op: 0x63, Dst: 6, Off: 8}, // skb->mark = r0
		{Op: 0x95},                 // exit
	}, ebpfvm.Options{})
	if err != nil {
		panic(err)
	}
	frame := make([]byte, 54)
	frame[12], frame[13] = 0x08, 0x00 // IPv4
	frame[14] = 0x45
	frame[36], frame[37] = 0x01, 0xbb // port 443
	var pkt packet.Packet
	if err := pkt.SetFrame(frame); err != nil {
		panic(err)
	}
	r0, err := prog.Run(&pkt)
	fmt.Println(r0, pkt.Mark, err)
	// Output: 443 443 <nil>
}

// Programs the kernel would refuse are refused at load, with the kernel's
// errno and the instruction that is wrong.
func ExampleLoad_rejected() {
	_, err := ebpfvm.Load([]ebpfvm.Instruction{
		{Op: 0xbf, Dst: 0, Src: 3}, // r0 = r3 (never written)
		{Op: 0x95},                 // exit
	}, ebpfvm.Options{})
	var ve *ebpfvm.VerifyError
	fmt.Println(errors.As(err, &ve), ve.Index, errors.Is(err, syscall.EACCES))
	fmt.Println(err)
	// Output:
	// true 0 true
	// ebpfvm: load: insn 0: R3 !read_ok: permission denied
}

// With ContextMem a program gets R1 = memory and R2 = its length, the
// convention of the bpf_conformance suite.
func ExampleProgram_RunMem() {
	prog, err := ebpfvm.Load([]ebpfvm.Instruction{
		{Op: 0x79, Dst: 0, Src: 1},         // r0 = *(u64 *)(r1 + 0)
		{Op: 0x0f, Dst: 0, Src: 2},         // r0 += r2
		{Op: 0x7b, Dst: 1, Src: 0, Off: 8}, // *(u64 *)(r1 + 8) = r0
		{Op: 0x95},                         // exit
	}, ebpfvm.Options{Context: ebpfvm.ContextMem})
	if err != nil {
		panic(err)
	}
	mem := make([]byte, 16)
	mem[0] = 100
	r0, err := prog.RunMem(mem)
	fmt.Println(r0, mem[8], err)
	// Output: 116 116 <nil>
}
