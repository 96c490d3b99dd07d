package btftarget_test

import (
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/btftarget"
)

// Look up the tc program context in the target and print where two of
// its fields sit, as a CO-RE relocation sees them.
func ExampleSpec() {
	spec, err := btftarget.Spec()
	if err != nil {
		panic(err)
	}
	var skb *btf.Struct
	if err := spec.TypeByName("__sk_buff", &skb); err != nil {
		panic(err)
	}
	fmt.Println(skb.Name, skb.Size)
	for _, m := range skb.Members {
		if m.Name == "mark" || m.Name == "tc_classid" {
			fmt.Println(m.Name, m.Offset/8)
		}
	}
	// Output:
	// __sk_buff 192
	// mark 8
	// tc_classid 72
}
