package csum

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfc1071 is the textbook big-endian Internet checksum, an independent
// reference for the kernel-representation functions.
func rfc1071(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// wire turns a kernel-representation 16-bit value into the big-endian
// number the packet bytes spell.
func wire(v uint16) uint16 {
	var b [2]byte
	Store16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}

func TestPartialFoldMatchesRFC1071(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		got := wire(Fold(Partial(b, 0)))
		want := rfc1071(b)
		// 0x0000 and 0xFFFF are the same one's-complement number; the
		// kernel yields 0xFFFF only for all-zero data.
		if want == 0 && got == 0xffff || want == 0xffff && got == 0 {
			continue
		}
		require.Equal(t, want, got, "length %d", n)
	}
}

func TestPartialSplitIsAssociative(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 1500)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for _, cut := range []int{0, 8, 16, 64, 800, 1496} {
		whole := Fold(Partial(b, 0))
		split := Fold(Partial(b[cut:], Partial(b[:cut], 0)))
		assert.Equal(t, whole, split, "cut at %d", cut)
	}
	assert.Equal(t, Wsum(0), Partial(make([]byte, 40), 0))
}

func TestAddSub(t *testing.T) {
	tests := []struct {
		name       string
		a, b, want Wsum
	}{
		{"plain", 1, 2, 3},
		{"carry", 0xffffffff, 1, 1},
		{"carry_high", 0x80000000, 0x80000000, 1},
		{"zero", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Add(tt.a, tt.b))
			assert.Equal(t, Add(tt.a, ^tt.b), Sub(tt.a, tt.b))
		})
	}
}

// buildIPv4 serializes an IPv4 packet with gopacket, which computes every
// checksum.
func buildIPv4(t *testing.T, l4 gopacket.SerializableLayer, proto layers.IPProtocol, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IPv4(10, 1, 2, 3), DstIP: net.IPv4(192, 168, 7, 9), Id: 0x1234}
	if nl, ok := l4.(interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}); ok {
		require.NoError(t, nl.SetNetworkLayerForChecksum(ip))
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ip, l4, gopacket.Payload(payload)))
	return buf.Bytes()
}

func TestIPFastAndTCPUDPMagicAgainstGopacket(t *testing.T) {
	payload := []byte("the quick brown fox jumps over the lazy dog!")
	tests := []struct {
		name  string
		l4    gopacket.SerializableLayer
		proto layers.IPProtocol
		off   int // checksum offset in the L4 header
	}{
		{"tcp", &layers.TCP{SrcPort: 1234, DstPort: 80, Seq: 7, Ack: 9, SYN: true, ACK: true, Window: 512, DataOffset: 5}, layers.IPProtocolTCP, 16},
		{"udp", &layers.UDP{SrcPort: 5353, DstPort: 53}, layers.IPProtocolUDP, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := buildIPv4(t, tt.l4, tt.proto, payload)
			hdr := pkt[:20]
			want := Load16(hdr[10:])
			Store16(hdr[10:], 0)
			assert.Equal(t, want, IPFast(hdr, 5), "ip header checksum")
			Store16(hdr[10:], want)

			l4 := pkt[20:]
			wantL4 := Load16(l4[tt.off:])
			Store16(l4[tt.off:], 0)
			got := TCPUDPMagic(Load32(hdr[12:]), Load32(hdr[16:]), uint32(len(l4)), uint8(tt.proto), Partial(l4, 0))
			assert.Equal(t, wantL4, got)
		})
	}
}

func TestIPv6MagicAgainstGopacket(t *testing.T) {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("fe80::1234:5678")}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 4001}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ip, udp, gopacket.Payload([]byte{1, 2, 3, 4, 5})))
	pkt := buf.Bytes()
	l4 := pkt[40:]
	want := Load16(l4[6:])
	Store16(l4[6:], 0)
	assert.Equal(t, want, IPv6Magic(pkt[8:24], pkt[24:40], uint32(len(l4)), 17, Partial(l4, 0)))
}

func TestIPFastMalformedIHL(t *testing.T) {
	hdr := []byte{0x44, 0xb8, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	assert.Equal(t, uint16(0xb844), IPFast(hdr, 4))
	assert.Equal(t, uint16(0xb844), IPFast(hdr, 0))
}

// TestReplaceMatchesRecompute changes random words of random data and
// checks every incremental update against a full recomputation.
func TestReplaceMatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := 0; iter < 2000; iter++ {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		sum := Fold(Partial(b, 0))
		off := 4 * r.IntN(16)
		from := Load32(b[off:])
		to := r.Uint32()
		if iter%50 == 0 {
			to = from
		}
		binary.LittleEndian.PutUint32(b[off:], to)
		want := Fold(Partial(b, 0))

		got4 := Replace4(sum, from, to)
		got2 := Replace2(Replace2(sum, uint16(from), uint16(to)), uint16(from>>16), uint16(to>>16))
		diff := Partial(nil, Add(Wsum(^from), Wsum(to)))
		gotDiff := ReplaceByDiff(sum, diff)
		for name, got := range map[string]uint16{"replace4": got4, "replace2": got2, "by_diff": gotDiff} {
			if want != got && !(want == 0 && got == 0xffff) && !(want == 0xffff && got == 0) {
				t.Fatalf("%s: iter %d: want %#x got %#x", name, iter, want, got)
			}
		}
	}
}

func TestProtoReplace(t *testing.T) {
	t.Run("none_updates_field_only", func(t *testing.T) {
		sum := uint16(0x1234)
		var skbCsum uint32 = 77
		Proto4(&sum, State{Csum: &skbCsum}, 1, 2, true)
		assert.Equal(t, Replace4(0x1234, 1, 2), sum)
		assert.Equal(t, uint32(77), skbCsum)
	})
	t.Run("complete_updates_skb_csum", func(t *testing.T) {
		sum := uint16(0x1234)
		skbCsum := uint32(0x5000)
		Proto4(&sum, State{Complete: true, Csum: &skbCsum}, 1, 2, true)
		assert.Equal(t, uint32(^Add(Sub(^Wsum(0x5000), 1), 2)), skbCsum)
	})
	t.Run("partial_pseudo_header", func(t *testing.T) {
		sum := uint16(0x1234)
		Proto4(&sum, State{Partial: true}, 1, 2, true)
		assert.Equal(t, ^Fold(Add(Sub(0x1234, 1), 2)), sum)
		sum = 0x1234
		Proto4(&sum, State{Partial: true}, 1, 2, false)
		assert.Equal(t, uint16(0x1234), sum)
	})
	t.Run("replace16_matches_recompute", func(t *testing.T) {
		b := make([]byte, 48)
		for i := range b {
			b[i] = byte(i * 7)
		}
		sum := Fold(Partial(b, 0))
		from := append([]byte(nil), b[16:32]...)
		to := []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}
		copy(b[16:], to)
		Proto16(&sum, State{}, from, to, true)
		assert.Equal(t, Fold(Partial(b, 0)), sum)
	})
	t.Run("by_diff_ipv6_skips_complete", func(t *testing.T) {
		sum := uint16(0x1)
		skbCsum := uint32(9)
		ProtoByDiff(&sum, State{Complete: true, Csum: &skbCsum}, 5, true, true)
		assert.Equal(t, uint32(9), skbCsum)
		ProtoByDiff(&sum, State{Complete: true, Csum: &skbCsum}, 5, true, false)
		assert.Equal(t, uint32(^Sub(5, 9)), skbCsum)
	})
}

func TestCRC32cKnownVector(t *testing.T) {
	// RFC 3720 B.4: 32 bytes of zeros give 0x8A9136AA.
	assert.Equal(t, uint32(0x8a9136aa), CRC32c(make([]byte, 32)))
}

func FuzzPartial(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{0xff, 0xff, 0xff}, uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, b []byte, init uint32) {
		got := Partial(b, Wsum(init))
		if init == 0 {
			want := rfc1071(b)
			g := wire(Fold(got))
			if want != g && !(want == 0 && g == 0xffff) && !(want == 0xffff && g == 0) {
				t.Fatalf("fold mismatch: want %#x got %#x", want, g)
			}
		}
		if len(b) > 1 {
			h := len(b) / 2 &^ 1
			split := Partial(b[h:], Partial(b[:h], Wsum(init)))
			if Fold(split) != Fold(got) {
				t.Fatalf("split sum differs")
			}
		}
	})
}

func BenchmarkPartial1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(1500)
	b.ReportAllocs()
	for b.Loop() {
		_ = Partial(buf, 0)
	}
}
