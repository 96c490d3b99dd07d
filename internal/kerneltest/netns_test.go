package kerneltest

import (
	"strings"
	"testing"
)

func TestNewNetNS(t *testing.T) {
	ns := NewNetNS(t)
	out := ns.MustRun(t, "ip", "-o", "link", "show")
	if !strings.Contains(out, "lo:") || strings.Count(out, "\n") != 1 {
		t.Fatalf("fresh namespace should hold only lo, got:\n%s", out)
	}
	if err := ns.Do(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}
