package ebpf_test

import (
	"testing"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// BenchmarkRun runs each test program on a TCP frame (the maps hold the
// entries the frame hits, so no run creates one).
func BenchmarkRun(b *testing.B) {
	for _, tc := range []struct{ object, prog string }{
		{"globals", "globals"},
		{"port", "port_classifier"},
		{"lpm", "lpm_acl"},
		{"nat", "nat"},
		{"elfmap", "count"},
		{"tailcall", "tail_entry"},
		{"progarray", "dispatch"},
		{"vlan", "vlan"},
		{"events", "events_out"},
	} {
		b.Run(tc.object, func(b *testing.B) {
			col := loadCollection(b, tc.object, ebpf.CollectionOptions{Slots: 1})
			if m := col.Maps["ports"]; m != nil {
				if err := m.Put(uint16(80), make([]byte, 16)); err != nil {
					b.Fatal(err)
				}
			}
			if m := col.Maps["acl"]; m != nil {
				if err := m.Put(append(u32le(8), 10, 0, 0, 0), u32le(0)); err != nil {
					b.Fatal(err)
				}
			}
			if m := col.Maps["jumps"]; m != nil {
				for slot, name := range map[uint32]string{1: "tail_tcp", 2: "tail_other", 3: "tail_last"} {
					if err := m.Put(slot, ebpf.TailCallTarget(col.Programs[name])); err != nil {
						b.Fatal(err)
					}
				}
			}
			prog := col.Programs[tc.prog]
			frame := tcpFrame(80)
			var pkt packet.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				_ = pkt.SetFrame(frame)
				prog.Run(&pkt)
			}
		})
	}
}

// BenchmarkClassify runs a chain with one eBPF filter (the port
// classifier, classic mode) on a TCP frame.
func BenchmarkClassify(b *testing.B) {
	col := loadCollection(b, "port", ebpf.CollectionOptions{Slots: 1})
	if err := col.Maps["ports"].Put(uint16(80), append(u32le(0x10020), make([]byte, 12)...)); err != nil {
		b.Fatal(err)
	}
	for _, direct := range []bool{false, true} {
		name := "port/classic"
		if direct {
			name = "port/direct_action"
		}
		b.Run(name, func(b *testing.B) {
			chain := classifier.New(classifier.Config{})
			if _, err := chain.Change(classifier.FilterSpec{Program: col.Programs["port_classifier"], ClassID: 0x10001, DirectAction: direct}, classifier.Create); err != nil {
				b.Fatal(err)
			}
			frame := tcpFrame(80)
			var pkt packet.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				_ = pkt.SetFrame(frame)
				chain.Classify(&pkt)
			}
		})
	}
}
