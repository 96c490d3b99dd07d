package action_test

import (
	"fmt"
	"strings"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// stepClock is a Clock that moves only when told to.
type stepClock struct{ ns int64 }

func (c *stepClock) Now() int64 { return c.ns }

// frame returns a 98-byte Ethernet frame carrying an IPv4 packet, the size
// of a ping.
func frame() []byte {
	f := make([]byte, 98)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45})
	return f
}

// A filter's actions run in order: skbedit marks the packet and pipes on,
// gact accepts it.
func ExampleChain_Run() {
	tbl := action.NewTable(action.Config{})
	chain, err := tbl.NewChain([]action.Spec{
		&action.Skbedit{Params: action.Params{Verdict: action.Pipe}, SetMark: true, Mark: 42},
		&action.Gact{Params: action.Params{Verdict: action.OK}},
	}, action.FilterContext{})
	if err != nil {
		panic(err)
	}
	pkt := packet.New(98)
	if err := pkt.SetFrame(frame()); err != nil {
		panic(err)
	}
	var res action.Result
	v := chain.Run(pkt, &res)
	fmt.Println(v, pkt.Mark)
	// Output: pass 42
}

// A gact drop counts what it drops and prints as `tc -s` shows it.
func ExampleGact() {
	clock := &stepClock{ns: 1e9}
	tbl := action.NewTable(action.Config{Clock: clock})
	chain, err := tbl.NewChain([]action.Spec{&action.Gact{Params: action.Params{Verdict: action.Shot}}}, action.FilterContext{})
	if err != nil {
		panic(err)
	}
	pkt := packet.New(98)
	if err := pkt.Transmit(frame(), packet.EthernetDevice(2, [6]byte{2, 0, 0, 0, 0, 1})); err != nil {
		panic(err)
	}
	var res action.Result
	clock.ns += 8e9
	fmt.Println(chain.Run(pkt, &res), chain.Run(pkt, &res))
	clock.ns += 2e9
	// tc ends the statistics line with a space; trim it for the example.
	for _, line := range strings.Split(strings.TrimSuffix(chain.String(), "\n"), "\n") {
		fmt.Println(strings.TrimRight(line, " "))
	}
	// Output:
	// drop drop
	//
	// 	action order 1: gact action drop
	// 	 random type none pass val 0
	// 	 index 1 ref 1 bind 1 installed 10 sec used 2 sec firstused 2 sec
	// 	Action statistics:
	// 	Sent 196 bytes 2 pkt (dropped 2, overlimits 0 requeues 0)
	// 	backlog 0b 0p requeues 0
}

// A policer at 1000 bytes per second with a 300-byte burst: a burst of
// 100-byte packets passes, then one more only after time refills the
// bucket.
func ExamplePolice() {
	clock := &stepClock{ns: 1e9}
	tbl := action.NewTable(action.Config{Clock: clock})
	chain, err := tbl.NewChain([]action.Spec{&action.Police{
		Params:  action.Params{Verdict: action.Shot},
		Rate:    action.RateSpec{Rate: 1000},
		Burst:   action.BurstTicks(1000, 300),
		Conform: action.OK,
	}}, action.FilterContext{})
	if err != nil {
		panic(err)
	}
	pkt := packet.New(100)
	if err := pkt.Transmit(make([]byte, 100), packet.EthernetDevice(2, [6]byte{})); err != nil {
		panic(err)
	}
	var res action.Result
	for i := 0; i < 4; i++ {
		fmt.Print(chain.Run(pkt, &res), " ")
	}
	clock.ns += 100e6 // 100 ms buys 100 bytes
	fmt.Println(chain.Run(pkt, &res))
	st := chain.Actions()[0].Stats()
	fmt.Println("overlimits", st.Overlimits, "drops", st.Drops)
	// Output:
	// pass pass pass drop pass
	// overlimits 1 drops 1
}
