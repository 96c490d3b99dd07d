package tctest_test

import (
	"strings"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/tctest"
)

// FuzzHexDiff checks HexDiff's dump against its inputs: one line per 16
// bytes of a, and one ^^ per byte of a that b lacks or holds otherwise.
func FuzzHexDiff(f *testing.F) {
	f.Add([]byte("tc cls_bpf"), []byte("tc act_bpf"))
	f.Add([]byte{}, []byte{1})
	f.Add(make([]byte, 33), make([]byte, 16))
	f.Add([]byte{0xff}, []byte{0xff})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 4096 {
			return
		}
		diff := 0
		for i := range a {
			if i >= len(b) || a[i] != b[i] {
				diff++
			}
		}
		s := tctest.HexDiff(a, b)
		if got := strings.Count(s, "^^"); got != diff {
			t.Fatalf("%d marks for %d differing bytes:\n%s", got, diff, s)
		}
		rows := 0
		for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
			if line != "" && !strings.Contains(line, "^^") {
				rows++
			}
		}
		if want := (len(a) + 15) / 16; rows != want {
			t.Fatalf("%d rows for %d bytes:\n%s", rows, len(a), s)
		}
	})
}

func TestRunAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector (sync.Pool drops items at random)")
	}
	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(t, coll, "firewall")
	pkt := tctest.Packet(t, ipv4UDP(53)...)
	allocs := testing.AllocsPerRun(100, func() { tctest.Run(t, prog, pkt) })
	if allocs != 0 {
		t.Fatalf("Run allocates %v times per run", allocs)
	}
}

func BenchmarkRun(b *testing.B) {
	coll := tctest.LoadObject(b, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(b, coll, "firewall")
	pkt := tctest.Packet(b, ipv4UDP(53)...)
	b.ReportAllocs()
	for b.Loop() {
		tctest.Run(b, prog, pkt)
	}
}

func BenchmarkProgramRun(b *testing.B) {
	coll := tctest.LoadObject(b, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(b, coll, "firewall")
	pkt := tctest.Packet(b, ipv4UDP(53)...)
	b.ReportAllocs()
	for b.Loop() {
		prog.Run(pkt)
	}
}
