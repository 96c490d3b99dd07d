package tctest

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/packet/gopacketadapter"
	"github.com/clsbpf/clsbpf/handle"
)

// EqualVerdict reports an error on tb when got, a program's return value or
// a classifier.Result's Verdict, is not want. The message shows both
// verdicts as numbers with their TC_ACT_* names ("got 2 (TC_ACT_SHOT)"),
// or as tc prints an extended opcode ("goto chain 3").
func EqualVerdict[V ~uint32 | ~int32](tb testing.TB, got V, want action.Verdict) {
	tb.Helper()
	if g := action.Verdict(got); g != want {
		tb.Errorf("verdict: got %s, want %s", verdictName(g), verdictName(want))
	}
}

// verdictNames are the TC_ACT_* names of include/uapi/linux/pkt_cls.h.
var verdictNames = map[action.Verdict]string{
	action.Unspec:     "TC_ACT_UNSPEC",
	action.OK:         "TC_ACT_OK",
	action.Reclassify: "TC_ACT_RECLASSIFY",
	action.Shot:       "TC_ACT_SHOT",
	action.Pipe:       "TC_ACT_PIPE",
	action.Stolen:     "TC_ACT_STOLEN",
	action.Queued:     "TC_ACT_QUEUED",
	action.Repeat:     "TC_ACT_REPEAT",
	action.Redirect:   "TC_ACT_REDIRECT",
	action.Trap:       "TC_ACT_TRAP",
}

// verdictName is v as a number and, when it has one, its name.
func verdictName(v action.Verdict) string {
	if v.IsGotoChain() || v.IsJump() {
		return fmt.Sprintf("%d (%s)", int32(v), v)
	}
	if n, ok := verdictNames[v]; ok {
		return fmt.Sprintf("%d (%s)", int32(v), n)
	}
	return fmt.Sprintf("%d", int32(v))
}

// EqualClassID reports an error on tb when got, a classic-mode return value
// or a classifier.Result's ClassID, is not want; both are shown as tc shows
// class ids (1:10).
func EqualClassID[C ~uint32](tb testing.TB, got C, want handle.Handle) {
	tb.Helper()
	if g := handle.Handle(got); g != want {
		tb.Errorf("classid: got %s (%#x), want %s (%#x)", g, uint32(g), want, uint32(want))
	}
}

// EqualFrame reports an error on tb when the frame of pkt (linear and paged
// parts, from the MAC header) is not want. The message holds hex dumps of
// both with the differing bytes marked (^^) and both frames decoded by
// gopacket, layer by layer.
func EqualFrame(tb testing.TB, pkt *packet.Packet, want []byte) {
	tb.Helper()
	got := pkt.Bytes()
	if bytes.Equal(got, want) {
		return
	}
	var b strings.Builder
	diff := 0
	first := -1
	for i := 0; i < max(len(got), len(want)); i++ {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			diff++
			if first < 0 {
				first = i
			}
		}
	}
	fmt.Fprintf(&b, "frame: %d of %d bytes differ, the first at offset %d (%#x)\n", diff, max(len(got), len(want)), first, first)
	fmt.Fprintf(&b, "got (%d bytes):\n", len(got))
	b.WriteString(HexDiff(got, want))
	fmt.Fprintf(&b, "want (%d bytes):\n", len(want))
	b.WriteString(HexDiff(want, got))
	b.WriteString("got, decoded:\n")
	b.WriteString(decode(gopacketadapter.ToGopacket(pkt, gopacket.Default)))
	b.WriteString("want, decoded:\n")
	b.WriteString(decode(gopacket.NewPacket(want, layers.LayerTypeEthernet, gopacket.Default)))
	tb.Error(strings.TrimSuffix(b.String(), "\n"))
}

// HexDiff returns a hex dump of a, 16 bytes a line with their offset, where
// each line holding a byte that differs from b (or that b lacks) is followed
// by a line marking those bytes with ^^.
func HexDiff(a, b []byte) string {
	var s strings.Builder
	for off := 0; off < len(a); off += 16 {
		end := min(off+16, len(a))
		var marks strings.Builder
		marked := false
		fmt.Fprintf(&s, "  %04x ", off)
		marks.WriteString("       ")
		for i := off; i < end; i++ {
			if i > off && i%8 == 0 {
				s.WriteByte(' ')
				marks.WriteByte(' ')
			}
			fmt.Fprintf(&s, " %02x", a[i])
			if i >= len(b) || a[i] != b[i] {
				marks.WriteString(" ^^")
				marked = true
			} else {
				marks.WriteString("   ")
			}
		}
		s.WriteByte('\n')
		if marked {
			s.WriteString(strings.TrimRight(marks.String(), " "))
			s.WriteByte('\n')
		}
	}
	return s.String()
}

// decode lists the layers gopacket finds in p, one summary a line.
func decode(p gopacket.Packet) string {
	var s strings.Builder
	for _, l := range p.Layers() {
		s.WriteString("  ")
		s.WriteString(strings.ReplaceAll(strings.TrimSpace(gopacket.LayerString(l)), "\n", " "))
		s.WriteByte('\n')
	}
	if el := p.ErrorLayer(); el != nil {
		fmt.Fprintf(&s, "  decode error: %v\n", el.Error())
	}
	return s.String()
}

// EqualMapValue reports an error on tb when the value of key in m is not
// want, or key is missing. want's type says how the value is read: a []byte
// for the raw value (a hex diff on mismatch), a fixed-size Go value (uint64,
// a struct, an array) in native byte order, or a slice for a per-CPU map's
// values, one per slot.
func EqualMapValue(tb testing.TB, m *ebpf.Map, key, want any) {
	tb.Helper()
	if w, ok := want.([]byte); ok {
		var got []byte
		if err := m.Lookup(key, &got); err != nil {
			tb.Errorf("map %s: key %v: %v", m, key, err)
			return
		}
		if !bytes.Equal(got, w) {
			tb.Errorf("map %s: key %v:\ngot:\n%swant:\n%s", m, key, HexDiff(got, w), HexDiff(w, got))
		}
		return
	}
	got := reflect.New(reflect.TypeOf(want))
	if err := m.Lookup(key, got.Interface()); err != nil {
		tb.Errorf("map %s: key %v: %v", m, key, err)
		return
	}
	if g := got.Elem().Interface(); !reflect.DeepEqual(g, want) {
		tb.Errorf("map %s: key %v: got %+v, want %+v", m, key, g, want)
	}
}
