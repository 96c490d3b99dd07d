// Package browsertest renders HTML pages in headless chromium for tests
// and reads what a person would see off the screenshot: the rows of text
// and their colours. The coverage reports' screenshot tests use it.
//
// Where no chromium is installed the tests skip with the reason;
// RequireEnv=1 (which CI sets) makes that a failure instead.
package browsertest

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RequireEnv is the environment variable that, set to 1, makes a missing
// chromium fail a test rather than skip it.
const RequireEnv = "CLSBPF_REQUIRE_CHROMIUM"

// Chromium returns the path of a headless-capable chromium, or skips tb
// (fails it under RequireEnv=1).
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const reason = "no chromium in PATH (Debian: apt-get install chromium)"
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("chromium required (%s=1): %s", RequireEnv, reason)
	}
	tb.Skip(reason)
	return ""
}

// Screenshot renders page in headless chromium in a window of the given
// size and returns the screenshot.
func Screenshot(tb testing.TB, page []byte, width, height int) image.Image {
	tb.Helper()
	bin := Chromium(tb)
	dir := tb.TempDir()
	in, shot := filepath.Join(dir, "page.html"), filepath.Join(dir, "page.png")
	if err := os.WriteFile(in, page, 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--screenshot="+shot, "file://"+in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("chromium: %v: %s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// TextRows returns the row ranges of img that hold text: runs of rows with
// a pixel brighter than the dark background. A run that starts within
// join rows of the previous one (an underscore below its line) is joined
// to it; join 0 joins nothing.
func TextRows(img image.Image, join int) [][2]int {
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
			if n := len(rows); n > 0 && join > 0 && start-rows[n-1][1] <= join {
				rows[n-1][1] = y
			} else {
				rows = append(rows, [2]int{start, y})
			}
			start = -1
		}
	}
	return rows
}

// Colours reports whether rows [y0, y1) of img hold green pixels (covered
// text) and red ones (uncovered text).
func Colours(img image.Image, y0, y1 int) (green, red bool) {
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
