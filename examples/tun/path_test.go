//go:build linux

package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

// pipePath is a Path whose outputs are pipes, with the test rules, for
// tests and benchmarks that need no devices.
func pipePath(tb testing.TB) (*Path, *os.File) {
	table := action.NewTable(action.Config{})
	r, w, err := os.Pipe()
	require.NoError(tb, err)
	tb.Cleanup(func() { r.Close(); w.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	o := &output{name: "tpass", f: w, local: [4]byte{10, 9, 1, 1}, far: [4]byte{10, 9, 1, 2}}
	p := &Path{
		inName: "tin", pass: o, outs: []*output{o}, redirect: map[handle.Handle]*output{},
		blk: classifier.NewBlock(classifier.BlockConfig{
			Config: classifier.Config{Actions: classifier.NewActionParser(table)},
			Parent: uint32(handle.IngressParent),
		}),
		pkt: packet.New(packet.MaxLen),
		buf: make([]byte, VnetHdrLen+packet.MaxLen),
		out: make([]byte, VnetHdrLen+packet.MaxLen),
	}
	for _, rule := range tunRules {
		require.NoError(tb, p.Apply(rule))
	}
	return p, w
}

// load puts a virtio header with a partial checksum and a partial-checksum
// IPv4/UDP packet to dst into the path's read buffer.
func load(tb testing.TB, p *Path, dst byte) int {
	ip := partial(udpPacket(tb, "0123456789"))
	ip[19] = dst
	ip[10], ip[11] = 0, 0
	VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 20, CsumOffset: 6}.Put(p.buf)
	return VnetHdrLen + copy(p.buf[VnetHdrLen:], ip)
}

// TestHandleAllocs: reading the header, classifying and delivering a
// packet allocates nothing.
func TestHandleAllocs(t *testing.T) {
	p, _ := pipePath(t)
	for _, dst := range []byte{2, 66} {
		n := load(t, p, dst)
		p.handle(n)
		assert.Zero(t, testing.AllocsPerRun(200, func() { p.handle(n) }), "to 10.9.0.%d", dst)
	}
	// One run before, one warm-up run and 200 measured runs each.
	st := p.Stats()
	assert.Equal(t, uint64(202), st.Dropped)
	assert.Equal(t, uint64(202), st.Delivered["tpass"])
	assert.Equal(t, uint64(202), st.CsumCompleted)
	assert.Zero(t, st.CsumBad)
}

// BenchmarkHandle measures one packet from the virtio header to the
// output device (a pipe here).
func BenchmarkHandle(b *testing.B) {
	for _, c := range []struct {
		name string
		dst  byte
	}{{"pass", 2}, {"drop", 66}} {
		b.Run(c.name, func(b *testing.B) {
			p, _ := pipePath(b)
			n := load(b, p, c.dst)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				p.handle(n)
			}
		})
	}
}
