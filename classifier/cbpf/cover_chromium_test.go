package cbpf

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

// chromiumEnv, set to 1, makes TestCoverageHTMLScreenshot fail rather
// than skip when no chromium is installed.
const chromiumEnv = "CLSBPF_REQUIRE_CHROMIUM"

// findChromium returns the path of a headless-capable chromium, or skips.
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

// textBands returns the row ranges of an image that hold text: runs of
// rows with a pixel brighter than the black background.
func textBands(img image.Image) [][2]int {
	var bands [][2]int
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
			bands = append(bands, [2]int{start, y})
			start = -1
		}
	}
	return bands
}

// bandColours reports whether rows [y0, y1) hold green pixels (covered
// text) and red ones (uncovered text or a branch never taken).
func bandColours(img image.Image, y0, y1 int) (green, red bool) {
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

// TestCoverageHTMLScreenshot renders the HTML report in headless
// chromium and reads the colours off the screenshot: after the summary
// line, one line per instruction, green where the instruction ran and red
// where it did not. An IPv6 frame runs instructions 0, 1 and 10 of `ip
// and tcp dst port 80`; the jump at 1 went one way only, marked in
// yellow, so its line holds no red.
func TestCoverageHTMLScreenshot(t *testing.T) {
	bin := findChromium(t)
	c := NewCoverage(loadTCPDst80(t))
	c.Run(framePacket(t, udp6(80)))
	var page bytes.Buffer
	require.NoError(t, c.WriteHTML(&page))
	dir := t.TempDir()
	in, shot := filepath.Join(dir, "cover.html"), filepath.Join(dir, "cover.png")
	require.NoError(t, os.WriteFile(in, page.Bytes(), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1000,700", "--screenshot="+shot, "file://"+in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)

	bands := textBands(img)
	require.Len(t, bands, 1+c.Len(), "summary line and one line per instruction")
	for pc := range c.Len() {
		b := bands[1+pc]
		green, red := bandColours(img, b[0], b[1])
		h, _, _ := c.Counts(pc)
		if h > 0 {
			assert.True(t, green, "pc %d ran: green", pc)
			assert.False(t, red, "pc %d ran: no red", pc)
		} else {
			assert.False(t, green, "pc %d did not run: no green", pc)
			assert.True(t, red, "pc %d did not run: red", pc)
		}
	}
}
