package tcsyntax_test

import (
	"fmt"
	"strings"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
)

// A line from a tc script configures a Block as tc configures the kernel.
func ExampleParseFilter() {
	devs := tcsyntax.DeviceMap{"eth0": 2, "eth1": 3}
	f, err := tcsyntax.ParseFilter(`tc filter add dev eth0 ingress protocol ip pref 10 bpf bytecode '1,6 0 0 4294967295' classid 1:10`, tcsyntax.Config{Devices: devs})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Dev, f.Ifindex, f.Where(), f.ClassID)
	fmt.Println(f)
	// Output:
	// eth0 2 {0 10 2048} 1:10
	// tc filter add dev eth0 ingress protocol ip pref 10 bpf bytecode '1,6 0 0 4294967295' classid 1:10
}

// Errors name the word at fault, in tc's words.
func ExampleParseFilter_error() {
	_, err := tcsyntax.ParseFilter(`ingress bpf bytecode '1,6 0 0 0' flowid 1:1 bytcode x`, tcsyntax.Config{})
	fmt.Println(err)
	// Output:
	// word 7 "bytcode": What is "bytcode"?
}

// Show prints a Block's filters as `tc filter show` does.
func ExampleShow() {
	table := action.NewTable(action.Config{})
	blk := classifier.NewBlock(classifier.BlockConfig{
		Config:  classifier.Config{Actions: classifier.NewActionParser(table)},
		Ifindex: 2, Parent: 0xFFFFFFF2,
	})
	for _, line := range []string{
		`protocol ip pref 10 handle 5 bpf bytecode '1,6 0 0 4294967295' classid 1:10 skip_hw`,
		`pref 20 bpf da bytecode '1,6 0 0 2'`,
	} {
		f, err := tcsyntax.ParseFilter(line, tcsyntax.Config{})
		if err == nil {
			err = f.Apply(blk)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	var out strings.Builder
	if err := tcsyntax.Show(&out, blk, tcsyntax.ShowOptions{}); err != nil {
		fmt.Println(err)
	}
	// tc ends each classifier's header line with a blank, which an
	// Output comment cannot hold.
	fmt.Print(strings.ReplaceAll(out.String(), " \n", "\n"))
	// Output:
	// filter protocol ip pref 10 bpf chain 0
	// filter protocol ip pref 10 bpf chain 0 handle 0x5 flowid 1:10 skip_hw not_in_hw bytecode '1,6 0 0 4294967295'
	// filter protocol all pref 20 bpf chain 0
	// filter protocol all pref 20 bpf chain 0 handle 0x1 direct-action not_in_hw bytecode '1,6 0 0 2'
}

// Action lists parse on their own too, and print back as tc words.
func ExampleParseActions() {
	specs, n, err := tcsyntax.ParseActions([]string{"action", "skbedit", "mark", "5/0xff", "action", "drop", "classid", "1:1"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, tcsyntax.FormatActions(specs, nil))
	// Output:
	// 6 [action skbedit mark 0x5/0xff action gact drop]
}

// FormatFilter prints one filter with its actions and their statistics,
// as `tc -s filter show` does.
func ExampleFormatFilter() {
	table := action.NewTable(action.Config{Clock: fixedClock{}})
	blk := classifier.NewBlock(classifier.BlockConfig{
		Config: classifier.Config{Actions: classifier.NewActionParser(table)},
		Parent: 0xFFFFFFF2,
	})
	f, err := tcsyntax.ParseFilter(`pref 1 handle 7 bpf bytecode '1,6 0 0 4294967295' classid 1:1 action skbedit mark 5/0xff pass index 3 cookie 0a0b`, tcsyntax.Config{})
	if err == nil {
		err = f.Apply(blk)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := blk.Proto(f.Where())
	cf, _ := p.Get(7)
	text, err := tcsyntax.FormatFilter(p, cf, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Println(strings.TrimRight(line, " "))
	}
	// Output:
	// filter protocol all pref 1 bpf chain 0 handle 0x7 flowid 1:1 not_in_hw bytecode '1,6 0 0 4294967295'
	// 	action order 1: skbedit  mark 5/0xff pass
	// 	 index 3 ref 1 bind 1
	// 	Action statistics:
	// 	Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)
	// 	backlog 0b 0p requeues 0
	// 	cookie 0a0b
}

// fixedClock keeps printed ages out of the example's output.
type fixedClock struct{}

func (fixedClock) Now() int64 { return 1 }
