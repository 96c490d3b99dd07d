package soft_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

var frame = []byte{
	0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet, IPv4
	0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
}

func classic(k uint32) *offload.Program {
	return &offload.Program{Kind: offload.Classic, Classic: []bpf.RawInstruction{
		{Op: 0x28, K: 12},                   // ldh [12]
		{Op: 0x15, Jt: 0, Jf: 1, K: 0x0800}, // jeq #0x800, L2, L3
		{Op: 0x06, K: k},                    // L2: ret #k
		{Op: 0x06, K: 0},                    // L3: ret #0
	}}
}

type constRunner uint32

func (r constRunner) Run(*packet.Packet) uint32 { return uint32(r) }

func TestDevice(t *testing.T) {
	d := soft.New(soft.Capabilities(nil, nil))
	id := offload.FilterID{Chain: 1, Prio: 10, Protocol: 3, Handle: 1}
	pkt := packet.New(len(frame))
	require.NoError(t, pkt.SetFrame(frame))

	_, ok := d.Run(id, pkt)
	assert.False(t, ok, "not held yet")

	require.NoError(t, d.Setup(&offload.Request{Command: offload.Add, Filter: id, Prog: classic(7)}))
	ret, ok := d.Run(id, pkt)
	assert.True(t, ok)
	assert.Equal(t, uint32(7), ret)

	require.NoError(t, d.Setup(&offload.Request{Command: offload.Replace, Filter: id, Prog: &offload.Program{Kind: offload.Extended, Runner: constRunner(9)}, OldProg: classic(7)}))
	ret, _ = d.Run(id, pkt)
	assert.Equal(t, uint32(9), ret)

	stats := &offload.Request{Command: offload.Stats, Filter: id}
	require.NoError(t, d.Setup(stats))
	assert.Equal(t, offload.Counters{Packets: 2, Bytes: uint64(2 * len(frame))}, stats.Stats)
	stats.Stats = offload.Counters{}
	require.NoError(t, d.Setup(stats))
	assert.Zero(t, stats.Stats, "drivers report differences")

	allocs := testing.AllocsPerRun(100, func() { _, _ = d.Run(id, pkt) })
	assert.Zero(t, allocs)

	require.NoError(t, d.Setup(&offload.Request{Command: offload.Destroy, Filter: id}))
	assert.Zero(t, d.Len())
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Destroy, Filter: id}), syscall.ENOENT)
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Stats, Filter: id}), syscall.ENOENT)
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Add, Filter: id, Prog: &offload.Program{Kind: offload.Extended}}), syscall.EINVAL, "no software form")
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Add, Filter: id, Prog: &offload.Program{Kind: offload.Classic}}), syscall.EINVAL, "the classic checker refuses an empty program")
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: offload.Add, Filter: id}), syscall.EINVAL)
	assert.ErrorIs(t, d.Setup(&offload.Request{Command: 42, Filter: id}), syscall.EOPNOTSUPP)
}

func ExampleDevice() {
	nic := soft.New(soft.Capabilities(nil, nil))
	dev := &offload.Device{Name: "soft0", Ifindex: 4, HWTC: true, Offloader: nic}
	id := offload.FilterID{Prio: 1, Protocol: 3, Handle: 1}

	// What a classifier sends for a new filter: the engine-neutral program.
	err := dev.Setup(&offload.Request{Command: offload.Add, Filter: id, Prog: classic(0xFFFFFFFF)})
	fmt.Println(err, nic.Holds(id))

	pkt := packet.New(len(frame))
	_ = pkt.SetFrame(frame)
	ret, ok := nic.Run(id, pkt)
	fmt.Printf("%#x %v\n", ret, ok)
	// Output:
	// <nil> true
	// 0xffffffff true
}
