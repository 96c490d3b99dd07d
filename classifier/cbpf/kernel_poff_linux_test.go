//go:build linux

package cbpf

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestKernelPayloadOffsetSpace sweeps the fields the flow dissector
// branches on (every EtherType, IPv4 protocol, IPv6 next header, PPP
// protocol, PPPoE version/type/code byte, and the GRE flag combinations
// with the tunnelled protocols) through the kernel's SKF_AD_PAY_OFFSET and
// the engine's: about 140,000 frames.
func TestKernelPayloadOffsetSpace(t *testing.T) {
	v := kerneltest.NewVeth(t)
	pinCPU(t)
	require.NoError(t, v.Attach(poffProg))
	pkt := packet.New(400)
	p, _ := LoadRaw(poffProg)
	bad, frames := 0, 0
	try := func(name string, f []byte) {
		copy(f, v.MAC)
		n, err := v.Deliver(f)
		require.NoError(t, err)
		vethPacket(t, pkt, f, v)
		want := delivered(p.Run(pkt), pkt.Len())
		if n != want {
			bad++
			if bad <= 20 {
				t.Errorf("%s frame % x: kernel delivers %d, engine %d", name, f[12:60], n, want)
			}
		}
		frames++
	}
	for et := 0x0600; et <= 0xffff; et++ {
		if et == 0x8100 || et == 0x88a8 {
			continue
		}
		try("ether", ethFrame(300, uint16(et), []byte{0x11, 0, 0, 1, 0, 40, 0, 0x21}, ipv4(6, 5, 0), tcpHdr(5)))
	}
	for pr := 0; pr < 256; pr++ {
		try("ipv4 proto", ethFrame(300, 0x0800, ipv4(byte(pr), 5, 0), ipv4(6, 5, 0), tcpHdr(5)))
		try("ipv6 next", ethFrame(300, 0x86dd, ipv6(byte(pr)), ext6(6, 1), ipv4(6, 5, 0), tcpHdr(5)))
	}
	for pp := 0; pp < 0x10000; pp++ {
		try("pppoe", ethFrame(300, 0x8864, []byte{0x11, 0, 0, 1, 0, 40, byte(pp >> 8), byte(pp)}, ipv4(17, 5, 0), udpHdr()))
	}
	for fl := 0; fl < 0x10000; fl++ {
		if fl&0x0f78 != 0 && fl&0x0f78 != 0x0f78 {
			continue // reserved bits: two patterns are enough
		}
		for _, proto := range []uint16{0x0800, 0x86dd, 0x6558, 0x880b, 0x8847} {
			g := greHdr(uint16(fl), proto, 4)
			binary.BigEndian.PutUint32(g[16:], 0xff030021)
			try("gre", ethFrame(300, 0x0800, ipv4(47, 5, 0), g, ipv4(17, 5, 0), udpHdr()))
		}
	}
	for vt := 0; vt < 0x10000; vt += 0x101 {
		try("pppoe header", ethFrame(300, 0x8864, []byte{byte(vt >> 8), byte(vt), 0, 1, 0, 40, 0, 0x21}, ipv4(17, 5, 0), udpHdr()))
	}
	t.Logf("%d frames, %d disagreements", frames, bad)
}
