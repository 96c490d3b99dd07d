package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/offload"
)

// udpLab is the tour's machine with one skip_sw filter on both cards
// (pref 10, UDP to class 1:10, action ok) and one software filter (pref
// 20, IPv4 to class 1:20), and a packet holding the tour's UDP frame.
func udpLab(t testing.TB) (*lab, *packet.Packet, []frame) {
	l := newLab()
	var out bytes.Buffer
	for _, line := range []string{
		"tc filter add block 1 pref 10 bpf skip_sw bytecode '" + bcUDP + "' classid 1:10 action ok",
		"tc filter add block 1 pref 20 bpf skip_hw bytecode '" + bcIPv4 + "' classid 1:20",
	} {
		require.NoError(t, l.tc(&out, line))
		require.NoError(t, l.lastErr)
	}
	frames, err := buildFrames()
	require.NoError(t, err)
	pkt := packet.New(128)
	require.NoError(t, pkt.Receive(frames[0].bytes, packet.EthernetDevice(2, [6]byte{2, 0, 0, 0, 0, 1})))
	return l, pkt, frames
}

// TestClassifyOnCardAllocs proves the packet path through the card
// allocation-free: the block walk, the card's Run and the action.
func TestClassifyOnCardAllocs(t *testing.T) {
	l, pkt, frames := udpLab(t)
	res := l.block1.Classify(pkt)
	require.Equal(t, "pass 1:10", res.Verdict.String()+" "+res.ClassID.String())
	allocs := testing.AllocsPerRun(100, func() {
		_ = pkt.Receive(frames[0].bytes, packet.EthernetDevice(2, [6]byte{2, 0, 0, 0, 0, 1}))
		l.block1.Classify(pkt)
	})
	assert.Zero(t, allocs)
	id := offload.FilterID{Block: 1, Prio: 10, Protocol: classifier.ProtocolAll, Handle: 1}
	require.True(t, l.nic0.Holds(id))
	assert.Zero(t, testing.AllocsPerRun(100, func() { l.nic0.Run(id, pkt) }))
}

// BenchmarkClassify compares a frame classified by the skip_sw filter on
// the card with the same frame, from a device without a card, falling
// through to the software filter.
func BenchmarkClassify(b *testing.B) {
	for _, c := range []struct {
		name    string
		ifindex uint32
	}{{"skip_sw_on_card", 2}, {"software", 9}} {
		b.Run(c.name, func(b *testing.B) {
			l, pkt, frames := udpLab(b)
			dev := packet.EthernetDevice(c.ifindex, [6]byte{2, 0, 0, 0, 0, 1})
			b.ReportAllocs()
			b.SetBytes(int64(len(frames[0].bytes)))
			for b.Loop() {
				_ = pkt.Receive(frames[0].bytes, dev)
				l.block1.Classify(pkt)
			}
		})
	}
}

// FuzzNICSetup gives the card arbitrary classic programs through a
// device, as a classifier would: no panic, an accepted Add is held and
// runs on any frame, a refused one leaves the table as it was.
func FuzzNICSetup(f *testing.F) {
	insns := func(raw ...bpf.RawInstruction) []byte {
		var b []byte
		for _, r := range raw {
			b = binary.LittleEndian.AppendUint16(b, r.Op)
			b = append(b, r.Jt, r.Jf)
			b = binary.LittleEndian.AppendUint32(b, r.K)
		}
		return b
	}
	f.Add(uint8(0), insns(bpf.RawInstruction{Op: 0x06, K: 0xFFFFFFFF}), []byte{0x08, 0x00}) // ret #-1
	f.Add(uint8(1), insns(
		bpf.RawInstruction{Op: 0x28, K: 12},          // ldh [12]
		bpf.RawInstruction{Op: 0x15, Jf: 1, K: 2048}, // jeq #0x800, L2, L3
		bpf.RawInstruction{Op: 0x06, K: 0xFFFFFFFF},  // L2: ret #-1
		bpf.RawInstruction{Op: 0x06},                 // L3: ret #0
	), make([]byte, 60))
	f.Add(uint8(2), insns(bpf.RawInstruction{Op: 0x02}, bpf.RawInstruction{Op: 0x06}), []byte{}) // st M[0]; ret #0
	f.Add(uint8(3), insns(bpf.RawInstruction{Op: 0x05, K: 9}), []byte{1})                        // ja +9
	f.Fuzz(func(t *testing.T, chain uint8, code, frameBytes []byte) {
		var raw []bpf.RawInstruction
		for i := 0; i+8 <= len(code) && len(raw) < 16; i += 8 {
			raw = append(raw, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(code[i:]), Jt: code[i+2], Jf: code[i+3], K: binary.LittleEndian.Uint32(code[i+4:])})
		}
		n := NewNIC(2, nicMaxInsns, &stepClock{ns: 1})
		dev := &offload.Device{Name: "eth0", Ifindex: 2, HWTC: true, Offloader: n}
		id := offload.FilterID{Chain: uint32(chain % 2), Prio: 1, Handle: 1}
		err := dev.Setup(&offload.Request{Command: offload.Add, Filter: id, Prog: &offload.Program{Kind: offload.Classic, Classic: raw}, DirectAction: chain&2 != 0})
		if err != nil {
			assert.False(t, n.Holds(id))
			assert.Zero(t, n.Len())
			return
		}
		require.True(t, n.Holds(id))
		pkt := packet.New(len(frameBytes))
		if pkt.SetFrame(frameBytes) == nil {
			_, ok := n.Run(id, pkt)
			assert.True(t, ok)
		}
		req := offload.Request{Command: offload.Stats, Filter: id}
		require.NoError(t, dev.Setup(&req))
		require.NoError(t, dev.Setup(&offload.Request{Command: offload.Destroy, Filter: id}))
		assert.Zero(t, n.Len())
	})
}

// cardStats classifies the tour's UDP frame once through each card and
// dumps block 1, which asks the cards for their counters; it returns the
// skip_sw filter and its classifier.
func cardStats(t *testing.T) (*classifier.Proto, *classifier.Filter) {
	l, pkt, frames := udpLab(t)
	for _, ifindex := range []uint32{2, 3} {
		require.NoError(t, pkt.Receive(frames[0].bytes, packet.EthernetDevice(ifindex, [6]byte{2, 0, 0, 0, 0, 1})))
		require.Equal(t, "pass", l.block1.Classify(pkt).Verdict.String())
	}
	_, err := l.block1.Dump(classifier.Message{})
	require.NoError(t, err)
	p, ok := l.block1.Proto(classifier.Where{Prio: 10})
	require.True(t, ok)
	f := p.Filters()[0]
	hw := f.Actions().(*classifier.Actions).HWCounters()
	require.Equal(t, offload.Counters{Packets: 2, Bytes: 120, LastUse: l.clock.ns}, hw, "what the cards reported")
	return p, f
}

// TestSkipSWActionsCountOnlyHardware: a skip_sw filter never runs in
// software in the kernel (cls_bpf_classify skips it), so its actions'
// statistics are exactly the counters the cards report. The classifier
// runs the actions on the card's behalf, which must not count the frame a
// second time.
func TestSkipSWActionsCountOnlyHardware(t *testing.T) {
	_, f := cardStats(t)
	st := f.Actions().(*classifier.Actions).Chain().Actions()[0].Stats()
	assert.Equal(t, uint64(2), st.HWPackets)
	assert.Equal(t, uint64(120), st.HWBytes)
	assert.Equal(t, st.HWPackets, st.Packets, "packets: the software run of a skip_sw filter's actions counts the frames again")
	assert.Equal(t, st.HWBytes, st.Bytes, "bytes: the software run of a skip_sw filter's actions counts the frames again")
}

// TestShowPrintsHardwareCounters: `tc -s` prints an action's hardware
// counters on a line of their own, after the software part ("Sent
// software", "Sent hardware": iproute2 tc_util.c print_tcstats_basic_hw,
// from the TCA_STATS_BASIC_HW the kernel dumps for every action).
func TestShowPrintsHardwareCounters(t *testing.T) {
	p, f := cardStats(t)
	text, err := tcsyntax.FormatFilter(p, f, true)
	require.NoError(t, err)
	assert.Contains(t, text, "\n\tSent hardware 120 bytes 2 pkt\n", "tc -s prints the counters the cards reported")
}
