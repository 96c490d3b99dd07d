package ebpf_test

import (
	"fmt"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// A program compiled against vmlinux.h, with CO-RE relocations and
// __kconfig externs, loaded for the kernel the library models with the
// CONFIG_* values the caller chooses.
func ExampleLoadObjectFileWithOptions() {
	spec, err := ebpf.LoadObjectFileWithOptions("testdata/core/kconfig.o", ebpf.ObjectOptions{
		KernelVersion: 0x060c00, // 6.12.0
		Kconfig: map[string]string{
			"CONFIG_HZ":               "1000",
			"CONFIG_BPF_SYSCALL":      "y",
			"CONFIG_NET_CLS_BPF":      "m",
			"CONFIG_IPV6":             "y",
			"CONFIG_DEFAULT_HOSTNAME": `"(none)"`,
			"CONFIG_NR_CPUS":          "64",
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var pkt packet.Packet
	if err := pkt.SetFrame(make([]byte, 60)); err != nil {
		fmt.Println(err)
		return
	}
	verdict := col.Programs["kconfig_tc"].Run(&pkt)
	fmt.Printf("verdict %d, version %#x, HZ %d, mark %d\n", verdict, pkt.CB[0], pkt.CB[1], pkt.Mark)
	// Output:
	// verdict 2, version 0x60c00, HZ 1000, mark 60000
}
