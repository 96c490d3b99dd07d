package main

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// sampleSetup returns the default block and the sample capture's frames.
func sampleSetup(tb testing.TB) (*block, [][]byte) {
	tb.Helper()
	specs, sources, err := loadSpecs(options{}, nil)
	require.NoError(tb, err)
	blk, err := buildBlock(specs, sources, false)
	require.NoError(tb, err)
	c, err := openCapture(sampleCapture)
	require.NoError(tb, err)
	var frames [][]byte
	for {
		f, _, _, err := c.read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(tb, err)
		frames = append(frames, f)
	}
	return blk, frames
}

// TestPerFrameAllocatesNothing: the per-frame path of the command, the
// receive into a reused packet and the block's classification, allocates
// nothing for any frame of the sample.
func TestPerFrameAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector (sync.Pool drops items at random)")
	}
	blk, frames := sampleSetup(t)
	pkt := packet.New(1514)
	for i, f := range frames {
		allocs := testing.AllocsPerRun(20, func() {
			if err := pkt.Receive(f, ethDevice); err == nil {
				blk.classify(pkt)
			}
		})
		assert.Zero(t, allocs, "frame %d", i+1)
	}
}

// BenchmarkClassifySample receives and classifies the sample capture's
// frames in turn with the six default filters; one op is one frame.
func BenchmarkClassifySample(b *testing.B) {
	blk, frames := sampleSetup(b)
	pkt := packet.New(1514)
	var total int64
	for _, f := range frames {
		total += int64(len(f))
	}
	b.SetBytes(total / int64(len(frames)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := pkt.Receive(frames[i], ethDevice); err == nil {
			blk.classify(pkt)
		}
		if i++; i == len(frames) {
			i = 0
		}
	}
}
