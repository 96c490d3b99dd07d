package cbpf

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/browsertest"
)

// TestCoverageHTMLScreenshot renders the HTML report in headless
// chromium and reads the colours off the screenshot: after the summary
// line, one line per instruction, green where the instruction ran and red
// where it did not. An IPv6 frame runs instructions 0, 1 and 10 of `ip
// and tcp dst port 80`; the jump at 1 went one way only, marked in
// yellow, so its line holds no red.
func TestCoverageHTMLScreenshot(t *testing.T) {
	c := NewCoverage(loadTCPDst80(t))
	c.Run(framePacket(t, udp6(80)))
	var page bytes.Buffer
	require.NoError(t, c.WriteHTML(&page))
	img := browsertest.Screenshot(t, page.Bytes(), 1000, 700)
	bands := browsertest.TextRows(img, 0)
	require.Len(t, bands, 1+c.Len(), "summary line and one line per instruction")
	for pc := range c.Len() {
		b := bands[1+pc]
		green, red := browsertest.Colours(img, b[0], b[1])
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
