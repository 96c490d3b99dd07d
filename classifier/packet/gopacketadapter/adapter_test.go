package gopacketadapter

import (
	"bytes"
	"net"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

var (
	macA   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	devB   = packet.EthernetDevice(7, [6]byte(macB))
	stamp  = time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	ip4Src = net.IP{10, 0, 0, 1}
	ip4Dst = net.IP{10, 0, 0, 2}
)

// build serializes layers into a frame.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...))
	return bytes.Clone(buf.Bytes())
}

func udp4(t testing.TB) []gopacket.SerializableLayer {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip4Src, DstIP: ip4Dst}
	u := &layers.UDP{SrcPort: 1000, DstPort: 53}
	require.NoError(t, u.SetNetworkLayerForChecksum(ip))
	return []gopacket.SerializableLayer{ip, u, gopacket.Payload("query")}
}

// decoded returns data as gopacket decodes it from first, with capture
// metadata.
func decoded(data []byte, first gopacket.Decoder, ifindex int) gopacket.Packet {
	p := gopacket.NewPacket(data, first, gopacket.Default)
	p.Metadata().CaptureInfo = gopacket.CaptureInfo{Timestamp: stamp, CaptureLength: len(data), Length: len(data), InterfaceIndex: ifindex}
	return p
}

func TestFromGopacket(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	plain := build(t, append([]gopacket.SerializableLayer{eth}, udp4(t)...)...)
	tagged := build(t, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{Priority: 5, DropEligible: true, VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
	}, udp4(t)...)...)
	qinq := build(t, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeQinQ},
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{Priority: 1, VLANIdentifier: 7, Type: layers.EthernetTypeIPv4},
	}, udp4(t)...)...)
	raw := build(t, udp4(t)...)

	tests := []struct {
		name  string
		data  []byte
		first gopacket.Decoder
		opts  Options
		// want builds the expected packet with the packet package.
		want func(p *packet.Packet) error
	}{
		{
			name: "as_captured", data: plain, first: layers.LayerTypeEthernet,
			want: func(p *packet.Packet) error { err := p.SetFrame(plain); p.Ifindex = 3; return err },
		},
		{
			name: "as_captured_tag_stays", data: tagged, first: layers.LayerTypeEthernet,
			want: func(p *packet.Packet) error { err := p.SetFrame(tagged); p.Ifindex = 3; return err },
		},
		{
			name: "receive", data: plain, first: layers.LayerTypeEthernet, opts: Options{Path: Receive, Device: devB},
			want: func(p *packet.Packet) error { return p.Receive(plain, devB) },
		},
		{
			name: "receive_untags", data: tagged, first: layers.LayerTypeEthernet, opts: Options{Path: Receive, Device: devB},
			want: func(p *packet.Packet) error { return p.Receive(tagged, devB) },
		},
		{
			name: "receive_qinq_outer_only", data: qinq, first: layers.LayerTypeEthernet, opts: Options{Path: Receive, Device: devB},
			want: func(p *packet.Packet) error { return p.Receive(qinq, devB) },
		},
		{
			name: "receive_ifindex_from_capture", data: plain, first: layers.LayerTypeEthernet,
			opts: Options{Path: Receive, Device: packet.EthernetDevice(0, [6]byte(macB))},
			want: func(p *packet.Packet) error { return p.Receive(plain, packet.EthernetDevice(3, [6]byte(macB))) },
		},
		{
			name: "receive_zero_device_is_ethernet", data: qinq, first: layers.LayerTypeEthernet, opts: Options{Path: Receive},
			want: func(p *packet.Packet) error { return p.Receive(qinq, packet.EthernetDevice(3, [6]byte{})) },
		},
		{
			name: "transmit", data: tagged, first: layers.LayerTypeEthernet, opts: Options{Path: Transmit, Device: devB},
			want: func(p *packet.Packet) error { return p.Transmit(tagged, devB) },
		},
		{
			name: "raw_ip_as_captured", data: raw, first: layers.LayerTypeIPv4,
			want: func(p *packet.Packet) error { err := p.SetL3(raw); p.Ifindex = 3; return err },
		},
		{
			name: "raw_ip_receive_on_tun", data: raw, first: layers.LayerTypeIPv4,
			opts: Options{Path: Receive, Device: packet.Device{Ifindex: 9, Type: packet.ARPHRDNone}},
			want: func(p *packet.Packet) error {
				err := p.SetL3(raw)
				p.Ifindex, p.IngressIfindex, p.WireLen = 9, 9, uint32(len(raw))
				return err
			},
		},
		{
			name: "raw_ip_transmit", data: raw, first: layers.LayerTypeIPv4,
			opts: Options{Path: Transmit, Device: packet.Device{Ifindex: 9, Type: packet.ARPHRDNone}},
			want: func(p *packet.Packet) error {
				err := p.SetL3(raw)
				p.Ifindex, p.Direction, p.WireLen = 9, packet.Egress, uint32(len(raw))
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, want packet.Packet
			got.Slot, want.Slot = 4, 4
			require.NoError(t, FromGopacket(&got, decoded(tt.data, tt.first, 3), tt.opts))
			require.NoError(t, tt.want(&want))
			want.Tstamp, want.TstampType = uint64(stamp.UnixNano()), packet.TstampRealtime
			assert.Equal(t, want.Bytes(), got.Bytes())
			assert.Equal(t, want.MACLen(), got.MACLen())
			assert.Equal(t, want.NetworkOffset(), got.NetworkOffset())
			assert.Equal(t, want.TransportOffset(), got.TransportOffset())
			assert.Equal(t, fieldsOf(&want), fieldsOf(&got), "every exported field")
		})
	}
}

// fieldsOf returns p's exported fields by name, so the comparison covers
// every metadata field, present and future, and ignores the buffer.
func fieldsOf(p *packet.Packet) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.IsExported() {
			out[f.Name] = v.Field(i).Interface()
		}
	}
	return out
}

// TestDot1QMapping checks the offloaded tag against gopacket's own
// decoding of the Dot1Q layer, for every priority, DEI and a spread of ids.
func TestDot1QMapping(t *testing.T) {
	var p packet.Packet
	for prio := uint8(0); prio < 8; prio++ {
		for _, dei := range []bool{false, true} {
			for _, id := range []uint16{0, 1, 100, 4094, 4095} {
				for _, tpid := range []layers.EthernetType{layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ} {
					frame := build(t, append([]gopacket.SerializableLayer{
						&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: tpid},
						&layers.Dot1Q{Priority: prio, DropEligible: dei, VLANIdentifier: id, Type: layers.EthernetTypeIPv4},
					}, udp4(t)...)...)
					gp := decoded(frame, layers.LayerTypeEthernet, 0)
					require.NoError(t, FromGopacket(&p, gp, Options{Path: Receive, Device: devB}))
					d := gp.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
					require.True(t, p.VLANPresent)
					assert.Equal(t, uint16(tpid), p.VLANProto)
					assert.Equal(t, d.VLANIdentifier, p.VLANTCI&0x0fff)
					assert.Equal(t, d.Priority, uint8(p.VLANTCI>>13))
					assert.Equal(t, d.DropEligible, p.VLANTCI&0x1000 != 0)
					assert.Equal(t, uint16(d.Type), p.Protocol)

					back := ToGopacket(&p, gopacket.Default)
					assert.Equal(t, frame, back.Data(), "the tag goes back where it was")
					assert.Equal(t, d, back.Layer(layers.LayerTypeDot1Q))
				}
			}
		}
	}
}

func TestToGopacket(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	plain := build(t, append([]gopacket.SerializableLayer{eth}, udp4(t)...)...)
	raw := build(t, udp4(t)...)

	t.Run("ethernet", func(t *testing.T) {
		var p packet.Packet
		require.NoError(t, p.Receive(plain, devB))
		p.Tstamp = uint64(stamp.UnixNano())
		gp := ToGopacket(&p, gopacket.Default)
		assert.Equal(t, plain, gp.Data())
		require.NotNil(t, gp.Layer(layers.LayerTypeUDP))
		assert.Equal(t, layers.UDPPort(53), gp.Layer(layers.LayerTypeUDP).(*layers.UDP).DstPort)
		ci := gp.Metadata().CaptureInfo
		assert.Equal(t, gopacket.CaptureInfo{Timestamp: stamp, CaptureLength: len(plain), Length: len(plain), InterfaceIndex: 7}, ci)
	})
	t.Run("raw_ipv4", func(t *testing.T) {
		var p packet.Packet
		require.NoError(t, p.SetL3(raw))
		gp := ToGopacket(&p, gopacket.Default)
		assert.Equal(t, raw, gp.Data())
		assert.NotNil(t, gp.Layer(layers.LayerTypeUDP))
		assert.Nil(t, gp.LinkLayer())
		assert.True(t, gp.Metadata().Timestamp.IsZero())
	})
	t.Run("raw_ipv6", func(t *testing.T) {
		ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolNoNextHeader, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
		b := build(t, ip)
		var p packet.Packet
		require.NoError(t, p.SetL3(b))
		gp := ToGopacket(&p, gopacket.Default)
		assert.NotNil(t, gp.Layer(layers.LayerTypeIPv6))
	})
	t.Run("unknown_l3_is_payload", func(t *testing.T) {
		var p packet.Packet
		require.NoError(t, p.SetL3([]byte{0x10, 1, 2}))
		gp := ToGopacket(&p, gopacket.Default)
		assert.NotNil(t, gp.Layer(gopacket.LayerTypePayload))
	})
	t.Run("copy_unless_nocopy", func(t *testing.T) {
		var p packet.Packet
		require.NoError(t, p.SetFrame(plain))
		copied := ToGopacket(&p, gopacket.Default)
		aliased := ToGopacket(&p, gopacket.DecodeOptions{NoCopy: true})
		p.Bytes()[0] ^= 0xff
		assert.Equal(t, plain, copied.Data())
		assert.NotEqual(t, plain, aliased.Data())
	})
	t.Run("monotonic_stamp_not_mapped", func(t *testing.T) {
		var p packet.Packet
		require.NoError(t, p.SetFrame(plain))
		p.Tstamp, p.TstampType = 5, packet.TstampMonotonic
		assert.True(t, ToGopacket(&p, gopacket.Default).Metadata().Timestamp.IsZero())
	})
}

func TestFromGopacketErrors(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	plain := build(t, append([]gopacket.SerializableLayer{eth}, udp4(t)...)...)
	tests := []struct {
		name  string
		pkt   gopacket.Packet
		opts  Options
		errno syscall.Errno
		is    error
	}{
		{"empty", decoded(nil, layers.LayerTypeEthernet, 0), Options{}, syscall.EINVAL, ErrEmpty},
		{"runt_ethernet", decoded(plain[:10], layers.LayerTypeEthernet, 0), Options{}, syscall.EPROTONOSUPPORT, ErrLinkType},
		{"linux_sll", decoded(append(make([]byte, 16), plain[14:]...), layers.LayerTypeLinuxSLL, 0), Options{}, syscall.EPROTONOSUPPORT, ErrLinkType},
		{"ppp", decoded([]byte{0xff, 0x03, 0x00, 0x21, 0x45}, layers.LayerTypePPP, 0), Options{}, syscall.EPROTONOSUPPORT, ErrLinkType},
		{"unknown_path", decoded(plain, layers.LayerTypeEthernet, 0), Options{Path: 9}, syscall.EINVAL, nil},
		{"tagged_runt_on_receive", decoded(build(t,
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 1, Type: layers.EthernetTypeIPv4},
		)[:19], layers.LayerTypeEthernet, 0), Options{Path: Receive, Device: devB}, syscall.EINVAL, packet.ErrTruncated},
		{"too_long", decoded(append(bytes.Clone(plain[:14]), make([]byte, packet.MaxLen)...), layers.LayerTypeEthernet, 0), Options{}, syscall.EMSGSIZE, packet.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p packet.Packet
			err := FromGopacket(&p, tt.pkt, tt.opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.errno)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

func TestPathString(t *testing.T) {
	assert.Equal(t, "as-captured", AsCaptured.String())
	assert.Equal(t, "receive", Receive.String())
	assert.Equal(t, "transmit", Transmit.String())
	assert.Equal(t, "Path(9)", Path(9).String())
}

func TestFromGopacketAllocatesNothing(t *testing.T) {
	frame := build(t, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
	}, udp4(t)...)...)
	gp := decoded(frame, layers.LayerTypeEthernet, 2) // decoded eagerly: no lazy work left
	p := packet.New(len(frame))
	for _, path := range []Path{AsCaptured, Receive, Transmit} {
		allocs := testing.AllocsPerRun(100, func() {
			_ = FromGopacket(p, gp, Options{Path: path, Device: devB})
		})
		assert.Zero(t, allocs, path.String())
	}
}

// FuzzRoundTrip: any bytes decoded as Ethernet either are refused or go
// through Receive and back to the same bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add(build(f, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}}, udp4(f)...)...))
	f.Add(build(f, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
	}, udp4(f)...)...))
	f.Add([]byte{0x81, 0x00})
	var p packet.Packet
	f.Fuzz(func(t *testing.T, data []byte) {
		gp := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		for _, path := range []Path{AsCaptured, Receive, Transmit} {
			if err := FromGopacket(&p, gp, Options{Path: path, Device: devB}); err != nil {
				continue
			}
			back := ToGopacket(&p, gopacket.Default)
			if !bytes.Equal(back.Data(), data) {
				t.Fatalf("%v: round trip changed %x into %x", path, data, back.Data())
			}
		}
	})
}

func BenchmarkFromGopacket(b *testing.B) {
	frame := build(b, append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
	}, udp4(b)...)...)
	gp := decoded(frame, layers.LayerTypeEthernet, 2)
	p := packet.New(len(frame))
	for _, path := range []Path{AsCaptured, Receive} {
		b.Run(path.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := FromGopacket(p, gp, Options{Path: path, Device: devB}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
