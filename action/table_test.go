package action

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestHammer runs one chain from several slots while standalone actions
// it is bound to are replaced and other chains come and go; under -race
// this checks that the packet path needs no lock.
func TestHammer(t *testing.T) {
	clock := newFakeClock()
	fwd := newFakeFwd(map[uint32]DeviceState{2: {Up: true, MACHeaderXmit: true}})
	tbl := NewTable(Config{Clock: clock, Forwarder: fwd})
	_, err := tbl.Add([]Spec{&Gact{Params: Params{Index: 1, Verdict: Pipe}}, &Police{Params: Params{Index: 1, Verdict: Shot}, Rate: RateSpec{Rate: 1 << 20}, Burst: BurstTicks(1<<20, 1<<16)}}, false)
	require.NoError(t, err)
	chain, err := tbl.NewChain([]Spec{
		&Gact{Params: Params{Index: 1}},
		&Police{Params: Params{Index: 1}},
		&Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 1},
		&Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 2},
		&Gact{Params: Params{Verdict: OK}},
	}, FilterContext{})
	require.NoError(t, err)
	workers, rounds := 4, 2000
	if testing.Short() {
		rounds = 200
	}
	frame := udpFrame(t, 50)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(slot uint32) {
			defer wg.Done()
			pkt := egressPacket(t, frame)
			pkt.Slot = slot
			var res Result
			for i := 0; i < rounds; i++ {
				clock.Advance(1000)
				chain.Run(pkt, &res)
			}
		}(uint32(w))
	}
	for i := 0; i < rounds/10; i++ {
		v := Pipe
		if i%2 == 1 {
			v = Shot
		}
		_, err := tbl.Add([]Spec{&Gact{Params: Params{Index: 1, Verdict: v}}, &Police{Params: Params{Index: 1, Verdict: Shot}, Rate: RateSpec{Rate: 1 << 20}, Burst: BurstTicks(1<<20, 1<<16)}}, true)
		require.NoError(t, err)
		c, err := tbl.NewChain([]Spec{&Gact{}, &Gact{Params: Params{Index: 1}}}, FilterContext{})
		require.NoError(t, err)
		_ = c.Dump()
		c.Release()
	}
	wg.Wait()
	assert.Equal(t, uint64(workers*rounds), chain.Actions()[0].Stats().Packets)
}

// TestLegacyPolice builds the police of a TCA_BPF_POLICE attribute and
// dumps it back as the bare police options.
func TestLegacyPolice(t *testing.T) {
	tbl := NewTable(Config{Clock: newFakeClock()})
	opts := nlattr.Append(nil, uapi.TCA_POLICE_TBF, policeTBF(0, Shot, 100, 0, RateSpec{}, RateSpec{}, uapi.SizeofTcPolice))
	c, err := tbl.ParsePolice(opts, FilterContext{})
	require.NoError(t, err)
	require.Equal(t, 1, c.Len())
	assert.Equal(t, "police", c.Actions()[0].Kind())
	tb, err := parse(c.Dump(), uapi.TCA_POLICE_MAX, nil)
	require.NoError(t, err)
	require.True(t, tb.has(uapi.TCA_POLICE_TBF))
	assert.Equal(t, uint32(1), tb.u32(uapi.TCA_POLICE_TBF))
	c.Release()
	assert.Empty(t, tbl.Actions("police"))

	_, err = tbl.ParsePolice(nlattr.AppendUint32(nil, uapi.TCA_POLICE_AVRATE, 1), FilterContext{})
	assert.ErrorIs(t, err, errEINVAL)
}

// TestReplaceKeepsCounters replaces a standalone action: its counters
// stay, its parameters change, and a failed replace changes nothing.
func TestReplaceKeepsCounters(t *testing.T) {
	tbl := NewTable(Config{})
	acts, err := tbl.Add([]Spec{&Gact{Params: Params{Index: 3, Verdict: OK}}}, false)
	require.NoError(t, err)
	chain := &Chain{actions: acts}
	var res Result
	chain.Run(egressPacket(t, udpFrame(t, 10)), &res)
	_, err = tbl.Add([]Spec{&Gact{Params: Params{Index: 3, Verdict: Shot}}}, false)
	assert.ErrorIs(t, err, errEEXIST)
	_, err = tbl.Add([]Spec{&Gact{Params: Params{Index: 3, Verdict: Trap}}, &Gact{Params: Params{Verdict: 99}}}, true)
	require.Error(t, err)
	assert.Equal(t, OK, acts[0].Gen().Verdict(), "a failed request replaces nothing")
	_, err = tbl.Add([]Spec{&Gact{Params: Params{Index: 3, Verdict: Shot}}}, true)
	require.NoError(t, err)
	assert.Equal(t, Shot, acts[0].Gen().Verdict())
	assert.Equal(t, uint64(1), acts[0].Stats().Packets)
	assert.Equal(t, int32(1), acts[0].Gen().RefCount())
}

func TestStandaloneSkipSW(t *testing.T) {
	skipSW := Params{Flags: SkipSW}
	tests := []struct {
		name string
		spec Spec
		want error
	}{
		{"gact_drop_no_hardware", &Gact{Params: Params{Verdict: Shot, Flags: SkipSW}}, errEINVAL},
		{"gact_pipe_not_offloadable", &Gact{Params: Params{Verdict: Pipe, Flags: SkipSW}}, errEOPNOTSUPP},
		{"skbedit_mark", &Skbedit{Params: skipSW, SetMark: true}, errEINVAL},
		{"skbedit_mark_and_priority", &Skbedit{Params: skipSW, SetMark: true, SetPriority: true}, errEOPNOTSUPP},
		{"police_reclassify", &Police{Params: Params{Verdict: Reclassify, Flags: SkipSW}}, errEOPNOTSUPP},
		{"vlan_pop_eth", &Vlan{Params: skipSW, Action: VlanPopEth}, errEOPNOTSUPP},
		{"skip_hw_is_fine", &Gact{Params: Params{Verdict: Pipe, Flags: SkipHW}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTable(Config{}).Add([]Spec{tt.spec}, false)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestGotoChains(t *testing.T) {
	tbl := NewTable(Config{})
	c, err := tbl.NewChain([]Spec{&Gact{Params: Params{Verdict: ExtGotoChain | 7}}, &Gact{}, &Gact{Params: Params{Verdict: ExtGotoChain | 2}}}, FilterContext{})
	require.NoError(t, err)
	assert.Equal(t, []uint32{7, 2}, c.GotoChains())
	_, err = tbl.Add([]Spec{&Gact{Params: Params{Verdict: ExtGotoChain | 7}}}, false)
	assert.ErrorIs(t, err, errEINVAL, "no chain outside a filter")
}
