package classifier

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
	"github.com/clsbpf/clsbpf/offload"
)

func TestActionsAdapter(t *testing.T) {
	table := action.NewTable(action.Config{})
	c := New(Config{Actions: NewActionParser(table)})
	match := opts{}.u32(uapi.TCA_BPF_CLASSID, 0x10010).u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops([4]uint32{0x06, 0, 0, 0xFFFFFFFF})) // ret #-1

	t.Run("classic_mode_runs_the_actions", func(t *testing.T) {
		acts := action.EncodeSpecs([]action.Spec{
			&action.Gact{Params: action.Params{Verdict: action.Pipe}},
			&action.Gact{Params: action.Params{Verdict: action.Shot}},
		})
		f, err := c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: opts(match).raw(uapi.TCA_BPF_ACT, acts)})
		require.NoError(t, err)
		res := c.Classify(newPacket(t))
		assert.Equal(t, Result{Verdict: action.Shot, ClassID: 0x10010, Filter: 1}, res)
		a := f.Actions().(*Actions)
		require.Equal(t, 2, a.Chain().Len())
		for _, x := range a.Chain().Actions() {
			assert.Equal(t, uint64(1), x.Stats().Packets)
		}
		assert.Equal(t, []offload.Action{{Kind: "gact", Index: 1, Verdict: int32(action.Pipe)}, {Kind: "gact", Index: 2, Verdict: int32(action.Shot)}}, a.OffloadActions())

		// The dump carries TCA_BPF_ACT with both actions.
		dump, err := c.Dump(1)
		require.NoError(t, err)
		var act []byte
		nlattr.Walk(dump[uapi.NLA_HDRLEN:], func(x nlattr.Attr) bool {
			if x.Type == uapi.TCA_BPF_ACT {
				act = x.Data
			}
			return true
		})
		assert.Equal(t, a.Chain().Dump(), act)
	})
	t.Run("replace_releases_the_old_actions", func(t *testing.T) {
		_, err := c.ChangeNetlink(Request{Handle: 1, Flags: Create, Options: opts(match)})
		require.NoError(t, err)
		assert.Empty(t, table.Actions("gact"), "the old filter's actions left the table")
	})
	t.Run("goto_chains", func(t *testing.T) {
		acts := action.EncodeSpecs([]action.Spec{&action.Gact{Params: action.Params{Verdict: gotoChainVerdict(4)}}})
		f, err := c.ChangeNetlink(Request{Handle: 2, Flags: Create, Options: opts(match).raw(uapi.TCA_BPF_ACT, acts)})
		require.NoError(t, err)
		assert.Equal(t, []uint32{4}, f.Actions().(*Actions).GotoChains())
		assert.Equal(t, []uint32{4}, gotoChains(f.Actions()))
	})
	t.Run("action_errors_keep_their_errno", func(t *testing.T) {
		bad := action.EncodeSpecs([]action.Spec{&action.Gact{Params: action.Params{Verdict: 9}}})
		e := requireErrno(t, second(c.ChangeNetlink(Request{Handle: 3, Flags: Create, Options: opts(match).raw(uapi.TCA_BPF_ACT, bad)})), syscall.EINVAL)
		assert.Equal(t, "TCA_BPF_ACT", e.Attr)
	})
	t.Run("legacy_police_dumps_as_tca_bpf_police", func(t *testing.T) {
		nest := action.EncodeSpec(&action.Police{Params: action.Params{Verdict: action.Shot}, Rate: action.RateSpec{Rate: 125000}, Burst: 100000})
		var police []byte
		nlattr.Walk(nest, func(x nlattr.Attr) bool {
			if x.Type == uapi.TCA_ACT_OPTIONS {
				police = x.Data
			}
			return true
		})
		require.NotNil(t, police)
		f, err := c.ChangeNetlink(Request{Handle: 4, Flags: Create, Options: opts(match).raw(uapi.TCA_BPF_POLICE, police)})
		require.NoError(t, err)
		b, err := f.Actions().(*Actions).AppendAttrs(nil)
		require.NoError(t, err)
		typ := uint16(b[2]) | uint16(b[3])<<8
		assert.Equal(t, uint16(uapi.TCA_BPF_POLICE), typ)
	})
	t.Run("hardware_counters_add_up", func(t *testing.T) {
		chain, err := table.NewChain([]action.Spec{&action.Gact{}}, action.FilterContext{})
		require.NoError(t, err)
		a := NewActions(chain)
		a.UpdateHWStats(offload.Counters{Bytes: 100, Packets: 2, LastUse: 7})
		a.UpdateHWStats(offload.Counters{Bytes: 50, Packets: 1, Drops: 1, LastUse: 5})
		assert.Equal(t, offload.Counters{Bytes: 150, Packets: 3, Drops: 1, LastUse: 7}, a.HWCounters())
		a.Release()
	})
}
