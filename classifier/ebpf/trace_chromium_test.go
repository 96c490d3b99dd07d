package ebpf_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/browsertest"
)

// TestCoverageLinesScreenshot renders the per-line report of vlan.c
// after the tagged packet in headless chromium: after the summary, lines
// 6, 8, 9, 10 and 21 are green, lines 15 and 17 red.
func TestCoverageLinesScreenshot(t *testing.T) {
	c := vlanCoverage(t, loadVLAN(t), "tagged")
	var page bytes.Buffer
	require.NoError(t, c.WriteLinesHTML(&page))
	img := browsertest.Screenshot(t, page.Bytes(), 1000, 500)
	rows := browsertest.TextRows(img, 3)
	lines := c.Lines()
	require.Len(t, rows, 1+len(lines), "summary line and one line per source line")
	for i, l := range lines {
		green, red := browsertest.Colours(img, rows[1+i][0], rows[1+i][1])
		if l.Covered > 0 {
			assert.True(t, green, "line %d ran: green", l.Source.Line)
			assert.False(t, red, "line %d ran: no red", l.Source.Line)
		} else {
			assert.False(t, green, "line %d did not run: no green", l.Source.Line)
			assert.True(t, red, "line %d did not run: red", l.Source.Line)
		}
	}
}
