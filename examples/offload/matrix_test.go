package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

// rig is a block that may be shared by two devices whose drivers are of
// one kind: the toy card, or the reference driver offload/soft declaring
// the toy card's capabilities. The same operations on both rigs must give
// the same transcript: that is the offload matrix seen from a driver.
type rig struct {
	block  *classifier.Block
	devs   [2]*offload.Device
	refuse func(dev int, cmd offload.Command, on bool)
	holds  func(dev int, id offload.FilterID) bool
}

// rigEntries is large enough that the toy card's table never fills: soft
// has no table to fill.
const rigEntries = 64

var errFirmware = fmt.Errorf("firmware: %w", syscall.EIO)

func newRig(toy bool) *rig {
	r := &rig{}
	caps := NewNIC(rigEntries, nicMaxInsns, &stepClock{}).Capabilities()
	var nics [2]*NIC
	var softs [2]*soft.Device
	var faults [2]*offload.Faulty
	for i := range r.devs {
		var drv offload.Offloader
		if toy {
			nics[i] = NewNIC(rigEntries, nicMaxInsns, &stepClock{ns: 1})
			drv = nics[i]
		} else {
			softs[i] = soft.New(caps)
			faults[i] = &offload.Faulty{Inner: softs[i], Err: errFirmware}
			drv = faultySoft{faults[i], softs[i]}
		}
		r.devs[i] = &offload.Device{Name: fmt.Sprintf("eth%d", i), Ifindex: uint32(2 + i), HWTC: true, Offloader: drv}
	}
	if toy {
		r.refuse = func(dev int, cmd offload.Command, on bool) {
			if on {
				nics[dev].Refuse(cmd, errFirmware)
			} else {
				nics[dev].Refuse(cmd, nil)
			}
		}
		r.holds = func(dev int, id offload.FilterID) bool { return nics[dev].Holds(id) }
	} else {
		r.refuse = func(dev int, cmd offload.Command, on bool) {
			f := faults[dev]
			f.FailCommands = slices.DeleteFunc(f.FailCommands, func(c offload.Command) bool { return c == cmd })
			if on {
				f.FailCommands = append(f.FailCommands, cmd)
			}
		}
		r.holds = func(dev int, id offload.FilterID) bool { return softs[dev].Holds(id) }
	}
	r.block = classifier.NewBlock(classifier.BlockConfig{Config: classifier.Config{Offload: offload.NewBlock(r.devs[0])}})
	return r
}

// faultySoft is soft's device behind offload.Faulty, still running the
// filters it holds: Faulty alone hides the device's HardwareRunner.
type faultySoft struct {
	*offload.Faulty
	dev *soft.Device
}

func (f faultySoft) Run(id offload.FilterID, pkt *packet.Packet) (uint32, bool) {
	return f.dev.Run(id, pkt)
}

// Operations on a rig.
type opKind uint8

const (
	opChange opKind = iota
	opDelete
	opRefuse
	opHeal
	opBind
	opUnbind
	opClassify
	opDump
)

type op struct {
	kind    opKind
	where   classifier.Where
	handle  uint32
	flags   uint32 // generic flags of a change
	prog    int    // index in rigPrograms
	direct  bool
	excl    bool // add (Create|Excl) rather than replace (Create)
	dev     int
	cmd     offload.Command
	frame   int
	ifindex uint32
}

// rigPrograms are the programs changes install: two the card runs, one
// too long for it, one using scratch memory it lacks.
var rigPrograms = []string{bcUDP, bcIPv4, bcHTTP, "3,0 0 0 1,2 0 0 0,6 0 0 4294967295"}

func (o op) String() string {
	switch o.kind {
	case opChange:
		return fmt.Sprintf("change chain %d pref %d handle %d prog %d flags %#x da %v excl %v", o.where.Chain, o.where.Prio, o.handle, o.prog, o.flags, o.direct, o.excl)
	case opDelete:
		return fmt.Sprintf("delete chain %d pref %d handle %d", o.where.Chain, o.where.Prio, o.handle)
	case opRefuse, opHeal:
		return fmt.Sprintf("%s eth%d %s", map[opKind]string{opRefuse: "refuse", opHeal: "heal"}[o.kind], o.dev, o.cmd)
	case opBind:
		return "bind eth1"
	case opUnbind:
		return "unbind eth1"
	case opClassify:
		return fmt.Sprintf("classify frame %d on ifindex %d", o.frame, o.ifindex)
	}
	return "dump"
}

func errnoOf(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errnoName(errno)
	}
	return "no errno: " + err.Error()
}

// apply carries o out on r and returns its outcome.
func (r *rig) apply(t *testing.T, o op, frames []frame, pkt *packet.Packet) string {
	switch o.kind {
	case opChange:
		raw, err := cbpf.ParseBytecode(rigPrograms[o.prog])
		require.NoError(t, err)
		prog, err := cbpf.LoadRaw(raw)
		require.NoError(t, err)
		flags := classifier.Create
		if o.excl {
			flags |= classifier.Excl
		}
		spec := classifier.FilterSpec{Handle: o.handle, Program: prog, ClassID: handle.Make(1, uint16(o.where.Prio)), DirectAction: o.direct, Flags: o.flags}
		_, _, err = r.block.Change(o.where, spec, flags)
		return errnoOf(err)
	case opDelete:
		return errnoOf(r.block.Delete(o.where, o.handle))
	case opRefuse:
		r.refuse(o.dev, o.cmd, true)
	case opHeal:
		r.refuse(o.dev, o.cmd, false)
	case opBind:
		return errnoOf(r.block.Bind(r.devs[1]))
	case opUnbind:
		return errnoOf(r.block.Unbind(r.devs[1]))
	case opClassify:
		require.NoError(t, pkt.Receive(frames[o.frame].bytes, packet.EthernetDevice(o.ifindex, [6]byte{2, 0, 0, 0, 0, 1})))
		res := r.block.Classify(pkt)
		return fmt.Sprintf("%s %s", res.Verdict, res.ClassID)
	case opDump:
		_, err := r.block.Dump(classifier.Message{})
		return errnoOf(err)
	}
	return "ok"
}

// state lists every filter with its flags, in_hw_count and the devices
// holding it.
func (r *rig) state() string {
	var b strings.Builder
	for _, chain := range r.block.Chains() {
		for _, p := range r.block.Protos(chain) {
			for _, f := range p.Filters() {
				w := p.Where()
				id := offload.FilterID{Chain: chain, Prio: w.Prio, Protocol: w.Protocol, Handle: f.Handle()}
				fmt.Fprintf(&b, " [c%d p%d h%d %s n%d eth0:%v eth1:%v]", chain, w.Prio, f.Handle(), flagWords(f.Flags()), f.InHWCount(), r.holds(0, id), r.holds(1, id))
			}
		}
	}
	return b.String()
}

// transcript runs ops on a rig and records each outcome and the state
// after it.
func transcript(t *testing.T, toy bool, ops []op, frames []frame) []string {
	r := newRig(toy)
	pkt := packet.New(128)
	var out []string
	for _, o := range ops {
		res := r.apply(t, o, frames, pkt)
		out = append(out, o.String()+": "+res+" ->"+r.state())
	}
	return out
}

// matrixScenarios name each rule of the offload matrix as operations.
func matrixScenarios() map[string][]op {
	w := func(chain uint32, prio uint16) classifier.Where {
		return classifier.Where{Chain: chain, Prio: prio, Protocol: classifier.ProtocolAll}
	}
	add := func(where classifier.Where, h uint32, prog int, flags uint32) op {
		return op{kind: opChange, where: where, handle: h, prog: prog, flags: flags, excl: true}
	}
	replace := func(where classifier.Where, h uint32, prog int, flags uint32) op {
		return op{kind: opChange, where: where, handle: h, prog: prog, flags: flags}
	}
	refuse := func(dev int, cmd offload.Command) op { return op{kind: opRefuse, dev: dev, cmd: cmd} }
	classify := func(frame int, ifindex uint32) op { return op{kind: opClassify, frame: frame, ifindex: ifindex} }
	bind, unbind := op{kind: opBind}, op{kind: opUnbind}
	return map[string][]op{
		"no_flags_in_every_card":             {bind, add(w(0, 1), 1, 0, 0)},
		"skip_hw_never_offered":              {add(w(0, 1), 1, 0, classifier.SkipHW), bind},
		"skip_sw_in_every_card":              {bind, add(w(0, 1), 1, 0, classifier.SkipSW), classify(0, 2), classify(0, 3), classify(0, 9)},
		"skip_sw_beyond_the_capabilities":    {add(w(0, 1), 1, 2, classifier.SkipSW), add(w(0, 1), 1, 3, classifier.SkipSW), add(w(0, 1), 1, 2, 0)},
		"skip_sw_in_chain_1":                 {add(w(1, 1), 1, 0, classifier.SkipSW), add(w(1, 1), 1, 0, 0)},
		"refused_add_tolerated_without_sw":   {bind, refuse(1, offload.Add), add(w(0, 1), 1, 0, 0), refuse(0, offload.Add), add(w(0, 2), 1, 1, 0)},
		"refused_add_aborts_skip_sw":         {bind, refuse(0, offload.Add), add(w(0, 1), 1, 0, classifier.SkipSW), add(w(0, 1), 2, 0, 0)},
		"replace_moves_the_count":            {bind, add(w(0, 1), 1, 0, 0), refuse(1, offload.Replace), replace(w(0, 1), 1, 1, 0)},
		"refused_replace_rolls_back_skip_sw": {add(w(0, 1), 1, 0, classifier.SkipSW), refuse(0, offload.Replace), replace(w(0, 1), 1, 1, classifier.SkipSW), classify(0, 2)},
		"replace_may_not_change_skip_flags":  {add(w(0, 1), 1, 0, 0), replace(w(0, 1), 1, 0, classifier.SkipHW), replace(w(0, 1), 1, 0, classifier.SkipSW)},
		"delete_ignores_refused_destroy":     {add(w(0, 1), 1, 0, 0), add(w(0, 1), 2, 1, classifier.SkipSW), refuse(0, offload.Destroy), {kind: opDelete, where: w(0, 1), handle: 1}, {kind: opDelete, where: w(0, 1), handle: 2}},
		"bind_refused_by_a_skip_sw_filter":   {add(w(0, 1), 1, 0, 0), add(w(0, 2), 1, 1, classifier.SkipSW), refuse(1, offload.Add), bind, {kind: opHeal, dev: 1, cmd: offload.Add}, bind, unbind},
		"dump_asks_for_stats":                {add(w(0, 1), 1, 0, classifier.SkipSW), classify(0, 2), {kind: opDump}, refuse(0, offload.Stats), {kind: opDump}},
	}
}

func TestMatrixLikeSoft(t *testing.T) {
	frames, err := buildFrames()
	require.NoError(t, err)
	for name, ops := range matrixScenarios() {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, transcript(t, false, ops, frames), transcript(t, true, ops, frames))
		})
	}
}

// randomOps draws a sequence of operations over a small space of
// chains, priorities, handles, programs and devices, so that sequences
// meet each other's filters.
func randomOps(rng *rand.Rand, n int) []op {
	ops := make([]op, n)
	for i := range ops {
		where := classifier.Where{Prio: uint16(1 + rng.IntN(3)), Protocol: classifier.ProtocolAll}
		if rng.IntN(5) == 0 {
			where.Chain = 1
		}
		o := op{where: where, handle: uint32(1 + rng.IntN(2))}
		switch k := rng.IntN(20); {
		case k < 8:
			o.kind = opChange
			o.prog = rng.IntN(len(rigPrograms))
			o.flags = []uint32{0, 0, classifier.SkipHW, classifier.SkipSW, classifier.SkipSW}[rng.IntN(5)]
			o.direct = rng.IntN(3) == 0
			o.excl = rng.IntN(2) == 0
		case k < 10:
			o.kind = opDelete
		case k < 12:
			o.kind = opRefuse
		case k < 14:
			o.kind = opHeal
		case k < 15:
			o.kind = opBind
		case k < 16:
			o.kind = opUnbind
		case k < 19:
			o.kind = opClassify
		default:
			o.kind = opDump
		}
		o.dev = rng.IntN(2)
		o.cmd = []offload.Command{offload.Add, offload.Replace, offload.Destroy, offload.Stats}[rng.IntN(4)]
		o.frame = rng.IntN(3)
		o.ifindex = []uint32{2, 3, 9}[rng.IntN(3)]
		ops[i] = o
	}
	return ops
}

// TestMatrixLikeSoftRandom runs seeded random operation sequences on both
// rigs: 300 sequences of 25 operations (60 under -short).
func TestMatrixLikeSoftRandom(t *testing.T) {
	frames, err := buildFrames()
	require.NoError(t, err)
	runs := 300
	if testing.Short() {
		runs = 60
	}
	for seed := range uint64(runs) {
		ops := randomOps(rand.New(rand.NewPCG(seed, 0x0ff10ad)), 25)
		soft, toy := transcript(t, false, ops, frames), transcript(t, true, ops, frames)
		if !assert.Equal(t, soft, toy, "seed %d", seed) {
			return
		}
	}
}
