package action

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// TestChainRun checks every rule of tcf_action_exec with scripted actions.
func TestChainRun(t *testing.T) {
	tbl := NewTable(Config{Clock: newFakeClock()})
	jump := func(n uint32) Verdict { v, _ := Jump(n); return v }
	type act struct {
		script  []Verdict
		skipSW  bool
		gotoTgt int64 // configured goto chain target, -1 for none
	}
	a := func(script ...Verdict) act { return act{script: script, gotoTgt: -1} }
	tests := []struct {
		name     string
		acts     []act
		skip     bool // packet marked SkipClassify
		want     Verdict
		wantRuns []int
		wantGoto int64 // -1: res.Goto stays false
	}{
		{name: "empty_chain_is_ok", acts: nil, want: OK, wantGoto: -1},
		{name: "skip_classify_runs_nothing", acts: []act{a(Shot)}, skip: true, want: OK, wantRuns: []int{0}, wantGoto: -1},
		{name: "empty_chain_keeps_skip_mark", acts: nil, skip: true, want: OK, wantGoto: -1},
		{name: "pipe_goes_on", acts: []act{a(Pipe), a(Pipe), a(Shot)}, want: Shot, wantRuns: []int{1, 1, 1}, wantGoto: -1},
		{name: "final_pipe_returned", acts: []act{a(Pipe), a(Pipe)}, want: Pipe, wantRuns: []int{1, 1}, wantGoto: -1},
		{name: "non_pipe_stops", acts: []act{a(OK), a(Shot)}, want: OK, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "unspec_stops", acts: []act{a(Unspec), a(Shot)}, want: Unspec, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "negative_stops", acts: []act{a(-5), a(Shot)}, want: -5, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "reclassify_stops", acts: []act{a(Reclassify), a(Shot)}, want: Reclassify, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "skip_sw_action_skipped", acts: []act{{script: []Verdict{Shot}, skipSW: true, gotoTgt: -1}, a(Stolen)}, want: Stolen, wantRuns: []int{0, 1}, wantGoto: -1},
		{name: "all_skip_sw_is_ok", acts: []act{{script: []Verdict{Shot}, skipSW: true, gotoTgt: -1}}, want: OK, wantRuns: []int{0}, wantGoto: -1},
		{name: "repeat_runs_again", acts: []act{a(Repeat, Repeat, Pipe), a(OK)}, want: OK, wantRuns: []int{3, 1}, wantGoto: -1},
		{name: "repeat_31_then_pass", acts: []act{a(append(repeatN(31), OK)...)}, want: OK, wantRuns: []int{32}, wantGoto: -1},
		{name: "repeat_32_aborts_ok", acts: []act{a(Repeat), a(Shot)}, want: OK, wantRuns: []int{32, 0}, wantGoto: -1},
		{name: "repeat_31_then_shot", acts: []act{a(append(repeatN(31), Shot)...)}, want: Shot, wantRuns: []int{32}, wantGoto: -1},
		{name: "jump_is_absolute_from_first", acts: []act{a(Pipe), a(jump(2)), a(Shot), a(Stolen)}, want: Shot, wantRuns: []int{1, 1, 1, 0}, wantGoto: -1},
		{name: "jump_3_resumes_at_fourth", acts: []act{a(Pipe), a(jump(3)), a(Shot), a(Stolen)}, want: Stolen, wantRuns: []int{1, 1, 0, 1}, wantGoto: -1},
		{name: "jump_1_from_first", acts: []act{a(jump(1)), a(Pipe), a(Trap)}, want: Trap, wantRuns: []int{1, 1, 1}, wantGoto: -1},
		{name: "jump_back_loops_until_ttl", acts: []act{a(Pipe), a(jump(1))}, want: OK, wantRuns: []int{1, 32}, wantGoto: -1},
		{name: "jump_0_is_ok", acts: []act{a(jump(0)), a(Shot)}, want: OK, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "jump_past_end_is_ok", acts: []act{a(jump(3)), a(Shot)}, want: OK, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "jump_to_end_skips_all", acts: []act{a(jump(2)), a(Shot)}, want: jump(2), wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "jump_uses_low_9_bits", acts: []act{a(ExtJump | 0x201), a(Stolen)}, want: Stolen, wantRuns: []int{1, 1}, wantGoto: -1},
		{name: "jump_high_bits_only_is_zero", acts: []act{a(ExtJump | 0x200), a(Shot)}, want: OK, wantRuns: []int{1, 0}, wantGoto: -1},
		{name: "goto_chain_without_chain_drops", acts: []act{a(ExtGotoChain | 4)}, want: Shot, wantRuns: []int{1}, wantGoto: -1},
		{name: "goto_chain_records_configured_target", acts: []act{{script: []Verdict{ExtGotoChain | 4}, gotoTgt: 9}, a(Shot)}, want: ExtGotoChain | 4, wantRuns: []int{1, 0}, wantGoto: 9},
		{name: "redirect_stops", acts: []act{a(Redirect), a(Shot)}, want: Redirect, wantRuns: []int{1, 0}, wantGoto: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var acts []Action
			var ss []*scripted
			for i, a := range tt.acts {
				s := newScripted(tbl, uint32(i+1), OK, a.script...)
				if a.skipSW {
					s.flags = SkipSW
				}
				if a.gotoTgt >= 0 {
					s.setCtrl(ExtGotoChain | Verdict(a.gotoTgt))
				}
				acts = append(acts, s)
				ss = append(ss, s)
			}
			c := &Chain{actions: acts}
			pkt := packet.New(64)
			pkt.SkipClassify = tt.skip
			var res Result
			assert.Equal(t, tt.want, c.Run(pkt, &res))
			assert.Equal(t, tt.skip && len(tt.acts) == 0, pkt.SkipClassify)
			for i, s := range ss {
				assert.Equal(t, tt.wantRuns[i], s.runs, "runs of action %d", i+1)
			}
			if tt.wantGoto < 0 {
				assert.False(t, res.Goto)
			} else {
				assert.True(t, res.Goto)
				assert.Equal(t, uint32(tt.wantGoto), res.GotoChain)
			}
		})
	}
}

func repeatN(n int) []Verdict {
	out := make([]Verdict, n)
	for i := range out {
		out[i] = Repeat
	}
	return out
}

// TestChainRunGact runs real gact actions through a chain built from
// specs, counting bytes, packets and drops as the kernel does.
func TestChainRunGact(t *testing.T) {
	clock := newFakeClock()
	tbl := NewTable(Config{Clock: clock})
	c, err := tbl.NewChain([]Spec{
		&Gact{Params: Params{Verdict: Pipe}},
		&Gact{Params: Params{Verdict: Shot}},
	}, FilterContext{})
	require.NoError(t, err)
	frame := udpFrame(t, 56)
	pkt := egressPacket(t, frame)
	var res Result
	for i := 0; i < 2; i++ {
		clock.Advance(1e9)
		assert.Equal(t, Shot, c.Run(pkt, &res))
	}
	s0, s1 := c.Actions()[0].Stats(), c.Actions()[1].Stats()
	assert.Equal(t, uint64(2*len(frame)), s0.Bytes)
	assert.Equal(t, uint64(2), s0.Packets)
	assert.Zero(t, s0.Drops)
	assert.Equal(t, uint64(2), s1.Drops)
	assert.Equal(t, clock.Now(), s1.LastUse)
	assert.Equal(t, clock.Now()-1e9, s1.FirstUse)

	// At ingress the kernel counts the packet without its MAC header.
	pkt.Direction = packet.Ingress
	c.Run(pkt, &res)
	assert.Equal(t, uint64(3*len(frame)-14), c.Actions()[0].Stats().Bytes)
}

func TestChainAllocs(t *testing.T) {
	tbl := NewTable(Config{Clock: newFakeClock(), Forwarder: newFakeFwd(map[uint32]DeviceState{2: {Up: true, MACHeaderXmit: true}})})
	c, err := tbl.NewChain(benchSpecs(), FilterContext{})
	require.NoError(t, err)
	pkt := egressPacket(t, udpFrame(t, 100))
	var res Result
	allocs := testing.AllocsPerRun(1000, func() {
		pkt.Mark = 0
		c.Run(pkt, &res)
	})
	assert.Zero(t, allocs)
}

// benchSpecs is a three-action chain: skbedit, police and gact.
func benchSpecs() []Spec {
	return []Spec{
		&Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 7, SetPriority: true, Priority: 3},
		&Police{Params: Params{Verdict: Shot}, Rate: RateSpec{Rate: 1 << 30, Linklayer: 1}, Burst: BurstTicks(1<<30, 1<<20), Conform: Pipe},
		&Gact{Params: Params{Verdict: OK}},
	}
}

func BenchmarkChainRun(b *testing.B) {
	tbl := NewTable(Config{Clock: newFakeClock()})
	c, err := tbl.NewChain(benchSpecs(), FilterContext{})
	require.NoError(b, err)
	pkt := egressPacket(b, udpFrame(b, 100))
	var res Result
	b.ReportAllocs()
	b.SetBytes(int64(pkt.Len()))
	for b.Loop() {
		c.Run(pkt, &res)
	}
}

func TestChainRelease(t *testing.T) {
	tbl := NewTable(Config{})
	pre, err := tbl.Add([]Spec{&Gact{Params: Params{Index: 5, Verdict: Shot}}}, false)
	require.NoError(t, err)
	c1, err := tbl.NewChain([]Spec{&Gact{Params: Params{Index: 5, Verdict: OK}}, &Gact{}}, FilterContext{})
	require.NoError(t, err)
	assert.Same(t, pre[0], c1.Actions()[0], "binds to the existing action")
	assert.Equal(t, Shot, c1.Actions()[0].Gen().Verdict(), "parameters unchanged by binding")
	assert.Equal(t, uint32(1), c1.Actions()[1].Index(), "lowest free index")
	g := c1.Actions()[0].Gen()
	assert.Equal(t, int32(2), g.RefCount())
	assert.Equal(t, int32(1), g.BindCount())

	err = tbl.Delete("gact", 5)
	assert.ErrorIs(t, err, errEPERM)
	c1.Release()
	c1.Release()
	assert.Equal(t, int32(1), g.RefCount())
	_, ok := tbl.Get("gact", 1)
	assert.False(t, ok, "the filter's own action left with the filter")
	require.NoError(t, tbl.Delete("gact", 5))
	assert.ErrorIs(t, tbl.Delete("gact", 5), errENOENT)
	assert.ErrorIs(t, tbl.Delete("nosuch", 5), errEINVAL)
}

// BenchmarkAct runs one action of each kind on a 142-byte UDP frame.
func BenchmarkAct(b *testing.B) {
	fwd := nopFwd{}
	kinds := []struct {
		name string
		spec Spec
	}{
		{"gact", &Gact{Params: Params{Verdict: OK}}},
		{"gact_determ", &Gact{Params: Params{Verdict: OK}, Prob: ProbDeterm, ProbVal: 10, ProbVerdict: Shot}},
		{"skbedit", &Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 1, InheritDSField: true}},
		{"police", &Police{Params: Params{Verdict: Shot}, Rate: RateSpec{Rate: 1 << 30}, Burst: BurstTicks(1<<30, 1<<20)}},
		{"vlan_modify", &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 5}},
		{"csum_ipv4_udp", &Csum{Params: Params{Verdict: OK}, Update: CsumIPv4Header | CsumUDP}},
		{"bpf_classic", &Bpf{Ops: []bpf.RawInstruction{{Op: 0x28, K: 12}, {Op: 0x15, Jt: 0, Jf: 1, K: 0x800}, {Op: 0x06, K: 0}, {Op: 0x06, K: 2}}}},
		{"mirred_mirror", &Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 2}},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			tbl := NewTable(Config{Clock: newFakeClock(), Forwarder: fwd})
			c, err := tbl.NewChain([]Spec{k.spec}, FilterContext{})
			require.NoError(b, err)
			pkt := egressPacket(b, udpFrame(b, 100))
			var res Result
			b.ReportAllocs()
			b.SetBytes(int64(pkt.Len()))
			for b.Loop() {
				c.Run(pkt, &res)
			}
		})
	}
}

// nopFwd is a Forwarder that drops what it is given, for measuring mirred
// itself.
type nopFwd struct{}

func (nopFwd) Device(uint32) (DeviceState, bool) {
	return DeviceState{Up: true, MACHeaderXmit: true}, true
}
func (nopFwd) Forward(*packet.Packet, Forward) error { return nil }

func TestMirredAllocs(t *testing.T) {
	tbl := NewTable(Config{Forwarder: nopFwd{}})
	c, err := tbl.NewChain([]Spec{&Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 2}, &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 3}, &Csum{Update: CsumIPv4Header | CsumUDP}}, FilterContext{})
	require.NoError(t, err)
	pkt := egressPacket(t, udpFrame(t, 100))
	var res Result
	assert.Zero(t, testing.AllocsPerRun(1000, func() { c.Run(pkt, &res) }))
}
