package action_test

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
)

func ExampleParseVerdict() {
	for _, s := range []string{"drop", "pass", "continue", "goto chain 5", "jump 2", "p", "sh"} {
		v, err := action.ParseVerdict(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-12s %#x %s\n", s, uint32(v), v)
	}
	// Output:
	// drop         0x2 drop
	// pass         0x0 pass
	// continue     0xffffffff continue
	// goto chain 5 0x20000005 goto chain 5
	// jump 2       0x10000002 jump 2
	// p            0x0 pass
	// sh           0x2 drop
}

func ExampleGotoChain() {
	v, err := action.GotoChain(7)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v, v.IsGotoChain(), v.ExtValue())
	_, err = action.GotoChain(1 << 28)
	fmt.Println(errors.Is(err, syscall.EINVAL))
	// Output:
	// goto chain 7 true 7
	// true
}

func ExampleVerdict_Validate() {
	for _, v := range []action.Verdict{action.Trap, action.Unspec, 9, 0x30000000} {
		err := v.Validate()
		fmt.Println(v, err, errors.Is(err, syscall.EINVAL))
	}
	// Output:
	// trap <nil> false
	// continue <nil> false
	// 9 invalid control action 9 (0x9) true
	// 805306368 invalid control action 805306368 (0x30000000) true
}
