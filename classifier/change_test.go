package classifier

import (
	"encoding/hex"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
	"github.com/clsbpf/clsbpf/offload"
)

// specProgram is the 4-instruction classic program of the spec (§9.3):
// IPv4 → -1, else 0.
func specProgram() *fakeClassic {
	return &fakeClassic{
		insns: []bpf.RawInstruction{
			{Op: 0x28, K: 12},                   // ldh [12]
			{Op: 0x15, Jt: 0, Jf: 1, K: 0x0800}, // jeq #0x800, L2, L3
			{Op: 0x06, K: 0xFFFFFFFF},           // L2: ret #-1
			{Op: 0x06, K: 0},                    // L3: ret #0
		},
		run: func(*packet.Packet) uint32 { return 0 },
	}
}

func requireErrno(t *testing.T, err error, errno syscall.Errno) *Error {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, errno, "%v", err)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, errno, e.Errno)
	return e
}

// snapshotOf records the observable state of a chain: handles in order
// and their dumps.
func snapshotOf(t *testing.T, c *Chain) []string {
	t.Helper()
	var out []string
	for _, f := range c.Filters() {
		b, err := f.AppendOptions(nil)
		require.NoError(t, err)
		out = append(out, hex.EncodeToString(b))
	}
	return out
}

func TestChangeHandles(t *testing.T) {
	c := New(Config{})
	for want := uint32(1); want <= 3; want++ {
		f, err := c.Change(FilterSpec{Program: retK(0)}, Create|Excl)
		require.NoError(t, err)
		assert.Equal(t, want, f.Handle())
	}
	_, err := c.Delete(1)
	require.NoError(t, err)
	f, err := c.Change(FilterSpec{Program: retK(0)}, Create|Excl)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), f.Handle(), "a freed handle is reused at once")
	f, err = c.Change(FilterSpec{Program: retK(0)}, Create|Excl)
	require.NoError(t, err)
	assert.Equal(t, uint32(4), f.Handle())

	for _, h := range []uint32{0x7FFFFFFE, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFF, 5, 0x80000000} {
		_, err := c.Change(FilterSpec{Handle: h, Program: retK(0)}, Create|Excl)
		require.NoError(t, err, "explicit handle %#x", h)
	}
	f, err = c.Change(FilterSpec{Program: retK(0)}, Create|Excl)
	require.NoError(t, err)
	assert.Equal(t, uint32(6), f.Handle(), "auto allocation skips explicit handles")

	t.Run("missing_without_create", func(t *testing.T) {
		e := requireErrno(t, second(c.Change(FilterSpec{Handle: 77, Program: retK(0)}, 0)), syscall.ENOENT)
		assert.Equal(t, extackNeedCreate, e.Extack)
		requireErrno(t, second(c.Change(FilterSpec{Program: retK(0)}, Excl)), syscall.ENOENT)
	})
	t.Run("existing_with_excl", func(t *testing.T) {
		e := requireErrno(t, second(c.Change(FilterSpec{Handle: 5, Program: retK(0)}, Create|Excl)), syscall.EEXIST)
		assert.Equal(t, extackExists, e.Extack)
	})
	t.Run("change_and_replace_existing", func(t *testing.T) {
		_, err := c.Change(FilterSpec{Handle: 5, ClassID: 0x10001, Program: retK(0)}, 0)
		require.NoError(t, err)
		_, err = c.Change(FilterSpec{Handle: 5, ClassID: 0x10002, Program: retK(0)}, Create)
		require.NoError(t, err)
		f, ok := c.Get(5)
		require.True(t, ok)
		assert.Equal(t, uint32(0x10002), uint32(f.ClassID()))
	})
	t.Run("delete_missing", func(t *testing.T) {
		_, err := c.Delete(12345)
		e := requireErrno(t, err, syscall.ENOENT)
		assert.Equal(t, extackHandleNotFound, e.Extack)
		_, err = c.Delete(0)
		requireErrno(t, err, syscall.ENOENT)
	})
}

func second[T any](_ T, err error) error { return err }

func TestChangeSpecErrors(t *testing.T) {
	eb := &fakeEBPF{id: 3, run: func(*packet.Packet) uint32 { return 0 }}
	tests := []struct {
		name  string
		spec  FilterSpec
		errno syscall.Errno
		attr  string
	}{
		{"no_program", FilterSpec{}, syscall.EINVAL, ""},
		{"plain_program", FilterSpec{Program: plainProgram{}}, syscall.EINVAL, ""},
		{"typed_nil_program", FilterSpec{Program: (*fakeClassic)(nil)}, syscall.EINVAL, ""},
		{"gen_flags_both_skips", FilterSpec{Program: retK(0), Flags: 3}, syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
		{"gen_flags_in_hw", FilterSpec{Program: retK(0), Flags: 4}, syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
		{"gen_flags_not_in_hw", FilterSpec{Program: retK(0), Flags: 8}, syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
		{"gen_flags_verbose", FilterSpec{Program: retK(0), Flags: 16}, syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
		{"skip_sw_cannot_offload", FilterSpec{Program: retK(0), Flags: SkipSW}, syscall.EOPNOTSUPP, "TCA_BPF_FLAGS_GEN"},
		{"skip_sw_ebpf_cannot_offload", FilterSpec{Program: eb, Flags: SkipSW}, syscall.EOPNOTSUPP, "TCA_BPF_FLAGS_GEN"},
		{"no_instructions", FilterSpec{Program: &fakeClassic{}}, syscall.EINVAL, "TCA_BPF_OPS_LEN"},
		{"too_many_instructions", FilterSpec{Program: &fakeClassic{insns: make([]bpf.RawInstruction, 4097)}}, syscall.EINVAL, "TCA_BPF_OPS_LEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{})
			before := snapshotOf(t, c)
			e := requireErrno(t, second(c.Change(tt.spec, Create|Excl)), tt.errno)
			assert.Equal(t, tt.attr, e.Attr)
			assert.Equal(t, before, snapshotOf(t, c))
			f, err := c.Change(FilterSpec{Program: retK(0)}, Create|Excl)
			require.NoError(t, err)
			assert.Equal(t, uint32(1), f.Handle(), "the failed change left no handle taken")
		})
	}
	t.Run("skip_hw_ok", func(t *testing.T) {
		c := New(Config{})
		f, err := c.Change(FilterSpec{Program: retK(0), Flags: SkipHW}, Create)
		require.NoError(t, err)
		assert.Equal(t, SkipHW|NotInHW, f.Flags())
	})
	t.Run("replace_may_not_change_skip_flags", func(t *testing.T) {
		c := New(Config{})
		_, err := c.Change(FilterSpec{Handle: 1, ClassID: 0x10001, Program: retK(0)}, Create)
		require.NoError(t, err)
		before := snapshotOf(t, c)
		e := requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipHW}, Create)), syscall.EINVAL)
		assert.Equal(t, "TCA_BPF_FLAGS_GEN", e.Attr)
		assert.Equal(t, before, snapshotOf(t, c))
	})
}

type plainProgram struct{}

func (plainProgram) Run(*packet.Packet) uint32 { return 0 }

// opts builds a TCA_OPTIONS payload.
type opts []byte

func (o opts) u32(typ uint16, v uint32) opts { return nlattr.AppendUint32(o, typ, v) }
func (o opts) u16(typ uint16, v uint16) opts { return nlattr.AppendUint16(o, typ, v) }
func (o opts) raw(typ uint16, b []byte) opts { return nlattr.Append(o, typ, b) }
func (o opts) str(typ uint16, s string) opts { return nlattr.AppendString(o, typ, s) }

func TestChangeNetlinkErrors(t *testing.T) {
	ops := make([]byte, 8) // one instruction: the checker is not reached
	tests := []struct {
		name    string
		options []byte
		errno   syscall.Errno
		attr    string
	}{
		{"no_options", nil, syscall.EINVAL, "TCA_OPTIONS"},
		{"empty_options", opts{}, syscall.EINVAL, ""},
		{"ops_len_only", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1), syscall.EINVAL, ""},
		{"ops_only", opts{}.raw(uapi.TCA_BPF_OPS, ops), syscall.EINVAL, ""},
		{"ops_and_fd", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops).u32(uapi.TCA_BPF_FD, 3), syscall.EINVAL, ""},
		{"ops_len_short", opts{}.raw(uapi.TCA_BPF_OPS_LEN, []byte{1}), syscall.ERANGE, "TCA_BPF_OPS_LEN"},
		{"flags_short", opts{}.raw(uapi.TCA_BPF_FLAGS, []byte{1, 0}), syscall.ERANGE, "TCA_BPF_FLAGS"},
		{"classid_short", opts{}.raw(uapi.TCA_BPF_CLASSID, []byte{1, 0}), syscall.ERANGE, "TCA_BPF_CLASSID"},
		{"fd_short", opts{}.raw(uapi.TCA_BPF_FD, []byte{1, 0}), syscall.ERANGE, "TCA_BPF_FD"},
		{"ops_too_long", opts{}.raw(uapi.TCA_BPF_OPS, make([]byte, 32776)), syscall.ERANGE, "TCA_BPF_OPS"},
		{"name_without_nul", opts{}.raw(uapi.TCA_BPF_NAME, []byte("abc")), syscall.EINVAL, "TCA_BPF_NAME"},
		{"name_too_long", opts{}.str(uapi.TCA_BPF_NAME, strings.Repeat("n", 257)), syscall.EINVAL, "TCA_BPF_NAME"},
		{"ops_len_zero", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 0).raw(uapi.TCA_BPF_OPS, nil), syscall.EINVAL, "TCA_BPF_OPS_LEN"},
		{"ops_len_4097", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 4097).raw(uapi.TCA_BPF_OPS, ops), syscall.EINVAL, "TCA_BPF_OPS_LEN"},
		{"ops_len_mismatch", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 2).raw(uapi.TCA_BPF_OPS, ops), syscall.EINVAL, "TCA_BPF_OPS"},
		{"flags_unknown_bit", opts{}.u32(uapi.TCA_BPF_FLAGS, 2).u32(uapi.TCA_BPF_FD, 5), syscall.EINVAL, "TCA_BPF_FLAGS"},
		{"gen_flags_both", opts{}.u32(uapi.TCA_BPF_FLAGS_GEN, 3).u32(uapi.TCA_BPF_FD, 5), syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
		{"fd_unknown", opts{}.u32(uapi.TCA_BPF_FD, 99), syscall.EBADF, "TCA_BPF_FD"},
		{"fd_wrong_type", opts{}.u32(uapi.TCA_BPF_FD, 1000), syscall.EINVAL, "TCA_BPF_FD"},
		{"fd_skip_sw", opts{}.u32(uapi.TCA_BPF_FD, 5).u32(uapi.TCA_BPF_FLAGS_GEN, 2), syscall.EOPNOTSUPP, "TCA_BPF_FLAGS_GEN"},
		{"act_without_parser", opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_ACT, nil), syscall.EOPNOTSUPP, "TCA_BPF_ACT"},
		{"police_without_parser", opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_POLICE, []byte{1, 2, 3, 4}), syscall.EOPNOTSUPP, "TCA_BPF_ACT"},
		{"program_source_before_flags", opts{}.u32(uapi.TCA_BPF_FLAGS, 2), syscall.EINVAL, ""},
		{"flags_before_gen_flags", opts{}.u32(uapi.TCA_BPF_FLAGS_GEN, 3).u32(uapi.TCA_BPF_FLAGS, 2).u32(uapi.TCA_BPF_FD, 5), syscall.EINVAL, "TCA_BPF_FLAGS"},
		{"gen_flags_before_fd", opts{}.u32(uapi.TCA_BPF_FLAGS_GEN, 3).u32(uapi.TCA_BPF_FD, 99), syscall.EINVAL, "TCA_BPF_FLAGS_GEN"},
	}
	table := fakeTable{5: &fakeEBPF{id: 42, run: func(*packet.Packet) uint32 { return 0 }}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{Programs: table})
			e := requireErrno(t, second(c.ChangeNetlink(Request{Handle: 3, Flags: Create | Excl, Options: tt.options})), tt.errno)
			assert.Equal(t, tt.attr, e.Attr)
			assert.Zero(t, c.Len())
			require.NoError(t, c.allocator().Reserve(3), "handle 3 was released")
		})
	}
}

func TestChangeNetlinkEBPF(t *testing.T) {
	prog := &fakeEBPF{id: 503, tag: [8]byte{0x7c, 0x85, 0xc7, 0x75, 0x81, 0x17, 0x8c, 0xdb}, run: func(*packet.Packet) uint32 { return 0 }}
	c := New(Config{Programs: fakeTable{9: prog}})
	o := opts{}.u32(uapi.TCA_BPF_FD, 9).str(uapi.TCA_BPF_NAME, "probe.o:[classifier]").u32(uapi.TCA_BPF_FLAGS, 1)
	o = o.u32(0, 5).u32(12, 5).raw(uapi.TCA_BPF_TAG, []byte{1}).raw(uapi.TCA_BPF_ID, nil) // ignored
	f, err := c.ChangeNetlink(Request{Handle: 2, Flags: Create | Excl, Options: o})
	require.NoError(t, err)
	name, ok := f.Name()
	assert.True(t, ok)
	assert.Equal(t, "probe.o:[classifier]", name)
	got, err := c.Dump(2)
	require.NoError(t, err)
	// Spec §5.8, DA eBPF filter with NAME "probe.o:[classifier]".
	want := "44000200" + "19000700" + hex.EncodeToString([]byte("probe.o:[classifier]\x00")) + "000000" +
		"08000b00f7010000" + "0c000a007c85c77581178cdb" + "0800080001000000" + "0800090008000000"
	assert.Equal(t, want, hex.EncodeToString(got))

	// eBPF with SKIP_HW and CLASSID 1:30: CLASSID, ID, TAG, FLAGS_GEN 9.
	o = opts{}.u32(uapi.TCA_BPF_CLASSID, 0x10030).u32(uapi.TCA_BPF_FD, 9).u32(uapi.TCA_BPF_FLAGS_GEN, 1)
	_, err = c.ChangeNetlink(Request{Handle: 2, Flags: Create, Options: o})
	requireErrno(t, err, syscall.EINVAL) // skip flags may not change on replace
	_, err = c.ChangeNetlink(Request{Handle: 3, Flags: Create, Options: o})
	require.NoError(t, err)
	got, err = c.Dump(3)
	require.NoError(t, err)
	want = "28000200" + "0800030030000100" + "08000b00f7010000" + "0c000a007c85c77581178cdb" + "0800090009000000"
	assert.Equal(t, want, hex.EncodeToString(got))
}

func TestDumpClassic(t *testing.T) {
	c := New(Config{})
	_, err := c.Change(FilterSpec{Handle: 1, ClassID: 0x10010, Program: specProgram(), Name: "dropped"}, Create|Excl)
	require.NoError(t, err)
	got, err := c.Dump(1)
	require.NoError(t, err)
	// Spec §5.8, verified on Linux 6.18: a classic filter never dumps NAME.
	want := "40000200" + "0800030010000100" + "0600040004000000" +
		"24000500280000000c000000150000010008000006000000ffffffff0600000000000000" + "0800090008000000"
	assert.Equal(t, want, hex.EncodeToString(got))
	_, err = c.Dump(2)
	requireErrno(t, err, syscall.ENOENT)
}

func TestChangeActions(t *testing.T) {
	parser := &fakeParser{}
	c := New(Config{Programs: fakeTable{5: setClassID(0, action.Unspec)}, Actions: parser})
	o := opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_ACT, []byte{byte(action.Shot)})
	_, err := c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: o})
	require.NoError(t, err)
	res := c.Classify(newPacket(t))
	assert.Equal(t, action.Shot, res.Verdict)

	// A later failure releases the actions built for the failed change.
	o = opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_ACT, []byte{0}).u32(uapi.TCA_BPF_FLAGS, 4)
	_, err = c.ChangeNetlink(Request{Handle: 2, Flags: Create, Options: o})
	requireErrno(t, err, syscall.EINVAL)
	require.Len(t, parser.built, 2)
	assert.Equal(t, int64(1), parser.built[1].released.Load())
	assert.Zero(t, parser.built[0].released.Load())

	// Action parser errors keep their errno.
	o = opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_ACT, nil)
	_, err = c.ChangeNetlink(Request{Handle: 2, Flags: Create, Options: o})
	requireErrno(t, err, syscall.EINVAL)

	// Replacing releases the old filter's actions; deleting the new ones.
	o = opts{}.u32(uapi.TCA_BPF_FD, 5).raw(uapi.TCA_BPF_ACT, []byte{0})
	_, err = c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: o})
	require.NoError(t, err)
	assert.Equal(t, int64(1), parser.built[0].released.Load())
	_, err = c.Delete(1)
	require.NoError(t, err)
	assert.Equal(t, int64(1), parser.built[len(parser.built)-1].released.Load())
}

func TestOffload(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		hw, recs := fakeOffload(2, nil)
		c := New(Config{Offload: hw})
		f, err := c.Change(FilterSpec{Handle: 1, Program: retK(0)}, Create)
		require.NoError(t, err)
		assert.Equal(t, InHW, f.Flags())
		assert.Equal(t, 2, f.InHWCount())
		_, err = c.Change(FilterSpec{Handle: 1, Program: retK(1)}, Create)
		require.NoError(t, err)
		_, err = c.Delete(1)
		require.NoError(t, err)
		for _, r := range recs {
			assert.Equal(t, []offload.Command{offload.Add, offload.Replace, offload.Destroy}, r.commands())
			assert.Equal(t, uint32(1), r.reqs[1].Prog.Classic[0].K, "replace carries the new program")
			assert.Equal(t, uint32(0), r.reqs[1].OldProg.Classic[0].K, "and the old one")
		}
	})
	t.Run("driver_error_tolerated_without_skip_sw", func(t *testing.T) {
		hw, _ := fakeOffload(1, syscall.EIO)
		c := New(Config{Offload: hw})
		f, err := c.Change(FilterSpec{Program: retK(0)}, Create)
		require.NoError(t, err)
		assert.Equal(t, NotInHW, f.Flags())
	})
	t.Run("driver_error_with_skip_sw", func(t *testing.T) {
		hw, recs := fakeOffload(1, syscall.EIO)
		c := New(Config{Offload: hw})
		requireErrno(t, second(c.Change(FilterSpec{Program: retK(0), Flags: SkipSW}, Create)), syscall.EIO)
		assert.Zero(t, c.Len())
		assert.Equal(t, []offload.Command{offload.Add, offload.Destroy}, recs[0].commands(), "rolled back")
	})
	t.Run("skip_sw_not_taken", func(t *testing.T) {
		c := New(Config{Offload: offload.NewBlock()})
		requireErrno(t, second(c.Change(FilterSpec{Program: retK(0), Flags: SkipSW}, Create)), syscall.EINVAL)
	})
	t.Run("skip_hw_destroyed_anyway", func(t *testing.T) {
		hw, recs := fakeOffload(1, nil)
		c := New(Config{Offload: hw})
		_, err := c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipHW}, Create)
		require.NoError(t, err)
		_, err = c.Delete(1)
		require.NoError(t, err)
		assert.Equal(t, []offload.Command{offload.Destroy}, recs[0].commands(), "cls_bpf_stop_offload ignores the flags")
	})
}

func TestWalk(t *testing.T) {
	c := New(Config{})
	for h := uint32(1); h <= 5; h++ {
		add(t, c, FilterSpec{Handle: h, Program: retK(0)})
	}
	var seen []uint32
	w := &Walker{Skip: 1, Fn: func(f *Filter) int {
		if f.Handle() == 2 {
			return -1
		}
		seen = append(seen, f.Handle())
		return 0
	}}
	c.Walk(w)
	assert.Equal(t, []uint32{4, 3}, seen)
	assert.True(t, w.Stop)
	assert.Equal(t, 3, w.Count, "the skipped entry counts, the stopping one does not")

	// Resume as a dump does: skip what was emitted.
	seen = nil
	w2 := &Walker{Skip: w.Count, Fn: func(f *Filter) int { seen = append(seen, f.Handle()); return 0 }}
	c.Walk(w2)
	assert.Equal(t, []uint32{2, 1}, seen)
	assert.False(t, w2.Stop)
	assert.Equal(t, 5, w2.Count)
}

func TestDeleteDestroy(t *testing.T) {
	a := &fakeActions{}
	c := New(Config{})
	add(t, c, FilterSpec{Handle: 1, Program: retK(0), Actions: a}, FilterSpec{Handle: 2, Program: retK(0)})
	last, err := c.Delete(2)
	require.NoError(t, err)
	assert.False(t, last)
	assert.False(t, c.Destroy(false), "a non-forced destroy refuses a non-empty chain")
	assert.Equal(t, 1, c.Len())
	assert.True(t, c.Destroy(true))
	assert.Zero(t, c.Len())
	assert.Equal(t, int64(1), a.released.Load())
	assert.True(t, c.Destroy(false))
	f, err := c.Change(FilterSpec{Program: retK(0)}, Create)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), f.Handle(), "numbering restarts")
	last, err = c.Delete(1)
	require.NoError(t, err)
	assert.True(t, last)
}

func TestZeroChain(t *testing.T) {
	var c Chain
	assert.Equal(t, action.Unspec, c.Classify(newPacket(t)).Verdict)
	f, err := c.Change(FilterSpec{Program: retK(0xFFFFFFFF), ClassID: 0x10001}, Create)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), f.Handle())
	assert.Equal(t, action.OK, c.Classify(newPacket(t)).Verdict)
}

func TestChangeNetlinkClassic(t *testing.T) {
	ops, err := hex.DecodeString("280000000c000000150000010008000006000000ffffffff0600000000000000")
	require.NoError(t, err)
	c := New(Config{})
	o := opts{}.u32(uapi.TCA_BPF_CLASSID, 0x10010).u16(uapi.TCA_BPF_OPS_LEN, 4).raw(uapi.TCA_BPF_OPS, ops).str(uapi.TCA_BPF_NAME, "not kept")
	f, err := c.ChangeNetlink(Request{Handle: 1, Flags: Create | Excl, Options: o})
	require.NoError(t, err)
	assert.True(t, f.Classic())
	_, hasName := f.Name()
	assert.False(t, hasName)
	got, err := c.Dump(1)
	require.NoError(t, err)
	want := "40000200" + "0800030010000100" + "0600040004000000" + "24000500" + hex.EncodeToString(ops) + "0800090008000000"
	assert.Equal(t, want, hex.EncodeToString(got))

	res := c.Classify(newPacket(t)) // IPv4 → -1 → the filter's classid
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}, res)

	t.Run("checker_refuses", func(t *testing.T) {
		bad := append([]byte(nil), ops...)
		bad[24] = 0x28 // last instruction no longer a return
		o := opts{}.u16(uapi.TCA_BPF_OPS_LEN, 4).raw(uapi.TCA_BPF_OPS, bad)
		e := requireErrno(t, second(c.ChangeNetlink(Request{Handle: 2, Flags: Create | Excl, Options: o})), syscall.EINVAL)
		assert.Equal(t, "TCA_BPF_OPS", e.Attr)
		assert.NotNil(t, e.Err)
		assert.Equal(t, 1, c.Len())
	})
	t.Run("ops_len_u16_from_longer_payload", func(t *testing.T) {
		o := opts{}.raw(uapi.TCA_BPF_OPS_LEN, []byte{4, 0, 0xFF, 0xFF}).raw(uapi.TCA_BPF_OPS, ops)
		_, err := c.ChangeNetlink(Request{Handle: 3, Flags: Create | Excl, Options: o})
		require.NoError(t, err)
	})
}

func TestErrorText(t *testing.T) {
	c := New(Config{Programs: fakeTable{}})
	_, err := c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: opts{}.u32(uapi.TCA_BPF_FD, 99)})
	assert.EqualError(t, err, "classifier: change: TCA_BPF_FD: program fd 99: fd 99: bad file descriptor")
	_, err = c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: opts{}.u32(uapi.TCA_BPF_FLAGS, 2)})
	assert.EqualError(t, err, "classifier: change: need exactly one program source, got neither TCA_BPF_OPS_LEN with TCA_BPF_OPS nor TCA_BPF_FD: invalid argument")
	_, err = c.Delete(3)
	assert.EqualError(t, err, "classifier: delete: no filter with handle 0x3: no such file or directory")
}
