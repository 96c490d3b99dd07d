package tctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// CoverDirEnv names the environment variable that makes Cover write its
// reports: when set to a directory, Cover writes <test name>.txt (per C
// source line, as text) and <test name>.html (the same as a page in the
// style of `go tool cover -html`) there when the test ends.
const CoverDirEnv = "CLSBPF_COVER_DIR"

// Cover runs every packet through prog on the reference interpreter,
// counting which instructions, branch directions and C source lines ran,
// and returns the coverage (the runs' results are those of Run; packets
// are changed as Run changes them). Read it with Lines, or write it with
// WriteLinesText and WriteLinesHTML; with CoverDirEnv set, the reports are
// also written to files named after the test. Run it over a test's whole
// packet set to see which lines of the C program the set exercises.
func Cover(tb testing.TB, prog *ebpf.Program, pkts ...*packet.Packet) *ebpf.Coverage {
	tb.Helper()
	c := ebpf.NewCoverage(prog)
	for _, pkt := range pkts {
		c.Run(pkt)
	}
	if dir := os.Getenv(CoverDirEnv); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
		for ext, write := range map[string]func(f *os.File) error{
			".txt":  func(f *os.File) error { return c.WriteLinesText(f) },
			".html": func(f *os.File) error { return c.WriteLinesHTML(f) },
		} {
			f, err := os.Create(filepath.Join(dir, name+ext))
			if err != nil {
				tb.Fatalf("tctest: cover: %v", err)
			}
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				tb.Fatalf("tctest: cover: %v", err)
			}
		}
	}
	return c
}
