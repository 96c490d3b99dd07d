package main

import (
	"encoding/binary"
	"net"
	"syscall"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// udpPacket builds an IPv4/UDP packet with gopacket, checksums computed.
func udpPacket(t testing.TB, payload string) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 9, 0, 1), DstIP: net.IPv4(10, 9, 0, 2), Flags: layers.IPv4DontFragment}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 7000}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)))
	return buf.Bytes()
}

// partial turns a packet's UDP checksum into the partial form a device
// with checksum offload gets: the folded pseudo-header sum, not
// complemented.
func partial(b []byte) []byte {
	out := append([]byte(nil), b...)
	n := len(out) - 20
	binary.BigEndian.PutUint16(out[26:], fold(sum(out[12:20], 17+uint32(n))))
	return out
}

func TestVnetHdrRoundTrip(t *testing.T) {
	h := VnetHdr{Flags: VnetFlagNeedsCsum, GSOType: VnetGSOUDPL4, HdrLen: 28, GSOSize: 1400, CsumStart: 20, CsumOffset: 6}
	var b [VnetHdrLen]byte
	h.Put(b[:])
	got, err := ParseVnetHdr(b[:])
	require.NoError(t, err)
	assert.Equal(t, h, got)
	_, err = ParseVnetHdr(b[:9])
	assert.ErrorIs(t, err, syscall.EINVAL)
}

// TestVnetHdrApply: the skb state virtio_net_hdr_to_skb gives, and what
// it refuses.
func TestVnetHdrApply(t *testing.T) {
	ip := udpPacket(t, "0123456789012345678901234567890123456789")
	tests := []struct {
		name    string
		hdr     VnetHdr
		wantErr bool
		want    func(t *testing.T, p *packet.Packet)
	}{
		{"none", VnetHdr{}, false, func(t *testing.T, p *packet.Packet) {
			assert.Equal(t, packet.ChecksumNone, p.Checksum)
			assert.Zero(t, p.GSOSize)
		}},
		{"needs_csum", VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 20, CsumOffset: 6}, false, func(t *testing.T, p *packet.Packet) {
			assert.Equal(t, packet.ChecksumPartial, p.Checksum)
			assert.Equal(t, uint16(20), p.CsumStart)
			assert.Equal(t, uint16(6), p.CsumOffset)
		}},
		{"data_valid_ignored", VnetHdr{Flags: VnetFlagDataValid}, false, func(t *testing.T, p *packet.Packet) {
			assert.Equal(t, packet.ChecksumNone, p.Checksum)
		}},
		{"gso_udp_l4", VnetHdr{Flags: VnetFlagNeedsCsum, GSOType: VnetGSOUDPL4, GSOSize: 10, CsumStart: 20, CsumOffset: 6}, false, func(t *testing.T, p *packet.Packet) {
			assert.Equal(t, uint16(10), p.GSOSize)
			assert.Equal(t, uint32(skbGSOUDPL4|skbGSODodgy), p.GSOType)
			assert.Zero(t, p.GSOSegs)
		}},
		{"gso_small_is_not_gso", VnetHdr{Flags: VnetFlagNeedsCsum, GSOType: VnetGSOUDPL4, GSOSize: 1400, CsumStart: 20, CsumOffset: 6}, false, func(t *testing.T, p *packet.Packet) {
			assert.Zero(t, p.GSOSize)
		}},
		{"gso_tcp_ecn", VnetHdr{GSOType: VnetGSOTCPv4 | VnetGSOECN, GSOSize: 1}, false, func(t *testing.T, p *packet.Packet) {
			assert.Equal(t, uint32(skbGSOTCPv4|skbGSOTCPECN|skbGSODodgy), p.GSOType)
		}},
		{"gso_size_zero", VnetHdr{GSOType: VnetGSOUDPL4}, true, nil},
		{"gso_unknown", VnetHdr{GSOType: 2, GSOSize: 100}, true, nil},
		{"csum_at_last_bytes", VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 60, CsumOffset: 6}, false, func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint16(60), p.CsumStart) }},
		{"csum_past_end", VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 64, CsumOffset: 6}, true, nil},
		{"csum_in_ip_header", VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 10, CsumOffset: 0}, true, nil},
		{"csum_offset_past_end", VnetHdr{Flags: VnetFlagNeedsCsum, CsumStart: 20, CsumOffset: 60}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := packet.New(len(ip))
			require.NoError(t, p.ReceiveL3(ip, dev))
			err := tt.hdr.Apply(p)
			if tt.wantErr {
				assert.ErrorIs(t, err, syscall.EINVAL)
				return
			}
			require.NoError(t, err)
			tt.want(t, p)
		})
	}
}

// TestCompleteChecksum: filling in a partial checksum gives the checksum
// gopacket computes over the whole datagram.
func TestCompleteChecksum(t *testing.T) {
	for _, payload := range []string{"", "x", "odd-length payload", "even-length payload!"} {
		full := udpPacket(t, payload)
		p := partial(full)
		require.NotEqual(t, full[26:28], p[26:28])
		completeChecksum(p, 20, 6)
		assert.Equal(t, full, p, "payload %q", payload)
		assert.True(t, udpChecksumValid(p))
	}
}

// TestRewrite: new addresses, both checksums valid, ports and payload
// kept; anything but IPv4/UDP refused.
func TestRewrite(t *testing.T) {
	b := partial(udpPacket(t, "hello"))
	require.NoError(t, rewriteIPv4UDP(b, [4]byte{10, 9, 1, 2}, [4]byte{10, 9, 1, 1}))
	pkt := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	assert.Equal(t, "10.9.1.2", ip.SrcIP.String())
	assert.Equal(t, "10.9.1.1", ip.DstIP.String())
	assert.Equal(t, layers.UDPPort(7000), udp.DstPort)
	assert.Equal(t, "hello", string(udp.Payload))
	assert.Equal(t, uint16(0xFFFF), fold(sum(b[:20], 0)), "IPv4 header checksum")
	assert.True(t, udpChecksumValid(b))

	tcp := append([]byte(nil), b...)
	tcp[9] = 6
	assert.ErrorIs(t, rewriteIPv4UDP(tcp, [4]byte{}, [4]byte{}), syscall.EPROTONOSUPPORT)
	assert.ErrorIs(t, rewriteIPv4UDP([]byte{0x60}, [4]byte{}, [4]byte{}), syscall.EPROTONOSUPPORT)
	frag := append([]byte(nil), b...)
	frag[6] = 0x20 // more fragments
	assert.ErrorIs(t, rewriteIPv4UDP(frag, [4]byte{}, [4]byte{}), syscall.EPROTONOSUPPORT)
}

// FuzzVnetHdr: any header and packet bytes give an error or a packet
// state, never a panic; a packet the header accepts with a partial
// checksum can have it completed.
func FuzzVnetHdr(f *testing.F) {
	ip := udpPacket(f, "payload")
	f.Add([]byte{1, 0, 0, 0, 0, 0, 20, 0, 6, 0}, ip)
	f.Add([]byte{1, 5, 28, 0, 2, 0, 20, 0, 6, 0}, ip)
	f.Add([]byte{0, 0x81, 0, 0, 1, 0, 0, 0, 0, 0}, ip)
	f.Fuzz(func(t *testing.T, hb, body []byte) {
		h, err := ParseVnetHdr(hb)
		if err != nil {
			return
		}
		p := packet.New(len(body))
		if p.ReceiveL3(body, dev) != nil {
			return
		}
		if h.Apply(p) != nil {
			return
		}
		if p.Checksum == packet.ChecksumPartial {
			b := append([]byte(nil), p.Bytes()...)
			completeChecksum(b, int(p.CsumStart), int(p.CsumOffset))
		}
		b := append([]byte(nil), p.Bytes()...)
		_ = rewriteIPv4UDP(b, [4]byte{1, 2, 3, 4}, [4]byte{5, 6, 7, 8})
	})
}
