package tcx_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
)

type retProg struct {
	id   uint32
	ret  uint32
	runs *int
}

func (p *retProg) Run(pkt *packet.Packet) uint32 {
	if p.runs != nil {
		*p.runs++
	}
	pkt.CB[0] = pkt.CB[0]*8 + p.id
	return p.ret
}

func (p *retProg) ID() uint32 { return p.id }

func frame() *packet.Packet {
	pkt := packet.New(64)
	f := make([]byte, 60)
	f[12], f[13] = 0x08, 0x06
	if err := pkt.SetFrame(f); err != nil {
		panic(err)
	}
	return pkt
}

// TestRunVerdicts checks tcx_run and tcx_action_code: the first value
// other than TCX_NEXT ends the list; PASS copies tc_classid into
// tc_index; values other than the four verdicts read as NEXT.
func TestRunVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ret     uint32
		want    tcx.Verdict
		ran     uint32 // CB[0] trace: program ids in run order
		tcIndex uint16
	}{
		{"next", 0xffffffff, tcx.Next, 1*8 + 2, 0},
		{"pass", 0, tcx.Pass, 1, 0x55},
		{"drop", 2, tcx.Drop, 1, 0},
		{"redirect", 7, tcx.Redirect, 1, 0},
		{"ok-like 1 ends the list as next", 1, tcx.Next, 1, 0},
		{"pipe 3", 3, tcx.Next, 1, 0},
		{"stolen 4", 4, tcx.Next, 1, 0},
		{"-2", 0xfffffffe, tcx.Next, 1, 0},
		{"jump opcode", 0x10000001, tcx.Next, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l tcx.List
			require.NoError(t, l.Attach(&retProg{id: 1, ret: tc.ret}, tcx.AttachOptions{}))
			require.NoError(t, l.Attach(&retProg{id: 2, ret: 0xffffffff}, tcx.AttachOptions{}))
			pkt := frame()
			pkt.TCClassID = 0x55
			assert.Equal(t, tc.want, l.Run(pkt))
			assert.Equal(t, tc.ran, pkt.CB[0])
			assert.Equal(t, tc.tcIndex, pkt.TCIndex)
		})
	}
	var empty tcx.List
	assert.Equal(t, tcx.Next, empty.Run(frame()))
}

type fakeChain struct{ calls int }

func (c *fakeChain) Classify(*packet.Packet) classifier.Result {
	c.calls++
	return classifier.Result{Verdict: action.Verdict(2)}
}

// TestHookOrder checks that tcx runs first and the clsact chain only
// after TCX_NEXT, as sch_handle_ingress orders them.
func TestHookOrder(t *testing.T) {
	for _, tc := range []struct {
		ret      uint32
		chainRan bool
	}{
		{0xffffffff, true},
		{1, true},
		{0, false},
		{2, false},
		{7, false},
	} {
		chain := &fakeChain{}
		h := &tcx.Hook{Chain: chain}
		require.NoError(t, h.TCX.Attach(&retProg{id: 1, ret: tc.ret}, tcx.AttachOptions{}))
		res := h.Run(frame())
		assert.Equal(t, tc.chainRan, res.ChainRan, "ret %d", int32(tc.ret))
		assert.Equal(t, tc.chainRan, chain.calls == 1)
		if tc.chainRan {
			assert.Equal(t, action.Verdict(2), res.Chain.Verdict)
		}
	}
	h := &tcx.Hook{}
	assert.False(t, h.Run(frame()).ChainRan)
}

// TestAttachErrors is a table of mprog conflicts, each with the kernel's
// errno (the kernel differential covers them in sequences).
func TestAttachErrors(t *testing.T) {
	p := []*retProg{{id: 101}, {id: 102}, {id: 103}}
	known := func(id uint32) bool { return id >= 101 && id <= 103 }
	for _, tc := range []struct {
		name  string
		prog  int
		opts  tcx.AttachOptions
		errno syscall.Errno
	}{
		{"again", 0, tcx.AttachOptions{}, syscall.EEXIST},
		{"stale revision", 2, tcx.AttachOptions{ExpectedRevision: 1}, syscall.ESTALE},
		{"current revision", 2, tcx.AttachOptions{ExpectedRevision: 3}, 0},
		{"relative without before/after", 2, tcx.AttachOptions{Flags: tcx.FlagID, Relative: 101}, syscall.EINVAL},
		{"relative unknown", 2, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagID, Relative: 999}, syscall.ENOENT},
		{"relative not attached", 2, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagID, Relative: 103}, syscall.ENOENT},
		{"before and after disagree", 2, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagAfter | tcx.FlagID, Relative: 101}, syscall.ERANGE},
		{"before and after agree", 2, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagAfter}, syscall.ERANGE},
		{"replace not attached", 2, tcx.AttachOptions{Flags: tcx.FlagReplace}, syscall.EBADF},
		{"unknown flag", 2, tcx.AttachOptions{Flags: 1}, syscall.EINVAL},
		{"id zero", 2, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagID}, syscall.ENOENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tcx.List{Known: known}
			require.NoError(t, l.Attach(p[0], tcx.AttachOptions{}))
			require.NoError(t, l.Attach(p[1], tcx.AttachOptions{}))
			err := l.Attach(p[tc.prog], tc.opts)
			if tc.errno == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.errno)
		})
	}
}

// TestLinks checks link attach, query, detach and update.
func TestLinks(t *testing.T) {
	var l tcx.List
	a, b, c := &retProg{id: 201}, &retProg{id: 202}, &retProg{id: 203}
	k, err := l.AttachLink(a, tcx.AttachOptions{})
	require.NoError(t, err)
	require.NoError(t, l.Attach(b, tcx.AttachOptions{Flags: tcx.FlagBefore | tcx.FlagLink | tcx.FlagID, Relative: k.ID()}))
	q, err := l.Query()
	require.NoError(t, err)
	assert.Equal(t, tcx.QueryResult{Revision: 3, Programs: []tcx.Attached{{ProgramID: 202}, {ProgramID: 201, LinkID: k.ID()}}}, q)
	require.ErrorIs(t, l.Detach(a, tcx.AttachOptions{}), syscall.EBUSY)
	require.ErrorIs(t, k.Update(c, b), syscall.EPERM)
	require.NoError(t, k.Update(c, a))
	q, _ = l.Query()
	assert.Equal(t, uint32(203), q.Programs[1].ProgramID)
	assert.Equal(t, uint64(4), q.Revision)
	require.NoError(t, k.Detach())
	require.NoError(t, k.Detach())
	require.ErrorIs(t, k.Update(a, nil), syscall.ENOLINK)
	require.NoError(t, l.Detach(b, tcx.AttachOptions{}))
	q, _ = l.Query()
	assert.Equal(t, tcx.QueryResult{Revision: 1, Programs: []tcx.Attached{}}, q)
	require.ErrorIs(t, l.Detach(b, tcx.AttachOptions{}), syscall.ENOENT)
}

// TestRunAllocs proves the per-packet path allocates nothing.
func TestRunAllocs(t *testing.T) {
	var l tcx.List
	for i := range uint32(4) {
		require.NoError(t, l.Attach(&retProg{id: 300 + i, ret: 0xffffffff}, tcx.AttachOptions{}))
	}
	pkt := frame()
	assert.Zero(t, testing.AllocsPerRun(100, func() { l.Run(pkt) }))
	primary, _, err := tcx.NewNetkitPair(tcx.NetkitOptions{Mode: tcx.NetkitL2})
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { primary.Transmit(pkt) }))
}

// BenchmarkRun runs a list of four TCX_NEXT programs.
func BenchmarkRun(b *testing.B) {
	var l tcx.List
	for i := range uint32(4) {
		if err := l.Attach(&retProg{id: 400 + i, ret: 0xffffffff}, tcx.AttachOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	pkt := frame()
	b.ReportAllocs()
	for b.Loop() {
		l.Run(pkt)
	}
}

// FuzzListOps applies arbitrary attach and detach calls: the list must
// never panic, never hold a program twice or more than MaxPrograms, and
// its revision must move only on success.
func FuzzListOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x21, 0x32, 0x43, 0x94, 0xa5})
	progs := make([]*retProg, 8)
	for i := range progs {
		progs[i] = &retProg{id: uint32(500 + i)}
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		var l tcx.List
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i], ops[i+1]
			flags := uint32(op>>3) & 0x1f << 2 // replace, before, after, id, 0
			opts := tcx.AttachOptions{Flags: flags, Relative: 500 + uint32(arg>>4&7), Replace: progs[arg>>5&7], ExpectedRevision: uint64(arg & 3)}
			before, _ := l.Query()
			var err error
			switch op & 7 {
			case 0, 1, 2:
				err = l.Attach(progs[arg&7], opts)
			case 3, 4:
				err = l.Detach(progs[arg&7], opts)
			case 5:
				err = l.Detach(nil, opts)
			default:
				var k *tcx.Link
				k, err = l.AttachLink(progs[arg&7], opts)
				if err == nil && op&0x80 != 0 {
					require.NoError(t, k.Detach())
					before, _ = l.Query()
				}
			}
			after, _ := l.Query()
			if err != nil {
				var e syscall.Errno
				require.ErrorAs(t, err, &e)
				require.Equal(t, before, after)
			}
			seen := map[uint32]bool{}
			for _, a := range after.Programs {
				require.False(t, seen[a.ProgramID])
				seen[a.ProgramID] = true
			}
			require.LessOrEqual(t, len(after.Programs), tcx.MaxPrograms)
		}
	})
}
