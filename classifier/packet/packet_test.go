package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	macA   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
	mcast4 = [6]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
	zero6  = [6]byte{}
)

// frame builds an Ethernet frame: dst, src, then the 16-bit words of
// types (EtherTypes, TCIs, lengths), then payload.
func frame(dst [6]byte, types []uint16, payload ...byte) []byte {
	b := append([]byte{}, dst[:]...)
	b = append(b, macA[:]...)
	for _, t := range types {
		b = binary.BigEndian.AppendUint16(b, t)
	}
	return append(b, payload...)
}

// filled returns n bytes counting up from start.
func filled(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// checkInvariants asserts the layout rules every operation keeps.
func checkInvariants(t testing.TB, p *Packet) {
	t.Helper()
	buf, data, lin, end := p.Buffer()
	if p.buf == nil {
		return
	}
	if !(p.meta >= 0 && p.meta <= MaxMetaLen && data-p.meta >= 0 && data <= lin && lin <= end && end <= len(buf)) {
		t.Fatalf("layout broken: meta %d data %d linear end %d end %d len(buf) %d", p.meta, data, lin, end, len(buf))
	}
	if p.Len() > MaxLen {
		t.Fatalf("frame of %d bytes exceeds MaxLen", p.Len())
	}
	if len(p.Data()) != p.LinearLen() || len(p.Bytes()) != p.Len() || len(p.Meta()) != p.meta {
		t.Fatalf("slices disagree with lengths")
	}
	if p.Headroom() < 0 || p.Tailroom() < 0 {
		t.Fatalf("negative room: head %d tail %d", p.Headroom(), p.Tailroom())
	}
}

func TestSetFrameProtocol(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  uint16
	}{
		{"ipv4", frame(macB, []uint16{0x0800}, filled(20, 0x45)...), 0x0800},
		{"ipv6", frame(macB, []uint16{0x86dd}, filled(40, 0x60)...), 0x86dd},
		{"arp_header_only", frame(macB, []uint16{0x0806}), 0x0806},
		{"8021q_stays_in_frame", frame(macB, []uint16{0x8100, 0x0005, 0x0800}, filled(20, 0x45)...), 0x8100},
		{"8021ad_stays_in_frame", frame(macB, []uint16{0x88a8, 0x0005, 0x8100, 0x0006, 0x0800}), 0x88a8},
		{"ethertype_min_0600", frame(macB, []uint16{0x0600}, 1, 2), 0x0600},
		{"length_05ff_llc", frame(macB, []uint16{0x05ff}, 0x42, 0x42, 3), 0x0004},
		{"length_raw_ipx", frame(macB, []uint16{0x0040}, 0xff, 0xff, 0, 0x40), 0x0001},
		{"length_ff_then_fe_is_llc", frame(macB, []uint16{0x0040}, 0xff, 0xfe), 0x0004},
		{"length_one_payload_byte", frame(macB, []uint16{0x0001}, 0xff), 0x0004},
		{"length_no_payload", frame(macB, []uint16{0x0001}), 0x0004},
		{"length_zero", frame(macB, []uint16{0x0000}, 0xff, 0xff), 0x0001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			require.NoError(t, p.SetFrame(tt.frame))
			assert.Equal(t, tt.want, p.Protocol)
			assert.Equal(t, tt.frame, p.Bytes())
			assert.Equal(t, tt.frame, p.Data())
			assert.Equal(t, len(tt.frame), p.Len())
			assert.Equal(t, len(tt.frame), p.LinearLen())
			assert.Equal(t, 14, p.MACLen())
			assert.Equal(t, 0, p.MACOffset())
			assert.Equal(t, 14, p.NetworkOffset())
			assert.Equal(t, -1, p.TransportOffset())
			assert.Equal(t, Host, p.PktType)
			assert.Equal(t, Ingress, p.Direction)
			assert.Equal(t, uint16(ARPHRDEther), p.DeviceType)
			assert.Zero(t, p.Ifindex)
			assert.False(t, p.VLANPresent)
			assert.Empty(t, p.Meta())
			checkInvariants(t, &p)
		})
	}
}

func TestSetFrameErrors(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		errno syscall.Errno
		is    error
	}{
		{"nil", nil, syscall.EINVAL, ErrTruncated},
		{"13_bytes", make([]byte, 13), syscall.EINVAL, ErrTruncated},
		{"over_max_len", make([]byte, MaxLen+1), syscall.EMSGSIZE, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(64)
			require.NoError(t, p.SetFrame(frame(macB, []uint16{0x0800}, 1, 2, 3)))
			err := p.SetFrame(tt.frame)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.errno)
			assert.ErrorIs(t, err, tt.is)
		})
	}
	t.Run("max_len_accepted", func(t *testing.T) {
		var p Packet
		require.NoError(t, p.SetFrame(make([]byte, MaxLen)))
		assert.Equal(t, MaxLen, p.Len())
		assert.ErrorIs(t, p.Put(1), syscall.EMSGSIZE)
		assert.ErrorIs(t, p.Push(1), syscall.EMSGSIZE)
		assert.Equal(t, MaxLen, p.Len())
		checkInvariants(t, &p)
	})
}

// setAllExported gives every exported field of p a non-zero value.
func setAllExported(p *Packet) {
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		fillNonZero(v.Field(i))
	}
}

func fillNonZero(f reflect.Value) {
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f.SetUint(7)
	case reflect.Int, reflect.Int32, reflect.Int64:
		f.SetInt(7)
	case reflect.Array:
		for i := 0; i < f.Len(); i++ {
			fillNonZero(f.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < f.NumField(); i++ {
			fillNonZero(f.Field(i))
		}
	default:
		panic("unhandled kind " + f.Kind().String())
	}
}

func TestSetFrameResetsMetadata(t *testing.T) {
	for _, ctor := range []struct {
		name string
		fn   func(p *Packet, f []byte) error
		want map[string]any
	}{
		{"SetFrame", func(p *Packet, f []byte) error { return p.SetFrame(f) },
			map[string]any{"Protocol": uint16(0x86dd), "DeviceType": uint16(ARPHRDEther)}},
		{"SetL3", func(p *Packet, f []byte) error { return p.SetL3(f[14:]) },
			map[string]any{"Protocol": uint16(0x86dd), "DeviceType": uint16(ARPHRDNone)}},
		{"Receive", func(p *Packet, f []byte) error { return p.Receive(f, EthernetDevice(3, macA)) },
			map[string]any{"Protocol": uint16(0x86dd), "DeviceType": uint16(ARPHRDEther), "Ifindex": uint32(3), "IngressIfindex": uint32(3), "WireLen": uint32(40)}},
		{"Transmit", func(p *Packet, f []byte) error { return p.Transmit(f, EthernetDevice(3, macA)) },
			map[string]any{"Protocol": uint16(0x86dd), "DeviceType": uint16(ARPHRDEther), "Ifindex": uint32(3), "WireLen": uint32(54), "Direction": Egress}},
	} {
		t.Run(ctor.name, func(t *testing.T) {
			p := New(0)
			require.NoError(t, p.SetFrame(frame(macB, []uint16{0x8100, 7, 0x0800}, filled(30, 0)...)))
			require.NoError(t, p.UntagVLAN())
			require.NoError(t, p.SetMetaLen(8))
			require.NoError(t, p.SetTransportOffset(34))
			require.NoError(t, p.SetLinearLen(20))
			setAllExported(p)

			f := frame(macA, []uint16{0x86dd}, filled(40, 0x60)...)
			require.NoError(t, ctor.fn(p, f))
			v := reflect.ValueOf(p).Elem()
			for i := 0; i < v.NumField(); i++ {
				field := v.Type().Field(i)
				if !field.IsExported() {
					continue
				}
				got := v.Field(i).Interface()
				switch want, ok := ctor.want[field.Name]; {
				case field.Name == "Slot":
					assert.Equal(t, uint32(7), got, "Slot survives")
				case ok:
					assert.Equal(t, want, got, field.Name)
				default:
					assert.True(t, v.Field(i).IsZero(), "%s is reset, got %v", field.Name, got)
				}
			}
			assert.Empty(t, p.Meta())
			assert.Equal(t, p.Len(), p.LinearLen())
			checkInvariants(t, p)
		})
	}
}

func TestSetMACOffset(t *testing.T) {
	p := New(64)
	require.NoError(t, p.SetFrame(frame(macB, []uint16{0x0800}, filled(46, 0x45)...)))
	require.NoError(t, p.SetMACOffset(4))
	assert.Equal(t, 4, p.MACOffset())
	assert.Equal(t, 10, p.MACLen())
	require.NoError(t, p.SetMACOffset(-1))
	assert.Equal(t, -1, p.MACOffset())
	assert.Equal(t, 0, p.MACLen())
	before := *p
	assert.ErrorIs(t, p.SetMACOffset(-2), syscall.EFAULT)
	assert.ErrorIs(t, p.SetMACOffset(61), syscall.EFAULT)
	assert.Equal(t, before, *p)
}

func TestSetFrameAliasesOwnBuffer(t *testing.T) {
	f := frame(macB, []uint16{0x0800}, filled(50, 0x45)...)
	for _, push := range []int{0, 3, 4, 14, 300} {
		p := New(len(f))
		require.NoError(t, p.SetFrame(f))
		require.NoError(t, p.Push(push))
		copy(p.Bytes(), f)
		require.NoError(t, p.Trim(len(f)))
		require.NoError(t, p.SetFrame(p.Bytes()))
		assert.Equal(t, f, p.Bytes(), "push %d", push)
		assert.Equal(t, uint16(0x0800), p.Protocol, "push %d", push)
	}
}

func TestSetL3(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want uint16
	}{
		{"ipv4", filled(20, 0x45), 0x0800},
		{"ipv6", filled(40, 0x60), 0x86dd},
		{"one_byte_ipv4_nibble", []byte{0x4f}, 0x0800},
		{"version_5_unknown", []byte{0x50, 0}, 0},
		{"version_0_unknown", []byte{0x00}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			require.NoError(t, p.SetL3(tt.pkt))
			assert.Equal(t, tt.want, p.Protocol)
			assert.Equal(t, tt.pkt, p.Bytes())
			assert.Equal(t, 0, p.MACLen())
			assert.Equal(t, 0, p.MACOffset())
			assert.Equal(t, 0, p.NetworkOffset())
			assert.Equal(t, uint16(ARPHRDNone), p.DeviceType)
			checkInvariants(t, &p)
		})
	}
	t.Run("empty", func(t *testing.T) {
		var p Packet
		assert.ErrorIs(t, p.SetL3(nil), syscall.EINVAL)
	})
	t.Run("too_long", func(t *testing.T) {
		var p Packet
		assert.ErrorIs(t, p.SetL3(make([]byte, MaxLen+1)), syscall.EMSGSIZE)
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantCap int
	}{
		{"zero", 0, Headroom + MaxMetaLen + Tailroom},
		{"negative", -5, Headroom + MaxMetaLen + Tailroom},
		{"1500", 1500, Headroom + MaxMetaLen + 1500 + Tailroom},
		{"above_max", MaxLen + 1000, Headroom + MaxMetaLen + MaxLen + Tailroom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.n)
			assert.Equal(t, tt.wantCap, len(p.buf))
			assert.Equal(t, 0, p.Len())
			assert.Equal(t, -1, p.MACOffset())
			assert.Equal(t, -1, p.NetworkOffset())
			assert.Equal(t, -1, p.TransportOffset())
			assert.Equal(t, Headroom+MaxMetaLen, p.Headroom())
			checkInvariants(t, p)
		})
	}
}

func TestZeroValue(t *testing.T) {
	var p Packet
	assert.Equal(t, 0, p.Len())
	assert.Empty(t, p.Bytes())
	assert.Empty(t, p.Data())
	assert.Empty(t, p.Meta())
	assert.Equal(t, -1, p.MACOffset())
	assert.Equal(t, -1, p.NetworkOffset())
	assert.Equal(t, -1, p.TransportOffset())
	assert.NoError(t, p.Pull(0))
	assert.Error(t, p.Pull(1))
	assert.Error(t, p.SetMetaLen(1))
	assert.ErrorIs(t, p.UntagVLAN(), syscall.EINVAL)

	var q Packet
	require.NoError(t, q.Push(4))
	assert.Equal(t, 4, q.Len())
	assert.Equal(t, -1, q.MACOffset())
	checkInvariants(t, &q)

	var r Packet
	require.NoError(t, r.Put(10))
	assert.Equal(t, make([]byte, 10), r.Bytes())
	assert.Equal(t, -1, r.NetworkOffset())
	checkInvariants(t, &r)
}

func TestBufferOps(t *testing.T) {
	base := frame(macB, []uint16{0x0800}, filled(46, 0x45)...) // 60 bytes
	type op func(p *Packet) error
	tests := []struct {
		name      string
		ops       []op
		wantLen   int
		wantLin   int
		wantBytes []byte // nil: not checked
		wantMAC   int
		wantNet   int
	}{
		{
			name:    "push_keeps_header_positions",
			ops:     []op{func(p *Packet) error { return p.Push(4) }},
			wantLen: 64, wantLin: 64, wantMAC: 4, wantNet: 18,
		},
		{
			name:      "pull_mac_header",
			ops:       []op{func(p *Packet) error { return p.Pull(14) }},
			wantLen:   46,
			wantLin:   46,
			wantBytes: base[14:],
			wantMAC:   -14 + 0, wantNet: 0,
		},
		{
			name:      "pull_then_push_restores",
			ops:       []op{func(p *Packet) error { return p.Pull(14) }, func(p *Packet) error { return p.Push(14) }},
			wantLen:   60,
			wantLin:   60,
			wantBytes: base,
			wantMAC:   0, wantNet: 14,
		},
		{
			name:      "put_zeroes_tail",
			ops:       []op{func(p *Packet) error { return p.Put(4) }},
			wantLen:   64,
			wantLin:   64,
			wantBytes: append(append([]byte{}, base...), 0, 0, 0, 0),
			wantMAC:   0, wantNet: 14,
		},
		{
			name:      "put_on_nonlinear_stays_paged",
			ops:       []op{func(p *Packet) error { return p.SetLinearLen(20) }, func(p *Packet) error { return p.Put(4) }},
			wantLen:   64,
			wantLin:   20,
			wantBytes: append(append([]byte{}, base...), 0, 0, 0, 0),
			wantMAC:   0, wantNet: 14,
		},
		{
			name:      "trim_cuts_linear",
			ops:       []op{func(p *Packet) error { return p.Trim(10) }},
			wantLen:   10,
			wantLin:   10,
			wantBytes: base[:10],
			wantMAC:   0, wantNet: 14,
		},
		{
			name:      "trim_beyond_linear_keeps_it",
			ops:       []op{func(p *Packet) error { return p.SetLinearLen(20) }, func(p *Packet) error { return p.Trim(30) }},
			wantLen:   30,
			wantLin:   20,
			wantBytes: base[:30],
			wantMAC:   0, wantNet: 14,
		},
		{
			name:    "trim_to_zero",
			ops:     []op{func(p *Packet) error { return p.Trim(0) }},
			wantLen: 0, wantLin: 0, wantBytes: []byte{}, wantMAC: 0, wantNet: 14,
		},
		{
			name: "push_beyond_headroom_reallocates",
			ops: []op{
				func(p *Packet) error { return p.SetMetaLen(16) },
				func(p *Packet) error { return p.Push(Headroom + MaxMetaLen) },
			},
			wantLen: 60 + Headroom + MaxMetaLen, wantLin: 60 + Headroom + MaxMetaLen,
			wantMAC: Headroom + MaxMetaLen, wantNet: Headroom + MaxMetaLen + 14,
		},
		{
			name:      "put_beyond_tailroom_reallocates",
			ops:       []op{func(p *Packet) error { return p.Put(5000) }},
			wantLen:   5060,
			wantLin:   5060,
			wantBytes: append(append([]byte{}, base...), make([]byte, 5000)...),
			wantMAC:   0, wantNet: 14,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(len(base))
			require.NoError(t, p.SetFrame(base))
			for i, o := range tt.ops {
				require.NoError(t, o(p), "op %d", i)
				checkInvariants(t, p)
			}
			assert.Equal(t, tt.wantLen, p.Len())
			assert.Equal(t, tt.wantLin, p.LinearLen())
			if tt.wantBytes != nil {
				assert.Equal(t, tt.wantBytes, p.Bytes())
			}
			assert.Equal(t, tt.wantMAC, p.MACOffset())
			assert.Equal(t, tt.wantNet, p.NetworkOffset())
			assert.Equal(t, 14, p.MACLen())
			if i := bytes.Index(p.Bytes(), base); tt.wantBytes == nil {
				assert.Equal(t, tt.wantMAC, i, "frame content keeps its place")
			}
		})
	}
}

func TestBufferOpErrors(t *testing.T) {
	tests := []struct {
		name  string
		op    func(p *Packet) error
		errno syscall.Errno
	}{
		{"push_negative", func(p *Packet) error { return p.Push(-1) }, syscall.EINVAL},
		{"put_negative", func(p *Packet) error { return p.Put(-1) }, syscall.EINVAL},
		{"pull_negative", func(p *Packet) error { return p.Pull(-1) }, syscall.EFAULT},
		{"pull_past_linear", func(p *Packet) error { return p.Pull(21) }, syscall.EFAULT},
		{"trim_negative", func(p *Packet) error { return p.Trim(-1) }, syscall.EFAULT},
		{"trim_grow", func(p *Packet) error { return p.Trim(61) }, syscall.EFAULT},
		{"linear_negative", func(p *Packet) error { return p.SetLinearLen(-1) }, syscall.EFAULT},
		{"linear_past_end", func(p *Packet) error { return p.SetLinearLen(61) }, syscall.EFAULT},
		{"meta_negative", func(p *Packet) error { return p.SetMetaLen(-1) }, syscall.EINVAL},
		{"meta_too_long", func(p *Packet) error { return p.SetMetaLen(MaxMetaLen + 1) }, syscall.EINVAL},
		{"network_negative", func(p *Packet) error { return p.SetNetworkOffset(-1) }, syscall.EFAULT},
		{"network_past_end", func(p *Packet) error { return p.SetNetworkOffset(61) }, syscall.EFAULT},
		{"transport_negative", func(p *Packet) error { return p.SetTransportOffset(-2) }, syscall.EFAULT},
		{"transport_past_end", func(p *Packet) error { return p.SetTransportOffset(61) }, syscall.EFAULT},
		{"push_past_max_len", func(p *Packet) error { return p.Push(MaxLen - 59) }, syscall.EMSGSIZE},
		{"put_past_max_len", func(p *Packet) error { return p.Put(MaxLen - 59) }, syscall.EMSGSIZE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := frame(macB, []uint16{0x0800}, filled(46, 0x45)...)
			p := New(len(f))
			require.NoError(t, p.SetFrame(f))
			require.NoError(t, p.SetLinearLen(20))
			before := *p
			err := tt.op(p)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.errno)
			assert.Equal(t, before, *p, "a failed operation changes nothing")
		})
	}
}

func TestMeta(t *testing.T) {
	f := frame(macB, []uint16{0x0800}, filled(46, 0x45)...)
	p := New(len(f))
	require.NoError(t, p.SetFrame(f))
	require.NoError(t, p.SetMetaLen(8))
	assert.Equal(t, make([]byte, 8), p.Meta(), "new metadata bytes are zeroed")
	copy(p.Meta(), "ABCDEFGH")

	require.NoError(t, p.Push(14))
	assert.Equal(t, []byte("ABCDEFGH"), p.Meta(), "metadata moves with push")
	require.NoError(t, p.Pull(20))
	assert.Equal(t, []byte("ABCDEFGH"), p.Meta(), "metadata moves with pull")
	require.NoError(t, p.Push(Headroom+MaxMetaLen))
	assert.Equal(t, []byte("ABCDEFGH"), p.Meta(), "metadata survives reallocation")

	require.NoError(t, p.SetMetaLen(4))
	assert.Equal(t, []byte("EFGH"), p.Meta(), "shrinking keeps the bytes next to data")
	require.NoError(t, p.SetMetaLen(6))
	assert.Equal(t, []byte{0, 0, 'E', 'F', 'G', 'H'}, p.Meta(), "regrowing zeroes the new front")
	require.NoError(t, p.SetMetaLen(0))
	assert.Empty(t, p.Meta())
	checkInvariants(t, p)
}

func TestDevicePktType(t *testing.T) {
	veth := EthernetDevice(7, macB)
	tests := []struct {
		name string
		dev  Device
		dst  [6]byte
		want Type
	}{
		{"veth_own_address", veth, macB, Host},
		{"veth_broadcast", veth, BroadcastMAC, Broadcast},
		{"veth_ipv4_multicast", veth, mcast4, Multicast},
		{"veth_ipv6_multicast", veth, [6]byte{0x33, 0x33, 0, 0, 0, 1}, Multicast},
		{"veth_other_unicast", veth, macA, OtherHost},
		{"veth_zero_address", veth, zero6, OtherHost},
		{"veth_locally_administered_unicast", veth, [6]byte{0x02, 1, 2, 3, 4, 5}, OtherHost},
		{"lo_zero_is_host", LoopbackDevice, zero6, Host},
		{"lo_broadcast_is_multicast", LoopbackDevice, BroadcastMAC, Multicast},
		{"lo_multicast", LoopbackDevice, mcast4, Multicast},
		{"lo_unicast", LoopbackDevice, macA, OtherHost},
		{"own_address_checked_before_group_bit", Device{Addr: mcast4, Broadcast: BroadcastMAC}, mcast4, Host},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.dev.PktType(tt.dst))
		})
	}
	assert.Equal(t, Device{Ifindex: 7, Type: ARPHRDEther, Addr: macB, Broadcast: BroadcastMAC}, veth)
	assert.Equal(t, Device{Ifindex: 1, Type: ARPHRDLoopback}, LoopbackDevice)
}

func TestUntagVLAN(t *testing.T) {
	payload := filled(40, 0x45)
	tests := []struct {
		name      string
		frame     []byte
		wantProto uint16
		wantTPID  uint16
		wantTCI   uint16
		wantFrame []byte
	}{
		{
			name:      "8021q_ipv4",
			frame:     frame(macB, []uint16{0x8100, 0xe00a, 0x0800}, payload...),
			wantProto: 0x0800, wantTPID: 0x8100, wantTCI: 0xe00a,
			wantFrame: frame(macB, []uint16{0x0800}, payload...),
		},
		{
			name:      "8021ad_outer_inner_8021q_stays",
			frame:     frame(macB, []uint16{0x88a8, 0x0064, 0x8100, 0x0005, 0x86dd}, payload...),
			wantProto: 0x8100, wantTPID: 0x88a8, wantTCI: 0x0064,
			wantFrame: frame(macB, []uint16{0x8100, 0x0005, 0x86dd}, payload...),
		},
		{
			name:      "tci_all_bits",
			frame:     frame(macB, []uint16{0x8100, 0xffff, 0x0806}, payload...),
			wantProto: 0x0806, wantTPID: 0x8100, wantTCI: 0xffff,
			wantFrame: frame(macB, []uint16{0x0806}, payload...),
		},
		{
			name:      "tci_zero_is_still_present",
			frame:     frame(macB, []uint16{0x8100, 0x0000, 0x0800}, payload...),
			wantProto: 0x0800, wantTPID: 0x8100, wantTCI: 0,
			wantFrame: frame(macB, []uint16{0x0800}, payload...),
		},
		{
			name:      "encapsulated_llc",
			frame:     frame(macB, []uint16{0x8100, 1, 0x0020, 0x4242}),
			wantProto: 0x0004, wantTPID: 0x8100, wantTCI: 1,
			wantFrame: frame(macB, []uint16{0x0020, 0x4242}),
		},
		{
			name:      "encapsulated_raw_ipx",
			frame:     frame(macB, []uint16{0x8100, 1, 0x0020, 0xffff}),
			wantProto: 0x0001, wantTPID: 0x8100, wantTCI: 1,
			wantFrame: frame(macB, []uint16{0x0020, 0xffff}),
		},
		{
			name:      "exactly_20_bytes",
			frame:     frame(macB, []uint16{0x8100, 9, 0x0800, 0x4500}),
			wantProto: 0x0800, wantTPID: 0x8100, wantTCI: 9,
			wantFrame: frame(macB, []uint16{0x0800, 0x4500}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			require.NoError(t, p.SetFrame(tt.frame))
			require.NoError(t, p.UntagVLAN())
			assert.True(t, p.VLANPresent)
			assert.Equal(t, tt.wantTPID, p.VLANProto)
			assert.Equal(t, tt.wantTCI, p.VLANTCI)
			assert.Equal(t, tt.wantProto, p.Protocol)
			assert.Equal(t, tt.wantFrame, p.Bytes())
			assert.Equal(t, 14, p.MACLen())
			assert.Equal(t, 0, p.MACOffset())
			assert.Equal(t, 14, p.NetworkOffset())
			assert.Equal(t, 14, p.TransportOffset(), "an unset transport header follows the network header")
			checkInvariants(t, &p)

			err := p.UntagVLAN()
			assert.ErrorIs(t, err, syscall.EEXIST, "a second untag finds the offload slot taken")
		})
	}
}

func TestUntagVLANLayout(t *testing.T) {
	payload := filled(40, 0x45)
	t.Run("metadata_moves_with_data", func(t *testing.T) {
		var p Packet
		require.NoError(t, p.SetFrame(frame(macB, []uint16{0x8100, 5, 0x0800}, payload...)))
		require.NoError(t, p.SetMetaLen(6))
		copy(p.Meta(), "meta!!")
		require.NoError(t, p.UntagVLAN())
		assert.Equal(t, []byte("meta!!"), p.Meta())
		checkInvariants(t, &p)
	})
	t.Run("short_linear_part_is_pulled", func(t *testing.T) {
		var p Packet
		f := frame(macB, []uint16{0x8100, 5, 0x0800}, payload...)
		require.NoError(t, p.SetFrame(f))
		require.NoError(t, p.SetLinearLen(14))
		require.NoError(t, p.UntagVLAN())
		assert.Equal(t, 16, p.LinearLen(), "the 6 bytes after the MAC header became linear, then 4 left")
		assert.Equal(t, frame(macB, []uint16{0x0800}, payload...), p.Bytes())
		checkInvariants(t, &p)
	})
	t.Run("transport_header_kept_when_set", func(t *testing.T) {
		var p Packet
		require.NoError(t, p.SetFrame(frame(macB, []uint16{0x8100, 5, 0x0800}, payload...)))
		require.NoError(t, p.SetTransportOffset(38))
		require.NoError(t, p.UntagVLAN())
		assert.Equal(t, 34, p.TransportOffset())
	})
}

func TestUntagVLANErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(p *Packet) error
		errno syscall.Errno
		is    error
	}{
		{
			name:  "untagged",
			setup: func(p *Packet) error { return p.SetFrame(frame(macB, []uint16{0x0800}, filled(46, 0)...)) },
			errno: syscall.EINVAL, is: ErrNoVLAN,
		},
		{
			name:  "19_bytes",
			setup: func(p *Packet) error { return p.SetFrame(frame(macB, []uint16{0x8100, 5}, 0x08)) },
			errno: syscall.EINVAL, is: ErrTruncated,
		},
		{
			name:  "18_bytes",
			setup: func(p *Packet) error { return p.SetFrame(frame(macB, []uint16{0x8100, 5})) },
			errno: syscall.EINVAL, is: ErrTruncated,
		},
		{
			name: "not_at_mac_header",
			setup: func(p *Packet) error {
				if err := p.SetFrame(frame(macB, []uint16{0x8100, 5, 0x0800}, filled(46, 0)...)); err != nil {
					return err
				}
				return p.Pull(14)
			},
			errno: syscall.EINVAL,
		},
		{
			name:  "l3_packet",
			setup: func(p *Packet) error { return p.SetL3(filled(40, 0x45)) },
			errno: syscall.EINVAL,
		},
		{
			name: "offloaded_tag_present",
			setup: func(p *Packet) error {
				err := p.SetFrame(frame(macB, []uint16{0x8100, 5, 0x0800}, filled(46, 0)...))
				p.VLANPresent = true
				return err
			},
			errno: syscall.EEXIST,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			require.NoError(t, tt.setup(&p))
			before := p
			err := p.UntagVLAN()
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.errno)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Equal(t, before, p, "a failed untag changes nothing")
		})
	}
}

func TestReceive(t *testing.T) {
	veth := EthernetDevice(9, macB)
	payload := filled(46, 0x45)
	tests := []struct {
		name      string
		dev       Device
		frame     []byte
		wantType  Type
		wantProto uint16
		wantVLAN  bool
		wantTCI   uint16
		wantTPID  uint16
		wantFrame []byte
	}{
		{
			name: "unicast_to_device", dev: veth,
			frame:    frame(macB, []uint16{0x0800}, payload...),
			wantType: Host, wantProto: 0x0800,
		},
		{
			name: "broadcast_arp", dev: veth,
			frame:    frame(BroadcastMAC, []uint16{0x0806}, payload...),
			wantType: Broadcast, wantProto: 0x0806,
		},
		{
			name: "multicast_ipv6", dev: veth,
			frame:    frame([6]byte{0x33, 0x33, 0, 0, 0, 0x16}, []uint16{0x86dd}, payload...),
			wantType: Multicast, wantProto: 0x86dd,
		},
		{
			name: "other_host", dev: veth,
			frame:    frame(macA, []uint16{0x0800}, payload...),
			wantType: OtherHost, wantProto: 0x0800,
		},
		{
			name: "loopback_broadcast", dev: LoopbackDevice,
			frame:    frame(BroadcastMAC, []uint16{0x0800}, payload...),
			wantType: Multicast, wantProto: 0x0800,
		},
		{
			name: "vlan_untagged", dev: veth,
			frame:    frame(macB, []uint16{0x8100, 0x2064, 0x0800}, payload...),
			wantType: Host, wantProto: 0x0800, wantVLAN: true, wantTCI: 0x2064, wantTPID: 0x8100,
			wantFrame: frame(macB, []uint16{0x0800}, payload...),
		},
		{
			name: "qinq_outer_only", dev: veth,
			frame:    frame(BroadcastMAC, []uint16{0x88a8, 0x0064, 0x8100, 0x0005, 0x0800}, payload...),
			wantType: Broadcast, wantProto: 0x8100, wantVLAN: true, wantTCI: 0x0064, wantTPID: 0x88a8,
			wantFrame: frame(BroadcastMAC, []uint16{0x8100, 0x0005, 0x0800}, payload...),
		},
		{
			name: "llc", dev: veth,
			frame:    frame(macB, []uint16{0x0030}, 0x42, 0x42, 0x03),
			wantType: Host, wantProto: 0x0004,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(0)
			p.Slot = 3
			p.Mark = 99
			require.NoError(t, p.Receive(tt.frame, tt.dev))
			want := tt.wantFrame
			if want == nil {
				want = tt.frame
			}
			assert.Equal(t, want, p.Bytes())
			assert.Equal(t, tt.wantType, p.PktType)
			assert.Equal(t, tt.wantProto, p.Protocol)
			assert.Equal(t, tt.wantVLAN, p.VLANPresent)
			assert.Equal(t, tt.wantTCI, p.VLANTCI)
			assert.Equal(t, tt.wantTPID, p.VLANProto)
			assert.Equal(t, Ingress, p.Direction)
			assert.Equal(t, tt.dev.Ifindex, p.Ifindex)
			assert.Equal(t, tt.dev.Ifindex, p.IngressIfindex)
			assert.Equal(t, tt.dev.Type, p.DeviceType)
			assert.Equal(t, uint32(len(want)-14), p.WireLen)
			assert.Equal(t, 14, p.MACLen())
			assert.Equal(t, 14, p.TransportOffset())
			assert.Equal(t, len(want), p.LinearLen())
			assert.Zero(t, p.Mark)
			assert.Equal(t, uint32(3), p.Slot)
			checkInvariants(t, p)
		})
	}
}

func TestReceiveErrors(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		is    error
	}{
		{"short", make([]byte, 13), ErrTruncated},
		{"short_tagged", frame(macB, []uint16{0x8100, 1}, 8), ErrTruncated},
		{"too_long", make([]byte, MaxLen+1), ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(64)
			require.NoError(t, p.SetFrame(frame(macB, []uint16{0x0800}, 1, 2, 3)))
			p.Mark = 5
			before := *p
			err := p.Receive(tt.frame, EthernetDevice(2, macB))
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, before, *p, "a refused frame changes nothing")
		})
	}
}

func TestTransmit(t *testing.T) {
	dev := EthernetDevice(4, macA)
	tests := []struct {
		name      string
		frame     []byte
		wantProto uint16
	}{
		{"ipv4_to_broadcast", frame(BroadcastMAC, []uint16{0x0800}, filled(46, 0x45)...), 0x0800},
		{"tag_stays_in_frame", frame(macB, []uint16{0x8100, 7, 0x86dd}, filled(46, 0x60)...), 0x8100},
		{"arp", frame(macB, []uint16{0x0806}, filled(28, 0)...), 0x0806},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			p.IngressIfindex = 5
			require.NoError(t, p.Transmit(tt.frame, dev))
			assert.Equal(t, tt.frame, p.Bytes())
			assert.Equal(t, Egress, p.Direction)
			assert.Equal(t, Host, p.PktType)
			assert.Equal(t, tt.wantProto, p.Protocol)
			assert.False(t, p.VLANPresent)
			assert.Equal(t, uint32(4), p.Ifindex)
			assert.Zero(t, p.IngressIfindex)
			assert.Equal(t, uint32(len(tt.frame)), p.WireLen)
			checkInvariants(t, &p)
		})
	}
	var p Packet
	err := p.Transmit(make([]byte, 10), dev)
	assert.ErrorIs(t, err, ErrTruncated)
}

func TestReceiveL3(t *testing.T) {
	tun := Device{Ifindex: 5, Type: ARPHRDNone}
	tests := []struct {
		name      string
		pkt       []byte
		wantProto uint16
	}{
		{"ipv4", filled(40, 0x45), 0x0800},
		{"ipv6", filled(60, 0x60), 0x86dd},
		{"one_byte", []byte{0x40}, 0x0800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(0)
			p.Mark = 1
			require.NoError(t, p.ReceiveL3(tt.pkt, tun))
			assert.Equal(t, tt.pkt, p.Bytes())
			assert.Equal(t, tt.wantProto, p.Protocol)
			assert.Equal(t, Ingress, p.Direction)
			assert.Equal(t, Host, p.PktType)
			assert.Equal(t, uint32(5), p.Ifindex)
			assert.Equal(t, uint32(5), p.IngressIfindex)
			assert.Equal(t, uint16(ARPHRDNone), p.DeviceType)
			assert.Equal(t, uint32(len(tt.pkt)), p.WireLen)
			assert.Equal(t, 0, p.MACLen())
			assert.Zero(t, p.Mark)
			checkInvariants(t, p)

			q := New(0)
			require.NoError(t, q.TransmitL3(tt.pkt, tun))
			assert.Equal(t, tt.pkt, q.Bytes())
			assert.Equal(t, tt.wantProto, q.Protocol)
			assert.Equal(t, Egress, q.Direction)
			assert.Equal(t, uint32(5), q.Ifindex)
			assert.Zero(t, q.IngressIfindex)
			assert.Equal(t, uint32(len(tt.pkt)), q.WireLen)
		})
	}
	errs := []struct {
		name string
		pkt  []byte
		is   error
	}{
		{"empty", nil, ErrTruncated},
		{"version_5", []byte{0x50, 0}, syscall.EINVAL},
		{"version_0", []byte{0x00}, syscall.EINVAL},
		{"too_long", append([]byte{0x45}, make([]byte, MaxLen)...), ErrTooLong},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			assert.ErrorIs(t, p.ReceiveL3(tt.pkt, tun), tt.is)
		})
	}
	var p Packet
	require.NoError(t, p.TransmitL3([]byte{0x50, 0}, tun), "the stack names the protocol on transmit")
	assert.Zero(t, p.Protocol)
	assert.ErrorIs(t, p.TransmitL3(nil, tun), ErrTruncated)
}

func TestTypeString(t *testing.T) {
	names := []string{"host", "broadcast", "multicast", "otherhost", "outgoing", "loopback", "Type(6)"}
	for i, want := range names {
		assert.Equal(t, want, Type(i).String())
	}
}

func TestDirectionString(t *testing.T) {
	assert.Equal(t, "ingress", Ingress.String())
	assert.Equal(t, "egress", Egress.String())
	assert.Equal(t, "Direction(7)", Direction(7).String())
}

func TestErrorsWrapErrno(t *testing.T) {
	for _, tt := range []struct {
		err   error
		errno syscall.Errno
	}{
		{ErrTooLong, syscall.EMSGSIZE},
		{ErrOutOfRange, syscall.EFAULT},
		{ErrTruncated, syscall.EINVAL},
		{ErrNoVLAN, syscall.EINVAL},
	} {
		assert.True(t, errors.Is(tt.err, tt.errno), "%v", tt.err)
	}
}

func TestReuseAllocatesNothing(t *testing.T) {
	small := frame(macB, []uint16{0x0800}, filled(50, 0x45)...)
	big := frame(macB, []uint16{0x8100, 5, 0x0800}, filled(1500, 0x45)...)
	dev := EthernetDevice(3, macB)
	p := New(len(big))
	tests := []struct {
		name string
		fn   func()
	}{
		{"SetFrame", func() {
			_ = p.SetFrame(small)
			_ = p.SetFrame(big)
		}},
		{"SetL3", func() { _ = p.SetL3(small[14:]) }},
		{"Receive", func() {
			_ = p.Receive(small, dev)
			_ = p.Receive(big, dev)
		}},
		{"Transmit", func() { _ = p.Transmit(big, dev) }},
		{"ReceiveL3", func() { _ = p.ReceiveL3(big[18:], dev) }},
		{"TransmitL3", func() { _ = p.TransmitL3(small[14:], dev) }},
		{"ops", func() {
			_ = p.SetFrame(big)
			_ = p.Push(14)
			_ = p.Pull(14)
			_ = p.Put(100)
			_ = p.Trim(60)
			_ = p.SetMetaLen(32)
			_ = p.SetLinearLen(40)
			_ = p.SetMetaLen(0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn()
			assert.Zero(t, testing.AllocsPerRun(200, tt.fn))
		})
	}
}

func BenchmarkSetFrame(b *testing.B) {
	for _, size := range []int{64, 1514} {
		f := frame(macB, []uint16{0x0800}, filled(size-14, 0x45)...)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			p := New(size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := p.SetFrame(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReceive(b *testing.B) {
	dev := EthernetDevice(3, macB)
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"untagged_64", frame(macB, []uint16{0x0800}, filled(50, 0x45)...)},
		{"vlan_64", frame(macB, []uint16{0x8100, 5, 0x0800}, filled(46, 0x45)...)},
	} {
		b.Run(tt.name, func(b *testing.B) {
			p := New(len(tt.frame))
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.frame)))
			for b.Loop() {
				if err := p.Receive(tt.frame, dev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
