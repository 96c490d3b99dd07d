package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/offload"
)

var update = flag.Bool("update", false, "rewrite testdata/output.golden")

func TestOutput(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	path := filepath.Join("testdata", "output.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
}

// requireRefusal checks that err is a classifier refusal with errno and
// extack, and returns it.
func requireRefusal(t *testing.T, err error, errno syscall.Errno, extack string) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, errno)
	var ce *classifier.Error
	require.True(t, errors.As(err, &ce), "%v is not a *classifier.Error", err)
	assert.Equal(t, extack, ce.Extack)
}

// TestRefusals adds one filter that the cards or the classifier refuse,
// and checks the kernel's errno and extack and that nothing is left
// behind, in the block or on any card.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(l *lab)
		line   string
		errno  syscall.Errno
		extack string
	}{
		{
			name:  "program_too_long_for_the_card",
			line:  "tc filter add block 1 pref 1 bpf skip_sw bytecode '" + bcHTTP + "'",
			errno: syscall.EOPNOTSUPP,
		},
		{
			// ld #1; st M[0]; ret #-1: the card has no scratch memory.
			name:  "instruction_class_the_card_lacks",
			line:  "tc filter add block 1 pref 1 bpf skip_sw bytecode '3,0 0 0 1,2 0 0 0,6 0 0 4294967295'",
			errno: syscall.EOPNOTSUPP,
		},
		{
			name:   "chain_other_than_0",
			line:   "tc filter add block 1 chain 1 pref 1 bpf skip_sw bytecode '" + bcUDP + "'",
			errno:  syscall.EOPNOTSUPP,
			extack: "Driver supports only offload of chain 0",
		},
		{
			name:  "driver_refuses_the_add",
			setup: func(l *lab) { l.nic0.Refuse(offload.Add, syscall.EIO) },
			line:  "tc filter add block 1 pref 1 bpf skip_sw bytecode '" + bcUDP + "'",
			errno: syscall.EIO,
		},
		{
			name: "table_full",
			setup: func(l *lab) {
				for i := range nicEntries {
					err := l.nic0.Setup(&offload.Request{Command: offload.Add, Filter: offload.FilterID{Block: 9, Handle: uint32(i + 1)},
						Prog: &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x06}}}}) // ret #0
					if err != nil {
						panic(err)
					}
				}
			},
			line:  "tc filter add block 1 pref 1 bpf skip_sw bytecode '" + bcUDP + "'",
			errno: syscall.ENOSPC,
		},
		{
			name:   "hw_tc_offload_off",
			line:   "tc filter add dev eth2 ingress pref 1 bpf skip_sw bytecode '" + bcUDP + "'",
			errno:  syscall.EOPNOTSUPP,
			extack: "TC offload is disabled on net device",
		},
		{
			name:  "skip_hw_and_skip_sw",
			line:  "tc filter add block 1 pref 1 bpf skip_hw skip_sw bytecode '" + bcUDP + "'",
			errno: syscall.EINVAL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab()
			if tt.setup != nil {
				tt.setup(l)
			}
			held0, held1 := l.nic0.Len(), l.nic1.Len()
			var out bytes.Buffer
			require.NoError(t, l.tc(&out, tt.line))
			requireRefusal(t, l.lastErr, tt.errno, tt.extack)
			assert.Empty(t, l.block1.Chains(), "nothing installed in block 1")
			assert.Empty(t, l.block2.Chains(), "nothing installed in block 2")
			assert.Equal(t, held0, l.nic0.Len(), "eth0's card as it was")
			assert.Equal(t, held1, l.nic1.Len(), "eth1's card as it was")
			assert.Zero(t, l.nic2.Len(), "eth2's card untouched")
		})
	}
}

// TestTourOutcomes checks the tour's own refusals by errno, so that a
// change in the error text alone does not hide a change of errno.
func TestTourOutcomes(t *testing.T) {
	l := newLab()
	var out bytes.Buffer
	add := func(line string) error {
		t.Helper()
		require.NoError(t, l.tc(&out, line))
		return l.lastErr
	}
	require.NoError(t, add("tc filter add block 1 pref 10 bpf skip_sw bytecode '"+bcUDP+"' classid 1:10 action ok"))
	require.NoError(t, add("tc filter add block 1 pref 20 bpf bytecode '"+bcIPv4+"' classid 1:20"))
	l.nic1.Refuse(offload.Add, syscall.EIO)
	require.NoError(t, add("tc filter add block 1 pref 50 bpf bytecode '"+bcIPv6+"'"), "without skip_sw a refusal is ignored")
	f, err := l.block1.Get(classifier.Where{Prio: 50}, 1)
	require.NoError(t, err)
	assert.Equal(t, classifier.InHW, f.Flags())
	assert.Equal(t, 1, f.InHWCount())
	requireRefusal(t, add("tc filter add block 1 pref 60 bpf skip_sw bytecode '"+bcIPv4+"'"), syscall.EIO, "")
	l.nic1.Refuse(offload.Add, nil)
	requireRefusal(t, add("tc filter add block 1 pref 60 bpf skip_sw bytecode '"+bcIPv4+"'"), syscall.ENOSPC, "")
	assert.Equal(t, 3, l.nic0.Len())
	assert.Equal(t, 2, l.nic1.Len(), "eth1 gave back what it took")

	// A replace may not change the skip flags (cls_bpf_offload's first
	// rule).
	requireRefusal(t, add("tc filter replace block 1 pref 20 handle 1 bpf skip_hw bytecode '"+bcIPv4+"'"), syscall.EINVAL, "")

	require.NoError(t, l.block1.Delete(classifier.Where{Prio: 50}, 0))
	assert.Equal(t, 2, l.nic0.Len())
	require.NoError(t, add("tc filter add block 1 pref 60 bpf skip_sw bytecode '"+bcIPv4+"'"))
}

func TestNICSetup(t *testing.T) {
	ret := func(k uint32) *offload.Program {
		return &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x06, K: k}}} // ret #k
	}
	id := func(h uint32) offload.FilterID { return offload.FilterID{Prio: 1, Protocol: 3, Handle: h} }
	tests := []struct {
		name  string
		reqs  []offload.Request
		errno syscall.Errno // of the last request; 0 for none
		held  int
	}{
		{"add", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: ret(1)}}, 0, 1},
		{"add_twice_takes_one_entry", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: ret(1)}, {Command: offload.Add, Filter: id(1), Prog: ret(2)}}, 0, 1},
		{"replace_in_place", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: ret(1)}, {Command: offload.Replace, Filter: id(1), Prog: ret(2), OldProg: ret(1)}}, 0, 1},
		{"destroy", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: ret(1)}, {Command: offload.Destroy, Filter: id(1), OldProg: ret(1)}}, 0, 0},
		{"destroy_not_held", []offload.Request{{Command: offload.Destroy, Filter: id(1), OldProg: ret(1)}}, syscall.ENOENT, 0},
		{"stats_not_held", []offload.Request{{Command: offload.Stats, Filter: id(1), Prog: ret(1)}}, syscall.ENOENT, 0},
		{"table_full", []offload.Request{
			{Command: offload.Add, Filter: id(1), Prog: ret(1)},
			{Command: offload.Add, Filter: id(2), Prog: ret(1)},
			{Command: offload.Add, Filter: id(3), Prog: ret(1)},
			{Command: offload.Add, Filter: id(4), Prog: ret(1)},
		}, syscall.ENOSPC, 3},
		{"full_table_still_replaces", []offload.Request{
			{Command: offload.Add, Filter: id(1), Prog: ret(1)},
			{Command: offload.Add, Filter: id(2), Prog: ret(1)},
			{Command: offload.Add, Filter: id(3), Prog: ret(1)},
			{Command: offload.Replace, Filter: id(3), Prog: ret(2), OldProg: ret(1)},
		}, 0, 3},
		// ja +5: the classic checker refuses a jump past the end.
		{"program_the_checker_refuses", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x05, K: 5}}}}}, syscall.EINVAL, 0},
		{"ebpf_program", []offload.Request{{Command: offload.Add, Filter: id(1), Prog: &offload.Program{Kind: offload.Extended}}}, syscall.EOPNOTSUPP, 0},
		{"no_program", []offload.Request{{Command: offload.Add, Filter: id(1)}}, syscall.EOPNOTSUPP, 0},
		{"unknown_command", []offload.Request{{Command: 99, Filter: id(1)}}, syscall.EOPNOTSUPP, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNIC(nicEntries, nicMaxInsns, &stepClock{})
			var err error
			for i := range tt.reqs {
				err = n.Setup(&tt.reqs[i])
			}
			if tt.errno == 0 {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.errno)
			}
			assert.Equal(t, tt.held, n.Len())
		})
	}
}

// TestNICCounters runs a card's filters by hand: hits are the packets a
// filter matched, a Stats request reports and clears them, and a replace
// keeps what is not yet reported.
func TestNICCounters(t *testing.T) {
	clock := &stepClock{ns: 5e9}
	n := NewNIC(nicEntries, nicMaxInsns, clock)
	classic := offload.FilterID{Prio: 1, Handle: 1}
	direct := offload.FilterID{Prio: 2, Handle: 1}
	prog := func(k uint32) *offload.Program {
		return &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{{Op: 0x06, K: k}}} // ret #k
	}
	require.NoError(t, n.Setup(&offload.Request{Command: offload.Add, Filter: classic, Prog: prog(0x10010)}))
	require.NoError(t, n.Setup(&offload.Request{Command: offload.Add, Filter: direct, Prog: prog(tcActUnspec), DirectAction: true}))

	pkt := packet.New(64)
	require.NoError(t, pkt.SetFrame(make([]byte, 60)))
	for range 3 {
		r, ok := n.Run(classic, pkt)
		assert.True(t, ok)
		assert.Equal(t, uint32(0x10010), r)
		r, ok = n.Run(direct, pkt)
		assert.True(t, ok)
		assert.Equal(t, uint32(tcActUnspec), r)
	}
	_, ok := n.Run(offload.FilterID{Prio: 3}, pkt)
	assert.False(t, ok, "a filter the card does not hold")

	require.NoError(t, n.Setup(&offload.Request{Command: offload.Replace, Filter: classic, Prog: prog(0), OldProg: prog(0x10010)}))
	n.Run(classic, pkt) // no match: no hit
	stats := func(id offload.FilterID) offload.Counters {
		req := offload.Request{Command: offload.Stats, Filter: id, Prog: prog(0)}
		require.NoError(t, n.Setup(&req))
		return req.Stats
	}
	assert.Equal(t, offload.Counters{Packets: 3, Bytes: 180, LastUse: 5e9}, stats(classic), "hits before the replace are kept")
	assert.Equal(t, offload.Counters{LastUse: 5e9}, stats(classic), "reported counts are cleared")
	assert.Equal(t, offload.Counters{}, stats(direct), "TC_ACT_UNSPEC is no hit")
}

// ExampleNIC drives the toy card as a classifier would: through an
// offload.Device, which checks the card's capabilities first.
func ExampleNIC() {
	dev := &offload.Device{Name: "eth0", Ifindex: 2, HWTC: true, Offloader: NewNIC(3, 8, &stepClock{})}
	ret := []bpf.RawInstruction{{Op: 0x06, K: 0xFFFFFFFF}} // ret #-1
	err := dev.Setup(&offload.Request{Command: offload.Add, Filter: offload.FilterID{Prio: 1, Handle: 1},
		Prog: &offload.Program{Kind: offload.Classic, Classic: ret}})
	fmt.Println(err)
	err = dev.Setup(&offload.Request{Command: offload.Add, Filter: offload.FilterID{Chain: 1, Prio: 1, Handle: 1},
		Prog: &offload.Program{Kind: offload.Classic, Classic: ret}})
	fmt.Println(describeError(err))
	// Output:
	// <nil>
	// EOPNOTSUPP (offload: eth0: Driver supports only offload of chain 0: operation not supported)
}
