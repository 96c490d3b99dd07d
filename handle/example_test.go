package handle_test

import (
	"fmt"

	"github.com/clsbpf/clsbpf/handle"
)

func ExampleParseClassID() {
	for _, s := range []string{"1:10", "ffff:", ":a", "10", "root", "1:10000"} {
		h, err := handle.ParseClassID(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-6s 0x%08x %s\n", s, uint32(h), h)
	}
	// Output:
	// 1:10   0x00010010 1:10
	// ffff:  0xffff0000 ffff:
	// :a     0x0000000a :a
	// 10     0x00000010 :10
	// root   0xffffffff root
	// parse classid "1:10000": minor number exceeds ffff
}

func ExampleMake() {
	h := handle.Make(1, 0x10)
	fmt.Println(h, h.Major(), h.Minor())
	fmt.Println(handle.IngressParent, handle.EgressParent)
	// Output:
	// 1:10 1 16
	// ffff:fff2 ffff:fff3
}

func ExampleAllocator() {
	a := handle.NewAllocator()
	h1, _ := a.Alloc()
	h2, _ := a.Alloc()
	_ = a.Reserve(3) // an explicit handle, as "tc filter add ... handle 3"
	a.Release(h1)    // the filter with handle 1 is deleted
	h4, _ := a.Alloc()
	h5, _ := a.Alloc()
	fmt.Println(h1, h2, h4, h5)
	fmt.Println(a.Reserve(2))
	// Output:
	// 1 2 1 4
	// reserve filter handle 0x2: in use: no space left on device
}

func ExampleAllocator_Clone() {
	a := handle.NewAllocator()
	_, _ = a.Alloc()
	staged := a.Clone() // stage a change; drop it if the change fails
	h, _ := staged.Alloc()
	fmt.Println(h, staged.InUse(h), a.InUse(h))
	// Output:
	// 2 true false
}

func ExampleParseFilter() {
	for _, s := range []string{"1", "0x10", "010", "4294967296"} {
		h, err := handle.ParseFilter(s)
		fmt.Println(h, err)
	}
	// Output:
	// 1 <nil>
	// 16 <nil>
	// 8 <nil>
	// 0 parse filter handle "4294967296": exceeds 0xffffffff
}
