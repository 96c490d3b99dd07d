package action

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

var (
	csumSrc4 = net.IPv4(192, 0, 2, 1)
	csumDst4 = net.IPv4(198, 51, 100, 7)
	csumSrc6 = net.ParseIP("2001:db8::1")
	csumDst6 = net.ParseIP("2001:db8::ff:2")
)

// golden serializes layers with gopacket computing every checksum.
func golden(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	var net gopacket.NetworkLayer
	for _, l := range ls {
		if n, ok := l.(gopacket.NetworkLayer); ok {
			net = n
		}
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok && net != nil {
			require.NoError(t, c.SetNetworkLayerForChecksum(net))
		}
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ls...))
	return append([]byte{}, buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: t}
}

func ip4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 99, Protocol: p, SrcIP: csumSrc4, DstIP: csumDst4}
}

func ip6(p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: csumSrc6, DstIP: csumDst6}
}

var payload = gopacket.Payload("checksummed payload!")

// TestCsumAgainstGopacket corrupts the checksums of golden packets and
// requires the csum action to restore the golden bytes.
func TestCsumAgainstGopacket(t *testing.T) {
	all := CsumIPv4Header | CsumICMP | CsumIGMP | CsumTCP | CsumUDP | CsumUDPLite | CsumSCTP
	tcp := func() *layers.TCP {
		return &layers.TCP{SrcPort: 4242, DstPort: 80, Seq: 1, Ack: 2, PSH: true, ACK: true, Window: 1000, DataOffset: 5}
	}
	udp := func() *layers.UDP { return &layers.UDP{SrcPort: 53, DstPort: 5353} }
	tests := []struct {
		name    string
		frame   []byte
		sums    []int // offsets of checksum fields to corrupt
		update  CsumUpdate
		vlanOff bool // move the outer tag to the offload fields
		ingress bool
	}{
		{name: "ipv4_header", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), sums: []int{24}, update: CsumIPv4Header},
		{name: "ipv4_tcp", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload), sums: []int{24, 34 + 16}, update: all},
		{name: "ipv4_udp", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), sums: []int{24, 34 + 6}, update: all},
		{name: "ipv4_icmp", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 9}, payload), sums: []int{24, 34 + 2}, update: all},
		{name: "ipv4_tcp_ingress", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload), sums: []int{24, 34 + 16}, update: all, ingress: true},
		{name: "ipv6_tcp", frame: golden(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload), sums: []int{54 + 16}, update: CsumTCP},
		{name: "ipv6_udp", frame: golden(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload), sums: []int{54 + 6}, update: CsumUDP},
		{name: "ipv6_icmp", frame: golden(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, payload), sums: []int{54 + 2}, update: CsumICMP},
		{name: "ipv6_hop_by_hop_udp", frame: golden(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop), hopByHop(), udp(), payload), sums: []int{62 + 6}, update: CsumUDP},
		{name: "offloaded_vlan_udp", frame: golden(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp(), payload), sums: []int{28, 38 + 6}, update: all, vlanOff: true},
		{name: "in_frame_vlan_ingress", frame: golden(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp(), payload), sums: []int{28, 38 + 6}, update: all, ingress: true},
		{name: "qinq_ingress", frame: golden(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 6, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolTCP), tcp(), payload), sums: []int{32, 42 + 16}, update: all, ingress: true},
		{name: "ipv4_sctp", frame: golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolSCTP), &layers.SCTP{SrcPort: 1, DstPort: 2, VerificationTag: 3}, &layers.SCTPData{TSN: 1, StreamId: 1, PayloadProtocol: 0, Payload: []byte("sctp data!!!")}), sums: []int{34 + 8}, update: CsumSCTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{})
			c, _ := one(t, tbl, &Csum{Params: Params{Verdict: OK}, Update: tt.update}, FilterContext{})
			bad := append([]byte{}, tt.frame...)
			for _, off := range tt.sums {
				bad[off] ^= 0x5a
				bad[off+1] ^= 0xa5
			}
			pkt := egressPacket(t, bad)
			if tt.ingress {
				pkt.Direction = packet.Ingress
			}
			want := tt.frame
			if tt.vlanOff {
				require.NoError(t, pkt.UntagVLAN())
				want = append(append([]byte{}, tt.frame[:12]...), tt.frame[16:]...)
			}
			if tt.ingress && pkt.Protocol != 0x0800 {
				// eth_type_trans leaves data at the first tag; the network
				// header is there too.
				require.NoError(t, pkt.SetNetworkOffset(14))
			}
			var res Result
			assert.Equal(t, OK, c.Run(pkt, &res))
			assert.Equal(t, want, pkt.Bytes())
			assert.Equal(t, packet.ChecksumNone, pkt.Checksum)
		})
	}
}

func TestCsumEdgeCases(t *testing.T) {
	udpGolden := golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}, payload)
	run := func(t *testing.T, frame []byte, update CsumUpdate, v Verdict, prep func(*packet.Packet)) (*packet.Packet, Verdict, Stats) {
		tbl := NewTable(Config{})
		c, a := one(t, tbl, &Csum{Params: Params{Verdict: v}, Update: update}, FilterContext{})
		pkt := egressPacket(t, append([]byte{}, frame...))
		if prep != nil {
			prep(pkt)
		}
		var res Result
		got := c.Run(pkt, &res)
		return pkt, got, a.Stats()
	}
	t.Run("udp_zero_checksum_left_alone", func(t *testing.T) {
		f := append([]byte{}, udpGolden...)
		f[40], f[41] = 0, 0
		pkt, v, _ := run(t, f, CsumUDP, Pipe, nil)
		assert.Equal(t, Pipe, v)
		assert.Equal(t, f, pkt.Bytes())
	})
	t.Run("udp_length_mismatch_zeroes_checksum", func(t *testing.T) {
		f := append([]byte{}, udpGolden...)
		f[38], f[39] = 0, 9 // udph->len 9 while the packet says 28
		pkt, v, _ := run(t, f, CsumUDP, OK, nil)
		assert.Equal(t, OK, v)
		assert.Equal(t, []byte{0, 0}, pkt.Bytes()[40:42])
	})
	t.Run("udplite_coverage", func(t *testing.T) {
		// UDP-Lite header: ports 1 and 2, checksum coverage 8, garbage sum.
		lite := gopacket.Payload(append([]byte{0, 1, 0, 2, 0, 8, 0xde, 0xad}, payload...))
		f := golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDPLite), lite)
		pkt, v, _ := run(t, f, CsumUDPLite, OK, nil)
		assert.Equal(t, OK, v)
		b := pkt.Bytes()
		// The kernel puts the coverage, not the length, in the pseudo-header.
		pseudo := append(append(append([]byte{}, b[26:34]...), 0, 136), 0, 8)
		hdr := append([]byte{}, b[34:42]...)
		hdr[6], hdr[7] = 0, 0
		assert.Equal(t, beSum(append(pseudo, hdr...)), uint16(b[40])<<8|uint16(b[41]))
	})
	t.Run("igmp", func(t *testing.T) {
		// IGMPv2 membership report for 239.1.2.3 with a garbage checksum.
		msg := gopacket.Payload([]byte{0x16, 0, 0xde, 0xad, 239, 1, 2, 3})
		f := golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolIGMP), msg)
		pkt, v, _ := run(t, f, CsumIGMP, OK, nil)
		assert.Equal(t, OK, v)
		b := append([]byte{}, pkt.Bytes()[34:42]...)
		want := uint16(b[2])<<8 | uint16(b[3])
		b[2], b[3] = 0, 0
		assert.Equal(t, beSum(b), want)
	})
	t.Run("truncated_drops", func(t *testing.T) {
		_, v, st := run(t, udpGolden, CsumUDP, OK, func(p *packet.Packet) { require.NoError(t, p.Trim(40)) })
		assert.Equal(t, Shot, v)
		assert.Equal(t, uint64(1), st.Drops)
	})
	t.Run("short_ipv4_drops", func(t *testing.T) {
		_, v, _ := run(t, udpGolden, CsumIPv4Header, OK, func(p *packet.Packet) { require.NoError(t, p.Trim(30)) })
		assert.Equal(t, Shot, v)
	})
	t.Run("fragment_untouched", func(t *testing.T) {
		f := append([]byte{}, udpGolden...)
		f[20] = 0x00
		f[21] = 0x10 // fragment offset 16
		f[40] ^= 0xff
		pkt, v, _ := run(t, f, CsumUDP, OK, nil)
		assert.Equal(t, OK, v)
		assert.Equal(t, f, pkt.Bytes())
	})
	t.Run("configured_drop", func(t *testing.T) {
		_, v, st := run(t, udpGolden, CsumUDP, Shot, nil)
		assert.Equal(t, Shot, v)
		assert.Equal(t, uint64(1), st.Drops)
	})
	t.Run("not_ip_ignored", func(t *testing.T) {
		f := append([]byte{}, udpGolden...)
		f[12], f[13] = 0x08, 0x06
		pkt, v, _ := run(t, f, CsumUDP, OK, nil)
		assert.Equal(t, OK, v)
		assert.Equal(t, f, pkt.Bytes())
	})
	t.Run("gso_tcp_skipped", func(t *testing.T) {
		f := golden(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 1, DstPort: 2, DataOffset: 5}, payload)
		f[50] ^= 0xff
		pkt, v, _ := run(t, f, CsumTCP, OK, func(p *packet.Packet) { p.GSOSize, p.GSOType = 1000, 1 })
		assert.Equal(t, OK, v)
		assert.Equal(t, f, pkt.Bytes())
	})
	t.Run("ihl_below_5_copies_first_bytes", func(t *testing.T) {
		f := append([]byte{}, udpGolden...)
		f[14] = 0x44 // ihl 4
		pkt, v, _ := run(t, f, CsumIPv4Header, OK, nil)
		assert.Equal(t, OK, v)
		assert.Equal(t, []byte{0x44, f[15]}, pkt.Bytes()[24:26], "x86 ip_fast_csum returns the first word unfolded")
	})
}

func FuzzCsumAct(f *testing.F) {
	f.Add([]byte{}, uint8(0x7f), false)
	f.Add(udpFrame(f, 20), uint8(0x7f), true)
	f.Fuzz(func(t *testing.T, frame []byte, update uint8, ingress bool) {
		if len(frame) < 14 {
			return
		}
		tbl := NewTable(Config{})
		c, err := tbl.NewChain([]Spec{&Csum{Update: CsumUpdate(update)}}, FilterContext{})
		if err != nil {
			t.Fatal(err)
		}
		pkt := packet.New(len(frame))
		if err := pkt.SetFrame(frame); err != nil {
			return
		}
		if ingress {
			pkt.Direction = packet.Ingress
		}
		var res Result
		v := c.Run(pkt, &res)
		if v != OK && v != Shot {
			t.Fatalf("verdict %v", v)
		}
	})
}

// beSum is the textbook big-endian Internet checksum.
func beSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func hopByHop() *layers.IPv6HopByHop {
	h := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}}
	h.NextHeader = layers.IPProtocolUDP
	return h
}
