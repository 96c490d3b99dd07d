package cbpf_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// ipv4TCP returns an Ethernet frame carrying an IPv4 TCP header with the
// given destination port.
func ipv4TCP(dport uint16) []byte {
	f := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f[14] = 0x45
	binary.BigEndian.PutUint16(f[16:], 40)
	f[23] = 6 // TCP
	copy(f[26:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(f[34:], 40000)
	binary.BigEndian.PutUint16(f[36:], dport)
	f[46] = 0x50
	f[47] = 0x02 // SYN
	return f
}

func ExampleLoad() {
	// Match IPv4 (EtherType 0x0800) and select classid 1:10.
	prog, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1},
		bpf.RetConstant{Val: 0x00010010},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(prog)

	// The kernel rejects a program whose last instruction is not a return.
	_, err = cbpf.Load([]bpf.Instruction{bpf.LoadAbsolute{Off: 12, Size: 2}})
	var ce *cbpf.CheckError
	fmt.Println(errors.As(err, &ce), ce.Index, ce.Reason, errors.Is(err, syscall.EINVAL))
	// Output:
	// (000) ldh      [12]
	// (001) jeq      #0x800           jt 2	jf 3
	// (002) ret      #65552
	// (003) ret      #0
	// true 0 last instruction is not a return true
}

func ExampleParseBytecode() {
	// The output of `tcpdump -ddd ip` joined by commas, as tc takes it.
	raw, err := cbpf.ParseBytecode("4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(raw), raw[1])
	fmt.Println(cbpf.FormatBytecode(raw))

	_, err = cbpf.ParseBytecode("3,40 0 0 12,6 0 0 0")
	fmt.Println(err)
	// Output:
	// 4 {21 0 1 2048}
	// 4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0
	// cbpf: bytecode: Parsed program length is less than encoded length parameter!: invalid argument
}

func ExampleProgram_Run() {
	// `tcpdump -ddd 'ip and tcp dst port 80'`, as a tc bytecode string.
	raw, err := cbpf.ParseBytecode("11,40 0 0 12,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20," +
		"69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 262144,6 0 0 0")
	if err != nil {
		fmt.Println(err)
		return
	}
	prog, err := cbpf.LoadRaw(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	pkt := packet.New(64)
	for _, port := range []uint16{80, 443} {
		if err := pkt.SetFrame(ipv4TCP(port)); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("port %d: %d\n", port, prog.Run(pkt))
	}
	// Output:
	// port 80: 262144
	// port 443: 0
}

func ExampleParseBytecodeFile() {
	// What `tcpdump -ddd ip6` prints, as tc's bytecode-file takes it.
	raw, err := cbpf.ParseBytecodeFile(strings.NewReader("4\n40 0 0 12\n21 0 1 34525\n6 0 0 262144\n6 0 0 0\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(cbpf.Disassemble(raw))
	// Output:
	// (000) ldh      [12]
	// (001) jeq      #0x86dd          jt 2	jf 3
	// (002) ret      #262144
	// (003) ret      #0
}

func ExampleCheck() {
	// Scratch word M[1] is written on one path only, so the kernel refuses
	// the program.
	err := cbpf.Check([]bpf.RawInstruction{
		{Op: 0x15, Jt: 0, Jf: 1, K: 0}, // jeq #0 jt 1 jf 2
		{Op: 0x02, K: 1},               // st M[1]
		{Op: 0x61, K: 1},               // ldx M[1]
		{Op: 0x16},                     // ret a
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, syscall.EINVAL))
	// Output:
	// cbpf: check: instruction 2 (code=0x61 jt=0 jf=0 k=0x1): scratch memory read before write: invalid argument
	// true
}

func ExampleWithRandom() {
	// Sample one packet in four: SKF_AD_RANDOM from an injected source.
	next := uint32(0)
	prog, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtRand},
		bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0xffffffff},
		bpf.RetConstant{Val: 0},
	}, cbpf.WithRandom(func() uint32 { next++; return next }))
	if err != nil {
		fmt.Println(err)
		return
	}
	pkt := packet.New(64)
	if err := pkt.SetFrame(ipv4TCP(80)); err != nil {
		fmt.Println(err)
		return
	}
	for range 8 {
		fmt.Print(prog.Run(pkt) != 0, " ")
	}
	fmt.Println()
	// Output:
	// false false false true false false false true
}
