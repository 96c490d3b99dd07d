package classifier

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

var testFrame = []byte{
	0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet, IPv4
	0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
}

func newPacket(t testing.TB) *packet.Packet {
	t.Helper()
	p := packet.New(len(testFrame))
	require.NoError(t, p.SetFrame(testFrame))
	return p
}

// add installs specs in order (so the last one runs first).
func add(t testing.TB, c *Chain, specs ...FilterSpec) {
	t.Helper()
	for _, s := range specs {
		_, err := c.Change(s, Create|Excl)
		require.NoError(t, err)
	}
}

func TestClassify(t *testing.T) {
	da := func(h uint32, classID handle.Handle, prog Program) FilterSpec {
		return FilterSpec{Handle: h, ClassID: classID, DirectAction: true, Program: prog}
	}
	cl := func(h uint32, classID handle.Handle, prog Program) FilterSpec {
		return FilterSpec{Handle: h, ClassID: classID, Program: prog}
	}
	tests := []struct {
		name  string
		specs []FilterSpec // added in order: the last runs first
		want  Result
	}{
		{"empty_chain", nil, Result{Verdict: action.Unspec}},
		{"classic_no_match", []FilterSpec{cl(1, 0x10010, retK(0))}, Result{Verdict: action.Unspec}},
		{"classic_minus_one_selects_filter_classid", []FilterSpec{cl(1, 0x10010, retK(0xFFFFFFFF))},
			Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}},
		{"classic_value_is_classid", []FilterSpec{cl(1, 0x10010, retK(0x12345))},
			Result{Verdict: action.OK, ClassID: 0x12345, Filter: 1}},
		{"classic_falls_through_no_match", []FilterSpec{cl(1, 0x10020, retK(0xFFFFFFFF)), cl(2, 0x10010, retK(0))},
			Result{Verdict: action.OK, ClassID: 0x10020, Filter: 1}},
		{"classic_first_match_wins", []FilterSpec{cl(1, 0x10020, retK(0xFFFFFFFF)), cl(2, 0x10010, retK(0xFFFFFFFF))},
			Result{Verdict: action.OK, ClassID: 0x10010, Filter: 2}},
		{"classic_negative_action_continues", []FilterSpec{
			cl(1, 0x10020, retK(0)),
			{Handle: 2, ClassID: 0x10010, Program: retK(0xFFFFFFFF), Actions: &fakeActions{verdict: action.Unspec}}},
			Result{Verdict: action.Unspec, ClassID: 0x10010, Filter: 2}},
		{"classic_action_verdict_final", []FilterSpec{
			cl(1, 0x10020, retK(0xFFFFFFFF)),
			{Handle: 2, ClassID: 0x10010, Program: retK(0x10030), Actions: &fakeActions{verdict: action.Shot}}},
			Result{Verdict: action.Shot, ClassID: 0x10030, Filter: 2}},
		{"classic_action_pipe_is_final", []FilterSpec{
			{Handle: 2, Program: retK(0x10030), Actions: &fakeActions{verdict: action.Pipe}}},
			Result{Verdict: action.Pipe, ClassID: 0x10030, Filter: 2}},
		{"da_ok_classid_from_filter", []FilterSpec{da(1, 0x10010, retK(0))},
			Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}},
		{"da_tc_classid_written", []FilterSpec{da(1, 0x10000, setClassID(0x20, action.OK))},
			Result{Verdict: action.OK, ClassID: 0x10020, Filter: 1}},
		{"da_tc_classid_without_filter_classid", []FilterSpec{da(1, 0, setClassID(0x20, action.OK))},
			Result{Verdict: action.OK, ClassID: 0x20, Filter: 1}},
		{"da_shot", []FilterSpec{da(1, 0x10010, retK(2))}, Result{Verdict: action.Shot, ClassID: 0x10010, Filter: 1}},
		{"da_stolen", []FilterSpec{da(1, 0, retK(4))}, Result{Verdict: action.Stolen, Filter: 1}},
		{"da_redirect", []FilterSpec{da(1, 0, retK(7))}, Result{Verdict: action.Redirect, Filter: 1}},
		{"da_trap", []FilterSpec{da(1, 0, retK(8))}, Result{Verdict: action.Trap, Filter: 1}},
		{"da_unspec_continues", []FilterSpec{da(1, 0x10020, retK(0)), da(2, 0x10010, retK(0xFFFFFFFF))},
			Result{Verdict: action.OK, ClassID: 0x10020, Filter: 1}},
		{"da_reclassify_is_unspec", []FilterSpec{da(1, 0x10010, retK(1))}, Result{Verdict: action.Unspec, ClassID: 0x10010, Filter: 1}},
		{"da_pipe_is_unspec", []FilterSpec{da(1, 0, retK(3))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_queued_is_unspec", []FilterSpec{da(1, 0, retK(5))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_repeat_is_unspec", []FilterSpec{da(1, 0, retK(6))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_9_is_unspec", []FilterSpec{da(1, 0, retK(9))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_minus_two_is_unspec", []FilterSpec{da(1, 0, retK(0xFFFFFFFE))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_jump_is_unspec", []FilterSpec{da(1, 0, retK(0x10000001))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_goto_chain_is_unspec", []FilterSpec{da(1, 0, retK(0x20000000))}, Result{Verdict: action.Unspec, Filter: 1}},
		{"da_actions_never_run", []FilterSpec{
			{Handle: 1, DirectAction: true, Program: retK(0xFFFFFFFF), Actions: &fakeActions{verdict: action.Shot}}},
			Result{Verdict: action.Unspec, Filter: 1}},
		{"da_then_classic", []FilterSpec{cl(1, 0x10030, retK(0xFFFFFFFF)), da(2, 0x20000, retK(0xFFFFFFFF))},
			Result{Verdict: action.OK, ClassID: 0x10030, Filter: 1}},
		{"classic_then_da_leaves_da_classid", []FilterSpec{da(1, 0x30005, retK(0xFFFFFFFF)), cl(2, 0x10010, retK(0))},
			Result{Verdict: action.Unspec, ClassID: 0x30005, Filter: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{})
			add(t, c, tt.specs...)
			got := c.Classify(newPacket(t))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestClassifyTCClassIDPreset(t *testing.T) {
	// Each program sees its own filter's classid (low 16 bits) at entry,
	// whatever the previous program wrote.
	var seen []uint16
	spy := func(ret uint32) *fakeEBPF {
		return &fakeEBPF{run: func(pkt *packet.Packet) uint32 {
			seen = append(seen, pkt.TCClassID)
			pkt.TCClassID = 0x7777
			return ret
		}}
	}
	c := New(Config{})
	add(t, c,
		FilterSpec{Handle: 1, ClassID: 0, DirectAction: true, Program: spy(0)},
		FilterSpec{Handle: 2, ClassID: 0x12345, DirectAction: true, Program: spy(0xFFFFFFFF)},
	)
	res := c.Classify(newPacket(t))
	assert.Equal(t, []uint16{0x2345, 0}, seen)
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x7777, Filter: 1}, res)
}

func TestClassifySkipSW(t *testing.T) {
	ran := 0
	prog := &fakeEBPF{run: func(*packet.Packet) uint32 { ran++; return 0 }}
	hw, _ := fakeOffload(1, nil)
	c := New(Config{Offload: hw})
	add(t, c,
		FilterSpec{Handle: 1, ClassID: 0x10010, Program: retK(0xFFFFFFFF)},
		FilterSpec{Handle: 2, ClassID: 0x10020, DirectAction: true, Flags: SkipSW, Program: prog},
		FilterSpec{Handle: 3, ClassID: 0x10030, Flags: SkipSW, Program: prog},
	)
	var tcClassIDs []uint16
	spy := &fakeClassic{insns: retK(0).insns, run: func(pkt *packet.Packet) uint32 {
		tcClassIDs = append(tcClassIDs, pkt.TCClassID)
		return 0xFFFFFFFF
	}}
	_, err := c.Change(FilterSpec{Handle: 1, ClassID: 0x10010, Program: spy}, 0)
	require.NoError(t, err)
	pkt := newPacket(t)
	res := c.Classify(pkt)
	assert.Zero(t, ran, "skip_sw programs never run")
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}, res)
	assert.Equal(t, []uint16{0x10}, tcClassIDs)
	f, _ := c.Get(2)
	assert.Equal(t, SkipSW|InHW, f.Flags())
	assert.Equal(t, 1, f.InHWCount())
}

func TestClassifyIngressMACPushPull(t *testing.T) {
	// A packet as the kernel holds it on receive: data at the network
	// header. The program sees the frame from the MAC header; afterwards
	// data is back at the network header.
	var first []byte
	prog := &fakeClassic{insns: retK(0).insns, run: func(pkt *packet.Packet) uint32 {
		first = append([]byte(nil), pkt.Data()[:14]...)
		return uint32(len(pkt.Data()))
	}}
	c := New(Config{})
	add(t, c, FilterSpec{Handle: 1, Program: prog})

	pkt := newPacket(t)
	require.NoError(t, pkt.Pull(14))
	require.Equal(t, 0, pkt.NetworkOffset())
	res := c.Classify(pkt)
	assert.Equal(t, testFrame[:14], first)
	assert.Equal(t, handle.Handle(len(testFrame)), res.ClassID)
	assert.Equal(t, 0, pkt.NetworkOffset())
	assert.Equal(t, testFrame[14:], pkt.Data())

	// At egress (and for a frame that already starts at its MAC header)
	// nothing is pushed.
	pkt = newPacket(t)
	pkt.Direction = packet.Egress
	res = c.Classify(pkt)
	assert.Equal(t, handle.Handle(len(testFrame)), res.ClassID)
	assert.Equal(t, testFrame[:14], first)
}

func TestClassifyOrder(t *testing.T) {
	var order []uint32
	logger := func(h uint32) Program {
		return &fakeEBPF{run: func(*packet.Packet) uint32 { order = append(order, h); return 0xFFFFFFFF }}
	}
	c := New(Config{})
	for _, h := range []uint32{5, 2, 9} {
		add(t, c, FilterSpec{Handle: h, DirectAction: true, Program: logger(h)})
	}
	c.Classify(newPacket(t))
	assert.Equal(t, []uint32{9, 2, 5}, order)

	// Replacing keeps the place; an automatic handle goes first.
	_, err := c.Change(FilterSpec{Handle: 5, DirectAction: true, Program: logger(50)}, Create)
	require.NoError(t, err)
	f, err := c.Change(FilterSpec{DirectAction: true, Program: logger(1)}, Create)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), f.Handle())
	order = nil
	c.Classify(newPacket(t))
	assert.Equal(t, []uint32{1, 9, 2, 50}, order)
}

func TestClassifyClassCookie(t *testing.T) {
	classes := &fakeClasses{classes: map[handle.Handle]bool{0x10010: true}, bound: map[handle.Handle]int{}}
	c := New(Config{Classes: classes})
	add(t, c,
		FilterSpec{Handle: 1, ClassID: 0x10010, Program: retK(0x10010)},
		FilterSpec{Handle: 2, ClassID: 0x10010, Program: retK(0)},
	)
	// A returned classid carries no class; -1 carries the bound class.
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}, c.Classify(newPacket(t)))
	_, err := c.Change(FilterSpec{Handle: 2, ClassID: 0x10010, Program: retK(0xFFFFFFFF)}, 0)
	require.NoError(t, err)
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Class: 0x10011, Filter: 2}, c.Classify(newPacket(t)))
	assert.Equal(t, 2, classes.bound[0x10010], "the replaced filter was unbound")

	// The qdisc deletes and re-creates the class.
	c.BindClass(0x10010, 0)
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 2}, c.Classify(newPacket(t)))
	c.BindClass(0x10010, 99)
	assert.Equal(t, uint64(99), c.Classify(newPacket(t)).Class)
}

func TestClassifyAllocs(t *testing.T) {
	c := New(Config{})
	for h := uint32(1); h <= 10; h++ {
		add(t, c, FilterSpec{Handle: h, ClassID: handle.Handle(0x10000 + h), Program: retK(0)})
	}
	add(t, c, FilterSpec{Handle: 100, DirectAction: true, Program: setClassID(5, action.Unspec)})
	pkt := newPacket(t)
	require.NoError(t, pkt.Pull(14)) // exercise the ingress push/pull too
	allocs := testing.AllocsPerRun(1000, func() { _ = c.Classify(pkt) })
	assert.Zero(t, allocs)
}
