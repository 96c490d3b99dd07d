package classifier

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// placed is one filter of a test block.
type placed struct {
	w    Where
	spec FilterSpec
}

func newTestBlock(t testing.TB, filters ...placed) *Block {
	t.Helper()
	b := NewBlock(BlockConfig{})
	for _, p := range filters {
		_, _, err := b.Change(p.w, p.spec, Create|Excl)
		require.NoError(t, err)
	}
	return b
}

// counted is a classic program returning k that counts its runs.
func counted(k uint32, runs *int) *fakeClassic {
	return &fakeClassic{insns: retK(k).insns, run: func(*packet.Packet) uint32 { *runs++; return k }}
}

// withVerdict is a classic filter that matches (ret #-1) and whose action
// chain returns v.
func withVerdict(classID handle.Handle, v action.Verdict, runs *int) FilterSpec {
	return FilterSpec{Handle: 1, ClassID: classID, Program: counted(0xFFFFFFFF, runs), Actions: &fakeActions{verdict: v}}
}

func TestBlockClassify(t *testing.T) {
	all, ip, ip6 := uint16(ProtocolAll), uint16(uapi.ETH_P_IP), uint16(uapi.ETH_P_IPV6)
	var runs [8]int
	tests := []struct {
		name    string
		filters []placed
		vlan    uint16 // an offloaded VLAN tag with this TPID
		want    Result
		runs    [8]int
	}{{
		name: "empty_block_unspec",
		want: Result{Verdict: action.Unspec},
	}, {
		name: "priority_order",
		filters: []placed{
			{Where{0, 20, all}, withVerdict(0x10020, action.OK, &runs[1])},
			{Where{0, 10, all}, withVerdict(0x10010, action.OK, &runs[0])},
		},
		want: Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1},
		runs: [8]int{1, 0},
	}, {
		name: "protocol_mismatch_skipped",
		filters: []placed{
			{Where{0, 10, ip6}, withVerdict(0x10010, action.OK, &runs[0])},
			{Where{0, 20, ip}, withVerdict(0x10020, action.OK, &runs[1])},
		},
		want: Result{Verdict: action.OK, ClassID: 0x10020, Filter: 1},
		runs: [8]int{0, 1},
	}, {
		name: "accelerated_vlan_tpid_is_the_protocol",
		filters: []placed{
			{Where{0, 10, ip}, withVerdict(0x10010, action.OK, &runs[0])},
			{Where{0, 20, uapi.ETH_P_8021Q}, withVerdict(0x10020, action.OK, &runs[1])},
		},
		vlan: uapi.ETH_P_8021Q,
		want: Result{Verdict: action.OK, ClassID: 0x10020, Filter: 1},
		runs: [8]int{0, 1},
	}, {
		name: "negative_verdict_goes_on",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, action.Unspec, &runs[0])},
			{Where{0, 20, all}, withVerdict(0x10020, action.Shot, &runs[1])},
		},
		want: Result{Verdict: action.Shot, ClassID: 0x10020, Filter: 1},
		runs: [8]int{1, 1},
	}, {
		name: "exhausted_unspec_keeps_last_class",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, action.Unspec, &runs[0])},
			{Where{0, 20, all}, FilterSpec{Handle: 1, Program: counted(0, &runs[1])}},
		},
		want: Result{Verdict: action.Unspec, ClassID: 0x10010, Filter: 1},
		runs: [8]int{1, 1},
	}, {
		name: "goto_chain_first_classifier",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, gotoChainVerdict(3), &runs[0])},
			{Where{0, 20, all}, withVerdict(0x10020, action.OK, &runs[1])},
			{Where{3, 5, all}, withVerdict(0x30005, action.Unspec, &runs[2])},
			{Where{3, 7, all}, withVerdict(0x30007, action.OK, &runs[3])},
		},
		want: Result{Verdict: action.OK, ClassID: 0x30007, Filter: 1},
		runs: [8]int{1, 0, 1, 1},
	}, {
		name: "goto_missing_chain_unspec",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, gotoChainVerdict(9), &runs[0])},
			{Where{0, 20, all}, withVerdict(0x10020, action.OK, &runs[1])},
		},
		want: Result{Verdict: action.Unspec, ClassID: 0x10010, Filter: 1},
		runs: [8]int{1, 0},
	}, {
		name: "goto_chain_loop_limit_shot",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, gotoChainVerdict(1), &runs[0])},
			{Where{1, 10, all}, withVerdict(0x10011, gotoChainVerdict(0), &runs[1])},
		},
		want: Result{Verdict: action.Shot, ClassID: 0x10010, Filter: 1},
		runs: [8]int{9, 8},
	}, {
		name: "reclassify_restarts_at_chain_0_until_the_limit",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, action.Unspec, &runs[0])},
			{Where{0, 20, all}, withVerdict(0x10020, action.Reclassify, &runs[1])},
		},
		want: Result{Verdict: action.Shot, ClassID: 0x10020, Filter: 1},
		runs: [8]int{MaxReclassify + 1, MaxReclassify + 1},
	}, {
		name: "reclassify_from_another_chain_restarts_at_chain_0",
		filters: []placed{
			{Where{0, 10, all}, withVerdict(0x10010, gotoChainVerdict(2), &runs[0])},
			{Where{2, 10, all}, withVerdict(0x20010, action.Reclassify, &runs[1])},
		},
		// The 17th restart is chain 0's goto: the 9th run of its filter.
		want: Result{Verdict: action.Shot, ClassID: 0x10010, Filter: 1},
		runs: [8]int{9, 8},
	}, {
		name: "direct_action_goto_is_unspec",
		filters: []placed{
			{Where{0, 10, all}, FilterSpec{Handle: 1, DirectAction: true, Program: counted(uint32(gotoChainVerdict(1)), &runs[0])}},
			{Where{1, 10, all}, withVerdict(0x10010, action.OK, &runs[1])},
		},
		want: Result{Verdict: action.Unspec, Filter: 1},
		runs: [8]int{1, 0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs = [8]int{}
			b := newTestBlock(t, tt.filters...)
			runs = [8]int{}
			pkt := newPacket(t)
			if tt.vlan != 0 {
				pkt.VLANPresent, pkt.VLANProto, pkt.VLANTCI = true, tt.vlan, 5
			}
			assert.Equal(t, tt.want, b.Classify(pkt))
			assert.Equal(t, tt.runs, runs)
		})
	}
}

func gotoChainVerdict(n uint32) action.Verdict {
	v, err := action.GotoChain(n)
	if err != nil {
		panic(err)
	}
	return v
}

func TestBlockChangeRules(t *testing.T) {
	prog := FilterSpec{Program: retK(0)}
	t.Run("auto_priority", func(t *testing.T) {
		b := NewBlock(BlockConfig{})
		for _, want := range []uint16{49152, 49151, 49150} {
			w, _, err := b.Change(Where{Protocol: ProtocolAll}, prog, Create)
			require.NoError(t, err)
			assert.Equal(t, want, w.Prio)
		}
		_, _, err := b.Change(Where{Prio: 0x8000, Protocol: ProtocolAll}, prog, Create)
		require.NoError(t, err)
		e := requireErrno(t, second2(b.Change(Where{Protocol: ProtocolAll}, prog, Create)), syscall.ENOSPC)
		assert.Equal(t, extackAutoPrioInUse, e.Extack)
		w, _, err := b.Change(Where{Chain: 4, Protocol: ProtocolAll}, prog, Create)
		require.NoError(t, err)
		assert.Equal(t, Where{Chain: 4, Prio: 49152, Protocol: ProtocolAll}, w, "each chain allocates on its own")
	})
	t.Run("auto_priority_below_explicit_high_ones", func(t *testing.T) {
		b := NewBlock(BlockConfig{})
		_, _, err := b.Change(Where{Prio: 60000, Protocol: ProtocolAll}, prog, Create)
		require.NoError(t, err)
		w, _, err := b.Change(Where{Protocol: ProtocolAll}, prog, Create)
		require.NoError(t, err)
		assert.Equal(t, uint16(59999), w.Prio)
	})
	errs := []struct {
		name   string
		w      Where
		flags  ChangeFlags
		setup  bool // a classifier at prio 10 for IPv4 with handle 1 exists
		errno  syscall.Errno
		extack string
	}{
		{"prio_zero_without_create", Where{Protocol: ProtocolAll}, 0, false, syscall.ENOENT, extackPrioZero},
		{"chain_over_limit", Where{Chain: MaxChain + 1, Prio: 1, Protocol: ProtocolAll}, Create, false, syscall.EINVAL, extackChainLimit},
		{"protocol_mismatch", Where{Prio: 10, Protocol: uapi.ETH_P_IPV6}, Create, true, syscall.EINVAL, extackProtoMismatch},
		{"new_classifier_needs_protocol", Where{Prio: 11}, Create, false, syscall.EINVAL, extackKindAndProto},
		{"new_classifier_needs_create", Where{Prio: 11, Protocol: ProtocolAll}, 0, false, syscall.ENOENT, extackNeedCreate},
		{"existing_handle_excl", Where{Prio: 10}, Create | Excl, true, syscall.EEXIST, extackExists},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlock(BlockConfig{})
			if tt.setup {
				_, _, err := b.Change(Where{Prio: 10, Protocol: uapi.ETH_P_IP}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
				require.NoError(t, err)
			}
			before := b.Chains()
			e := requireErrno(t, second2(b.Change(tt.w, FilterSpec{Handle: 1, Program: retK(1)}, tt.flags)), tt.errno)
			assert.Equal(t, tt.extack, e.Extack)
			assert.Equal(t, before, b.Chains(), "a failed change leaves the chains as they were")
		})
	}
	t.Run("failed_first_change_removes_new_classifier", func(t *testing.T) {
		b := NewBlock(BlockConfig{})
		requireErrno(t, second2(b.Change(Where{Chain: 2, Prio: 5, Protocol: ProtocolAll}, FilterSpec{}, Create)), syscall.EINVAL)
		assert.Empty(t, b.Chains())
		assert.Empty(t, b.Protos(2))
	})
}

func second2[A, B any](_ A, _ B, err error) error { return err }

func TestBlockDeleteGet(t *testing.T) {
	setup := func(t *testing.T) *Block {
		b := NewBlock(BlockConfig{})
		for _, w := range []Where{{0, 10, ProtocolAll}, {0, 20, uapi.ETH_P_IP}, {1, 10, ProtocolAll}} {
			for h := uint32(1); h <= 2; h++ {
				_, _, err := b.Change(w, FilterSpec{Handle: h, Program: retK(h)}, Create|Excl)
				require.NoError(t, err)
			}
		}
		return b
	}
	dels := []struct {
		name   string
		w      Where
		h      uint32
		errno  syscall.Errno
		extack string
		chains []uint32
		protos int // classifiers left in chain 0
	}{
		{"flush_with_fields", Where{Protocol: ProtocolAll}, 0, syscall.ENOENT, extackFlushWithFields, []uint32{0, 1}, 2},
		{"flush_chain", Where{}, 0, 0, "", []uint32{1}, 0},
		{"flush_missing_chain_is_fine", Where{Chain: 7}, 0, 0, "", []uint32{0, 1}, 2},
		{"missing_chain", Where{Chain: 7, Prio: 10}, 1, syscall.ENOENT, extackNoChain, []uint32{0, 1}, 2},
		{"missing_classifier", Where{Prio: 15}, 1, syscall.ENOENT, extackNoProto, []uint32{0, 1}, 2},
		{"protocol_mismatch", Where{Prio: 20, Protocol: uapi.ETH_P_IPV6}, 1, syscall.EINVAL, extackProtoMismatch, []uint32{0, 1}, 2},
		{"missing_handle", Where{Prio: 10}, 9, syscall.ENOENT, extackHandleNotFound, []uint32{0, 1}, 2},
		{"whole_classifier", Where{Prio: 10}, 0, 0, "", []uint32{0, 1}, 1},
		{"one_filter", Where{Prio: 10}, 1, 0, "", []uint32{0, 1}, 2},
		{"chain_over_limit", Where{Chain: MaxChain + 1, Prio: 1}, 1, syscall.EINVAL, extackChainLimit, []uint32{0, 1}, 2},
	}
	for _, tt := range dels {
		t.Run("delete_"+tt.name, func(t *testing.T) {
			b := setup(t)
			err := b.Delete(tt.w, tt.h)
			if tt.errno == 0 {
				require.NoError(t, err)
			} else {
				assert.Equal(t, tt.extack, requireErrno(t, err, tt.errno).Extack)
			}
			assert.Equal(t, tt.chains, b.Chains())
			assert.Len(t, b.Protos(0), tt.protos)
		})
	}
	t.Run("delete_last_filter_removes_classifier", func(t *testing.T) {
		b := setup(t)
		require.NoError(t, b.Delete(Where{Chain: 1, Prio: 10}, 1))
		require.NoError(t, b.Delete(Where{Chain: 1, Prio: 10}, 2))
		assert.Equal(t, []uint32{0}, b.Chains())
	})
	gets := []struct {
		name   string
		w      Where
		h      uint32
		errno  syscall.Errno
		extack string
	}{
		{"prio_zero", Where{}, 1, syscall.ENOENT, extackPrioZero},
		{"missing_chain", Where{Chain: 7, Prio: 10}, 1, syscall.EINVAL, extackNoChain},
		{"missing_classifier", Where{Prio: 15}, 1, syscall.ENOENT, extackNoProto},
		{"missing_handle", Where{Prio: 10}, 3, syscall.ENOENT, extackHandleNotFound},
		{"found", Where{Chain: 1, Prio: 10, Protocol: ProtocolAll}, 2, 0, ""},
	}
	for _, tt := range gets {
		t.Run("get_"+tt.name, func(t *testing.T) {
			f, err := setup(t).Get(tt.w, tt.h)
			if tt.errno == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.h, f.Handle())
				return
			}
			assert.Equal(t, tt.extack, requireErrno(t, err, tt.errno).Extack)
		})
	}
}

func TestBlockChainOrder(t *testing.T) {
	// Chains dump in creation order; a chain that went away and came back
	// goes to the end.
	b := NewBlock(BlockConfig{})
	for _, c := range []uint32{5, 1, 0} {
		_, _, err := b.Change(Where{Chain: c, Prio: 1, Protocol: ProtocolAll}, FilterSpec{Program: retK(0)}, Create)
		require.NoError(t, err)
	}
	assert.Equal(t, []uint32{5, 1, 0}, b.Chains())
	require.NoError(t, b.Delete(Where{Chain: 5}, 0))
	_, _, err := b.Change(Where{Chain: 5, Prio: 1, Protocol: ProtocolAll}, FilterSpec{Program: retK(0)}, Create)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 0, 5}, b.Chains())
}

func TestBlockNetlinkErrors(t *testing.T) {
	opt := nlattr.Append(nil, uapi.TCA_OPTIONS, opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops([4]uint32{0x06, 0, 0, 0})))
	kind := func(s string) []byte { return nlattr.Append(nil, uapi.TCA_KIND, []byte(s)) }
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name   string
		typ    uint16
		info   uint32
		attrs  []byte
		errno  syscall.Errno
		extack string
	}{
		{"kind_too_long", uapi.RTM_NEWTFILTER, Info(10, ProtocolAll), cat(kind("abcdefghijklmnop"), opt), syscall.EINVAL, extackKindTooLong},
		{"kind_15_chars_unknown", uapi.RTM_NEWTFILTER, Info(10, ProtocolAll), cat(kind("abcdefghijklmno\x00"), opt), syscall.ENOENT, extackNoClassifier},
		{"kind_missing_for_new", uapi.RTM_NEWTFILTER, Info(10, ProtocolAll), opt, syscall.EINVAL, extackKindAndProto},
		{"kind_mismatch", uapi.RTM_NEWTFILTER, Info(1, ProtocolAll), cat(kind("u32\x00"), opt), syscall.EINVAL, extackKindMismatch},
		{"kind_with_trailing_nuls_matches", uapi.RTM_NEWTFILTER, Info(1, ProtocolAll), cat(kind("bpf\x00\x00\x00"), opt), 0, ""},
		{"short_chain", uapi.RTM_NEWTFILTER, Info(1, ProtocolAll), cat(nlattr.Append(nil, uapi.TCA_CHAIN, []byte{1, 0}), kind("bpf\x00"), opt), syscall.ERANGE, extackPolicy},
		{"delete_kind_mismatch", uapi.RTM_DELTFILTER, Info(1, ProtocolAll), kind("u32\x00"), syscall.EINVAL, extackKindMismatch},
		{"get_kind_too_long", uapi.RTM_GETTFILTER, Info(1, ProtocolAll), kind("abcdefghijklmnopq\x00"), syscall.EINVAL, extackKindTooLong},
		{"not_a_filter_request", uapi.RTM_NEWCHAIN, 0, nil, syscall.EOPNOTSUPP, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBlock(BlockConfig{Parent: 0xFFFFFFF2})
			_, _, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
			require.NoError(t, err)
			_, err = b.Request(Message{Type: tt.typ, Flags: uapi.NLM_F_CREATE, TCMsg: TCMsg{Handle: 1, Info: tt.info}, Attrs: tt.attrs})
			if tt.errno == 0 {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.extack, requireErrno(t, err, tt.errno).Extack)
		})
	}
	t.Run("short_message", func(t *testing.T) {
		_, err := ParseMessage(uapi.RTM_NEWTFILTER, 0, make([]byte, 19))
		requireErrno(t, err, syscall.EINVAL)
	})
	t.Run("round_trip", func(t *testing.T) {
		m := Message{Type: uapi.RTM_NEWTFILTER, Flags: 5, TCMsg: TCMsg{Ifindex: 3, Handle: 7, Parent: 0xFFFFFFF2, Info: Info(10, uapi.ETH_P_IP)}, Attrs: kind("bpf\x00")}
		got, err := ParseMessage(m.Type, m.Flags, m.Body())
		require.NoError(t, err)
		assert.Equal(t, m, got)
		assert.Equal(t, Where{Chain: 4, Prio: 10, Protocol: uapi.ETH_P_IP}, got.TCMsg.Where(4))
	})
}

func TestBlockDumpFormat(t *testing.T) {
	b := NewBlock(BlockConfig{Ifindex: 3, Parent: 0xFFFFFFF2})
	_, _, err := b.Change(Where{Chain: 2, Prio: 10, Protocol: uapi.ETH_P_IP}, FilterSpec{Handle: 1, ClassID: 0x10010, Program: specProgram()}, Create)
	require.NoError(t, err)
	msgs, err := b.Dump(Message{})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	for i, m := range msgs {
		assert.Equal(t, uint16(uapi.RTM_NEWTFILTER), m.Type)
		assert.Equal(t, uint16(uapi.NLM_F_MULTI), m.Flags)
		assert.Equal(t, TCMsg{Ifindex: 3, Handle: uint32(i), Parent: 0xFFFFFFF2, Info: 0x000A0008}, m.TCMsg)
	}
	// The header carries TCA_KIND "bpf" and TCA_CHAIN 2 only.
	assert.Equal(t, "08000100627066000800"+"0b0002000000", hexOf(msgs[0].Attrs))
	// The filter adds cls_bpf's TCA_OPTIONS, as the spec's bytes show.
	assert.Equal(t, "08000100627066000800"+"0b0002000000"+
		"40000200"+"0800030010000100"+"0600040004000000"+"24000500280000000c000000150000010008000006000000ffffffff0600000000000000"+"0800090008000000",
		hexOf(msgs[1].Attrs))
	for _, filter := range []struct {
		m    Message
		want int
	}{
		{Message{Attrs: nlattr.AppendUint32(nil, uapi.TCA_CHAIN, 1)}, 0},
		{Message{TCMsg: TCMsg{Info: Info(11, 0)}}, 0},
		{Message{TCMsg: TCMsg{Info: Info(10, uapi.ETH_P_IPV6)}}, 0},
		{Message{TCMsg: TCMsg{Info: Info(10, uapi.ETH_P_IP)}}, 2},
	} {
		msgs, err := b.Dump(filter.m)
		require.NoError(t, err)
		assert.Len(t, msgs, filter.want)
	}
	shared := NewBlock(BlockConfig{Index: 22})
	_, _, err = shared.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Program: retK(0)}, Create)
	require.NoError(t, err)
	msgs, err = shared.Dump(Message{})
	require.NoError(t, err)
	assert.Equal(t, int32(-1), msgs[0].TCMsg.Ifindex, "TCM_IFINDEX_MAGIC_BLOCK")
	assert.Equal(t, uint32(22), msgs[0].TCMsg.Parent, "tcm_block_index")
}

func TestBlockBindClass(t *testing.T) {
	classes := &fakeClasses{classes: map[handle.Handle]bool{0x10010: true}, bound: map[handle.Handle]int{}}
	b := NewBlock(BlockConfig{Config: Config{Classes: classes}})
	for _, w := range []Where{{0, 1, ProtocolAll}, {3, 1, ProtocolAll}} {
		_, _, err := b.Change(w, FilterSpec{Handle: 1, ClassID: 0x10010, Program: retK(0xFFFFFFFF)}, Create)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, classes.bound[0x10010])
	b.BindClass(0x10010, 0)
	for _, c := range []uint32{0, 3} {
		f, err := b.Get(Where{Chain: c, Prio: 1}, 1)
		require.NoError(t, err)
		assert.Zero(t, f.Class())
	}
	b.BindClass(0x10010, 77)
	f, err := b.Get(Where{Chain: 3, Prio: 1}, 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(77), f.Class())
}

func TestBlockZeroValue(t *testing.T) {
	var b Block
	assert.Equal(t, Result{Verdict: action.Unspec}, b.Classify(newPacket(t)))
	_, _, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0xFFFFFFFF)}, Create)
	require.NoError(t, err)
	assert.Equal(t, action.OK, b.Classify(newPacket(t)).Verdict)
	requireErrno(t, b.Bind(nic("nic0", 1, accepting())), syscall.EOPNOTSUPP)
}
