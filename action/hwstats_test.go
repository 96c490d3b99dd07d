package action

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChainUpdateHWStats checks that hardware counters reach the actions
// whose kinds take them, as tcf_exts_hw_stats_update does.
func TestChainUpdateHWStats(t *testing.T) {
	clock := newFakeClock()
	tbl := NewTable(Config{Clock: clock})
	c, err := tbl.NewChain([]Spec{
		&Gact{Params: Params{Verdict: Pipe}},
		&Gact{Params: Params{Verdict: Shot}},
		&Csum{Params: Params{Verdict: OK}, Update: 1},
	}, FilterContext{})
	require.NoError(t, err)
	installed := c.Actions()[0].Stats().LastUse

	c.UpdateHWStats(1000, 10, 3, installed+5e9)
	c.UpdateHWStats(500, 5, 0, installed+1e9) // an older last use is ignored

	pipe, shot, csum := c.Actions()[0].Stats(), c.Actions()[1].Stats(), c.Actions()[2].Stats()
	assert.Equal(t, Stats{Bytes: 1500, Packets: 15, Drops: 3, HWBytes: 1500, HWPackets: 15,
		Installed: pipe.Installed, LastUse: installed + 5e9}, pipe)
	// A dropping gact counts every hardware packet as a drop.
	assert.Equal(t, uint64(15), shot.Drops)
	assert.Equal(t, uint64(1500), shot.HWBytes)
	// csum has no stats_update: its counters stay software-only.
	assert.Zero(t, csum.Bytes)
	assert.Zero(t, csum.HWPackets)
	assert.Equal(t, installed, csum.LastUse)

	var nilChain *Chain
	nilChain.UpdateHWStats(1, 1, 1, 1) // no panic
}
