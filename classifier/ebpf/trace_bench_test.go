package ebpf_test

import (
	"testing"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
)

// BenchmarkTrace compares a plain run of vlan.o on an untagged IPv4
// packet (the compiled engine, which has no hook) with a traced run and a
// covered run (the reference interpreter with a hook).
func BenchmarkTrace(b *testing.B) {
	prog := loadVLAN(b)
	frame := tcpFrame(80)
	var pkt packet.Packet
	b.Run("Run", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = pkt.SetFrame(frame)
			prog.Run(&pkt)
		}
	})
	b.Run("RunTrace", func(b *testing.B) {
		var tr trc.Trace
		b.ReportAllocs()
		for b.Loop() {
			_ = pkt.SetFrame(frame)
			prog.RunTrace(&pkt, &tr)
		}
	})
	b.Run("Coverage", func(b *testing.B) {
		c := ebpf.NewCoverage(prog)
		b.ReportAllocs()
		for b.Loop() {
			_ = pkt.SetFrame(frame)
			c.Run(&pkt)
		}
	})
}
