package ebpf_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumEnv, set to 1, makes TestCoverageLinesScreenshot fail rather
// than skip when no chromium is installed.
const chromiumEnv = "CLSBPF_REQUIRE_CHROMIUM"

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const reason = "no chromium in PATH (Debian: apt-get install chromium)"
	if os.Getenv(chromiumEnv) == "1" {
		t.Fatalf("chromium required (%s=1): %s", chromiumEnv, reason)
	}
	t.Skip(reason)
	return ""
}

// textRows returns the row ranges of an image that hold text: runs of
// rows with a pixel brighter than the black background, a run that
// starts within 3 rows of the previous one (an underscore below its
// line) joined to it.
func textRows(img image.Image) [][2]int {
	var rows [][2]int
	r := img.Bounds()
	start := -1
	for y := r.Min.Y; y <= r.Max.Y; y++ {
		lit := false
		for x := r.Min.X; x < r.Max.X && y < r.Max.Y; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr>>8 > 40 || cg>>8 > 40 || cb>>8 > 40 {
				lit = true
				break
			}
		}
		switch {
		case lit && start < 0:
			start = y
		case !lit && start >= 0:
			if n := len(rows); n > 0 && start-rows[n-1][1] <= 3 {
				rows[n-1][1] = y
			} else {
				rows = append(rows, [2]int{start, y})
			}
			start = -1
		}
	}
	return rows
}

// rowColours reports whether rows [y0, y1) hold green (covered) and red
// (uncovered) pixels.
func rowColours(img image.Image, y0, y1 int) (green, red bool) {
	r := img.Bounds()
	for y := y0; y < y1; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, _, _ := img.At(x, y).RGBA()
			cr, cg = cr>>8, cg>>8
			if cg > 100 && cg > cr+60 {
				green = true
			}
			if cr > 100 && cg < 40 {
				red = true
			}
		}
	}
	return green, red
}

// TestCoverageLinesScreenshot renders the per-line report of vlan.c
// after the tagged packet in headless chromium: after the summary, lines
// 6, 8, 9, 10 and 21 are green, lines 15 and 17 red.
func TestCoverageLinesScreenshot(t *testing.T) {
	bin := findChromium(t)
	c := vlanCoverage(t, loadVLAN(t), "tagged")
	var page bytes.Buffer
	require.NoError(t, c.WriteLinesHTML(&page))
	dir := t.TempDir()
	in, shot := filepath.Join(dir, "cover.html"), filepath.Join(dir, "cover.png")
	require.NoError(t, os.WriteFile(in, page.Bytes(), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1000,500", "--screenshot="+shot, "file://"+in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)

	rows := textRows(img)
	lines := c.Lines()
	require.Len(t, rows, 1+len(lines), "summary line and one line per source line")
	for i, l := range lines {
		green, red := rowColours(img, rows[1+i][0], rows[1+i][1])
		if l.Covered > 0 {
			assert.True(t, green, "line %d ran: green", l.Source.Line)
			assert.False(t, red, "line %d ran: no red", l.Source.Line)
		} else {
			assert.False(t, green, "line %d did not run: no green", l.Source.Line)
			assert.True(t, red, "line %d did not run: red", l.Source.Line)
		}
	}
}
