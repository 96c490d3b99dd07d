package cbpf_test

import (
	"fmt"
	"os"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/trace"
)

func ExampleProgram_RunTrace() {
	// tcpdump -ddd 'ip and tcp dst port 80', as tc takes it.
	raw, err := cbpf.ParseBytecode("11,40 0 0 12,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20," +
		"69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 262144,6 0 0 0")
	if err != nil {
		panic(err)
	}
	prog, err := cbpf.LoadRaw(raw)
	if err != nil {
		panic(err)
	}
	pkt := packet.New(64)
	if err := pkt.SetFrame(ipv4TCP(22)); err != nil {
		panic(err)
	}
	var tr trace.Trace // reuse it: later runs allocate nothing
	res := prog.RunTrace(pkt, &tr)
	fmt.Println("result", res, "same as Run:", res == prog.Run(pkt))
	fmt.Print(tr.String())
	// Output:
	// result 0 same as Run: true
	// (000) ldh      [12]                          | 40 0 0 12          | write A=0x800 | load pkt[12:2]=0x800
	// (001) jeq      #0x800           jt 2 jf 10   | 21 0 8 2048        | read A=0x800 | taken
	// (002) ldb      [23]                          | 48 0 0 23          | write A=0x6 | load pkt[23:1]=0x6
	// (003) jeq      #0x6             jt 4 jf 10   | 21 0 6 6           | read A=0x6 | taken
	// (004) ldh      [20]                          | 40 0 0 20          | write A=0x0 | load pkt[20:2]=0x0
	// (005) jset     #0x1fff          jt 10 jf 6   | 69 4 0 8191        | read A=0x0 | not taken
	// (006) ldxb     4*([14]&0xf)                  | 177 0 0 14         | write X=0x14 | load pkt[14:1]=0x45
	// (007) ldh      [x + 16]                      | 72 0 0 16          | read X=0x14 | write A=0x16 | load pkt[36:2]=0x16
	// (008) jeq      #0x50            jt 9 jf 10   | 21 0 1 80          | read A=0x16 | not taken
	// (010) ret      #0                            | 6 0 0 0
	// result 0x0
}

func ExampleCoverage() {
	raw, err := cbpf.ParseBytecode("11,40 0 0 12,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20," +
		"69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 262144,6 0 0 0")
	if err != nil {
		panic(err)
	}
	prog, err := cbpf.LoadRaw(raw)
	if err != nil {
		panic(err)
	}
	cov := cbpf.NewCoverage(prog) // safe for concurrent runs
	for _, port := range []uint16{80, 443} {
		pkt := packet.New(64)
		if err := pkt.SetFrame(ipv4TCP(port)); err != nil {
			panic(err)
		}
		cov.Run(pkt)
	}
	if err := cov.WriteText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// coverage: 11/11 instructions (100.0%), 5/8 branch directions (62.5%), 2 runs
	//       hits    taken      not  bytecode             instruction
	//          2        -        -  40 0 0 12            (000) ldh      [12]
	// ~        2        2        0  21 0 8 2048          (001) jeq      #0x800           jt 2	jf 10
	//          2        -        -  48 0 0 23            (002) ldb      [23]
	// ~        2        2        0  21 0 6 6             (003) jeq      #0x6             jt 4	jf 10
	//          2        -        -  40 0 0 20            (004) ldh      [20]
	// ~        2        0        2  69 4 0 8191          (005) jset     #0x1fff          jt 10	jf 6
	//          2        -        -  177 0 0 14           (006) ldxb     4*([14]&0xf)
	//          2        -        -  72 0 0 16            (007) ldh      [x + 16]
	//          2        1        1  21 0 1 80            (008) jeq      #0x50            jt 9	jf 10
	//          1        -        -  6 0 0 262144         (009) ret      #262144
	//          1        -        -  6 0 0 0              (010) ret      #0
}
