package classifier

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

func nic(name string, ifindex uint32, o offload.Offloader) *offload.Device {
	return &offload.Device{Name: name, Ifindex: ifindex, HWTC: true, Offloader: o}
}

// accepting is a driver that takes everything, declaring soft's
// capabilities.
func accepting() *offload.Faulty { return &offload.Faulty{Caps: soft.Capabilities(nil, nil)} }

// TestOffloadMatrix has one case per row of the kernel's offload decision
// and error matrix (cls_bpf_offload, cls_bpf_offload_cmd, tc_setup_cb_*).
func TestOffloadMatrix(t *testing.T) {
	type state struct {
		flags uint32
		count int
	}
	filterState := func(c *Chain, h uint32) state {
		f, ok := c.Get(h)
		if !ok {
			return state{}
		}
		return state{f.Flags(), f.InHWCount()}
	}
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"skip_flags_of_a_replaced_filter_may_not_change", func(t *testing.T) {
			d := accepting()
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0)})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(1), Flags: SkipHW}, Create)), syscall.EINVAL)
			assert.Equal(t, []offload.Command{offload.Add}, d.Calls(), "refused before any driver call")
			assert.Equal(t, state{InHW, 1}, filterState(c, 1), "old filter untouched")
		}},
		{"skip_hw_old_and_new_no_call", func(t *testing.T) {
			d := accepting()
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0), Flags: SkipHW})
			_, err := c.Change(FilterSpec{Handle: 1, Program: retK(1), Flags: SkipHW}, Create)
			require.NoError(t, err)
			assert.Empty(t, d.Calls())
			assert.Equal(t, state{SkipHW | NotInHW, 0}, filterState(c, 1))
		}},
		{"add_counts_every_accepting_driver", func(t *testing.T) {
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()), nic("nic1", 11, accepting()))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0)})
			assert.Equal(t, state{InHW, 2}, filterState(c, 1))
		}},
		{"add_without_skip_sw_ignores_driver_errors", func(t *testing.T) {
			bad := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Add}}
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()), nic("nic1", 11, bad))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0)})
			assert.Equal(t, state{InHW, 1}, filterState(c, 1))
			add(t, New(Config{Offload: offload.NewBlock(nic("nic1", 11, bad))}), FilterSpec{Handle: 1, Program: retK(0)})
		}},
		{"no_driver_takes_it_not_in_hw", func(t *testing.T) {
			bad := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Add}}
			c := New(Config{Offload: offload.NewBlock(nic("nic1", 11, bad))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0)})
			assert.Equal(t, state{NotInHW, 0}, filterState(c, 1))
		}},
		{"skip_sw_with_a_device_that_cannot_offload_eopnotsupp", func(t *testing.T) {
			d := accepting()
			c := New(Config{Offload: offload.NewBlock(&offload.Device{Name: "veth0"}, nic("nic0", 10, d))})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.EOPNOTSUPP)
			assert.Equal(t, []offload.Command{offload.Destroy}, d.Calls(), "only the rollback's destroy reaches drivers")
			assert.Zero(t, c.Len())
		}},
		{"skip_sw_without_offload_block_eopnotsupp", func(t *testing.T) {
			c := New(Config{})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.EOPNOTSUPP)
		}},
		{"skip_sw_first_driver_error_aborts_and_rolls_back", func(t *testing.T) {
			good := accepting()
			bad := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Add}, Err: syscall.ENOMEM}
			// bad was bound last, so it is called first and stops the call.
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, good), nic("nic1", 11, bad))})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.ENOMEM)
			assert.Equal(t, []offload.Command{offload.Destroy}, good.Calls())
			assert.Equal(t, []offload.Command{offload.Add, offload.Destroy}, bad.Calls())
			assert.Zero(t, c.Len())
			_, err := c.Change(FilterSpec{Handle: 1, Program: retK(0)}, Create|Excl)
			require.NoError(t, err, "the handle was given back")
		}},
		{"skip_sw_no_driver_at_all_einval", func(t *testing.T) {
			c := New(Config{Offload: offload.NewBlock()})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.EINVAL)
		}},
		{"skip_sw_taken", func(t *testing.T) {
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW})
			assert.Equal(t, state{SkipSW | InHW, 1}, filterState(c, 1))
		}},
		{"replace_moves_the_count_to_the_new_filter", func(t *testing.T) {
			d0, d1 := accepting(), &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Replace}}
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d0), nic("nic1", 11, d1))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0)})
			require.Equal(t, state{InHW, 2}, filterState(c, 1))
			_, err := c.Change(FilterSpec{Handle: 1, Program: retK(1)}, Create)
			require.NoError(t, err)
			assert.Equal(t, state{InHW, 1}, filterState(c, 1), "only nic0 took the replacement")
		}},
		{"replace_skip_sw_failure_rolls_back_to_the_old_program", func(t *testing.T) {
			d := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailNth: 2} // the replace
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			add(t, c, FilterSpec{Handle: 1, ClassID: 0x10010, Program: retK(0), Flags: SkipSW})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(1), Flags: SkipSW}, Create)), syscall.EIO)
			assert.Equal(t, []offload.Command{offload.Add, offload.Replace, offload.Replace}, d.Calls())
			f, _ := c.Get(1)
			assert.Equal(t, uint32(0x10010), uint32(f.ClassID()), "old filter kept")
			assert.Equal(t, state{SkipSW | InHW, 1}, filterState(c, 1), "back in hardware")
		}},
		{"replace_skip_sw_failed_rollback_leaves_old_out_of_hardware", func(t *testing.T) {
			d := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Replace}}
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(1), Flags: SkipSW}, Create)), syscall.EIO)
			assert.Equal(t, []offload.Command{offload.Add, offload.Replace, offload.Replace}, d.Calls(), "the rollback is tried once")
			assert.Equal(t, state{SkipSW, 0}, filterState(c, 1), "the kernel's old filter lost IN_HW when its replace began")
		}},
		{"delete_destroys_whatever_the_flags_and_ignores_errors", func(t *testing.T) {
			d := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailCommands: []offload.Command{offload.Destroy}}
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			add(t, c, FilterSpec{Handle: 1, Program: retK(0), Flags: SkipHW}, FilterSpec{Handle: 2, Program: retK(0)})
			_, err := c.Delete(1)
			require.NoError(t, err)
			_, err = c.Delete(2)
			require.NoError(t, err)
			assert.Equal(t, []offload.Command{offload.Add, offload.Destroy, offload.Destroy}, d.Calls())
		}},
		{"hw_tc_off_refuses_with_extack", func(t *testing.T) {
			dev := nic("nic0", 10, accepting())
			dev.HWTC = false
			c := New(Config{Offload: offload.NewBlock(dev)})
			e := requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.EOPNOTSUPP)
			assert.Equal(t, "TC offload is disabled on net device", e.Extack)
			f, err := c.Change(FilterSpec{Handle: 1, Program: retK(0)}, Create)
			require.NoError(t, err)
			assert.Equal(t, NotInHW, f.Flags())
		}},
		{"chain_other_than_0_refused_by_most_drivers", func(t *testing.T) {
			caps := soft.Capabilities(nil, nil)
			caps.Chains = false
			b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("nic0", 10, &offload.Faulty{Caps: caps}))}})
			_, _, err := b.Change(Where{Chain: 1, Prio: 1, Protocol: ProtocolAll}, FilterSpec{Program: retK(0), Flags: SkipSW}, Create)
			assert.Equal(t, "Driver supports only offload of chain 0", requireErrno(t, err, syscall.EOPNOTSUPP).Extack)
			_, f, err := b.Change(Where{Chain: 0, Prio: 1, Protocol: ProtocolAll}, FilterSpec{Program: retK(0), Flags: SkipSW}, Create)
			require.NoError(t, err)
			assert.Equal(t, SkipSW|InHW, f.Flags())
		}},
		{"capabilities_refuse_before_the_driver", func(t *testing.T) {
			d := &offload.Faulty{Caps: offload.Capabilities{Extended: true, Classes: offload.AllClasses}}
			c := New(Config{Offload: offload.NewBlock(nic("nic0", 10, d))})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)), syscall.EOPNOTSUPP)
			assert.Equal(t, []offload.Command{offload.Destroy}, d.Calls(), "Add never reached the driver")
		}},
		{"device_bound_program_only_to_its_device", func(t *testing.T) {
			prog := &boundEBPF{fakeEBPF: fakeEBPF{id: 9, run: func(*packet.Packet) uint32 { return 0 }}, dev: 11}
			c := New(Config{Programs: fakeTable{5: prog}, Offload: offload.NewBlock(nic("nic0", 10, accepting()))})
			requireErrno(t, second(c.Change(FilterSpec{Handle: 1, Program: prog, Flags: SkipSW}, Create)), syscall.EINVAL)
			c = New(Config{Programs: fakeTable{5: prog}, Offload: offload.NewBlock(nic("nic1", 11, accepting()))})
			add(t, c, FilterSpec{Handle: 1, Program: prog, Flags: SkipSW})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// picky is a driver that refuses to add the filters with the listed
// handles and logs its commands.
type picky struct {
	refuse map[uint32]bool
	log    []string
}

func (p *picky) Capabilities() offload.Capabilities { return soft.Capabilities(nil, nil) }

func (p *picky) Setup(req *offload.Request) error {
	p.log = append(p.log, fmt.Sprintf("%s %d", req.Command, req.Filter.Handle))
	if req.Command == offload.Add && p.refuse[req.Filter.Handle] {
		return syscall.EBUSY
	}
	return nil
}

// boundEBPF is an eBPF program loaded for one device.
type boundEBPF struct {
	fakeEBPF
	dev uint32
}

func (p *boundEBPF) OffloadProgram() offload.Program {
	return offload.Program{Insns: []byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}, Device: p.dev} // r0 = 0; exit
}

func TestOffloadReoffload(t *testing.T) {
	t.Run("bind_and_unbind_count", func(t *testing.T) {
		b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()))}})
		_, _, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
		require.NoError(t, err)
		_, _, err = b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 2, Program: retK(0), Flags: SkipHW}, Create)
		require.NoError(t, err)
		d := accepting()
		dev := nic("nic1", 11, d)
		require.NoError(t, b.Bind(dev))
		assert.Equal(t, []offload.Command{offload.Add}, d.Calls(), "SKIP_HW filters are not offered")
		f, err := b.Get(Where{Prio: 1}, 1)
		require.NoError(t, err)
		assert.Equal(t, 2, f.InHWCount())
		require.NoError(t, b.Unbind(dev))
		f, _ = b.Get(Where{Prio: 1}, 1)
		assert.Equal(t, 1, f.InHWCount())
		assert.Equal(t, InHW, f.Flags())
	})
	t.Run("unbind_to_zero_clears_in_hw_and_keeps_not_in_hw", func(t *testing.T) {
		b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock()}})
		_, f, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
		require.NoError(t, err)
		require.Equal(t, NotInHW, f.Flags())
		dev := nic("nic0", 10, accepting())
		require.NoError(t, b.Bind(dev))
		f, _ = b.Get(Where{Prio: 1}, 1)
		assert.Equal(t, InHW|NotInHW, f.Flags(), "the kernel sets IN_HW without clearing NOT_IN_HW")
		require.NoError(t, b.Unbind(dev))
		f, _ = b.Get(Where{Prio: 1}, 1)
		assert.Equal(t, NotInHW, f.Flags())
	})
	t.Run("skip_sw_refused_fails_the_bind", func(t *testing.T) {
		b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()))}})
		_, _, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
		require.NoError(t, err)
		_, _, err = b.Change(Where{Prio: 2, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0), Flags: SkipSW}, Create)
		require.NoError(t, err)
		d := &offload.Faulty{Caps: soft.Capabilities(nil, nil), FailNth: 2}
		requireErrno(t, b.Bind(nic("nic1", 11, d)), syscall.EIO)
		assert.Equal(t, []offload.Command{offload.Add, offload.Add, offload.Destroy}, d.Calls(), "what was added is taken back")
		f, _ := b.Get(Where{Prio: 1}, 1)
		assert.Equal(t, 1, f.InHWCount())
		assert.Len(t, b.cfg.Offload.Devices(), 1)
	})
	t.Run("failed_bind_withdraws_exactly_what_it_installed", func(t *testing.T) {
		b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()))}})
		for _, f := range []struct {
			prio  uint16
			h     uint32
			flags uint32
		}{{1, 1, 0}, {1, 2, 0}, {2, 3, SkipSW}} {
			_, _, err := b.Change(Where{Prio: f.prio, Protocol: ProtocolAll}, FilterSpec{Handle: f.h, Program: retK(0), Flags: f.flags}, Create)
			require.NoError(t, err)
		}
		p := &picky{refuse: map[uint32]bool{2: true, 3: true}}
		requireErrno(t, b.Bind(nic("nic1", 11, p)), syscall.EBUSY)
		assert.Equal(t, []string{"add 2", "add 1", "add 3", "destroy 1"}, p.log, "list order: newest first; only what was taken is withdrawn")
		for _, w := range []struct {
			prio uint16
			h    uint32
		}{{1, 1}, {1, 2}, {2, 3}} {
			f, err := b.Get(Where{Prio: w.prio}, w.h)
			require.NoError(t, err)
			assert.Equal(t, 1, f.InHWCount(), "filter %d", w.h)
		}
	})
	t.Run("device_without_hw_tc_cannot_join_an_offloaded_block", func(t *testing.T) {
		b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("nic0", 10, accepting()))}})
		_, _, err := b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, Program: retK(0)}, Create)
		require.NoError(t, err)
		off := nic("nic1", 11, accepting())
		off.HWTC = false
		assert.Equal(t, "Bind to offloaded block failed as dev has offload disabled", requireErrno(t, b.Bind(off), syscall.EOPNOTSUPP).Extack)
		requireErrno(t, b.Bind(&offload.Device{Name: "veth0"}), syscall.EOPNOTSUPP)
	})
}

func TestOffloadSoftClassify(t *testing.T) {
	dev := soft.New(soft.Capabilities(nil, nil))
	table := action.NewTable(action.Config{})
	b := NewBlock(BlockConfig{Config: Config{Offload: offload.NewBlock(nic("soft0", 10, dev)), Actions: NewActionParser(table)}})
	chain, err := table.NewChain([]action.Spec{&action.Gact{Params: action.Params{Verdict: action.OK}}}, action.FilterContext{})
	require.NoError(t, err)
	_, _, err = b.Change(Where{Prio: 1, Protocol: ProtocolAll}, FilterSpec{Handle: 1, ClassID: 0x10010, Program: specProgram(), Flags: SkipSW, Actions: NewActions(chain)}, Create)
	require.NoError(t, err)
	id := offload.FilterID{Prio: 1, Protocol: ProtocolAll, Handle: 1}
	require.True(t, dev.Holds(id))

	pkt := newPacket(t)
	pkt.Ifindex = 10
	assert.Equal(t, Result{Verdict: action.OK, ClassID: 0x10010, Filter: 1}, b.Classify(pkt), "the device runs the classic program it was given")
	pkt.Ifindex = 3
	assert.Equal(t, Result{Verdict: action.Unspec}, b.Classify(pkt), "a packet from another device skips the SKIP_SW filter")

	// A dump asks for statistics: the device's packet counts reach the
	// actions.
	_, err = b.Dump(Message{})
	require.NoError(t, err)
	f, err := b.Get(Where{Prio: 1}, 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), f.Actions().(*Actions).HWCounters().Packets)

	require.NoError(t, b.Delete(Where{Prio: 1}, 1))
	assert.False(t, dev.Holds(id))
}
