package tcsyntax_test

import (
	"testing"

	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
)

// BenchmarkParseFilter measures parsing a typical line (the control path:
// allocations are expected and reported).
func BenchmarkParseFilter(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"bytecode", `tc filter add dev eth0 ingress protocol ip pref 10 bpf bytecode '4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0' classid 1:10`},
		{"actions", `tc filter add dev eth0 ingress pref 1 bpf bc '1,6 0 0 0' action mirred egress redirect dev eth1 index 3 action skbedit mark 5/0xff action police rate 1mbit burst 10k conform-exceed drop/pass`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tcsyntax.ParseFilter(c.line, tcsyntax.Config{Devices: testDevs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
