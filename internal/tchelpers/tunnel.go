package tchelpers

import (
	"encoding/binary"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// zeroTunnel is the empty tunnel metadata set_tunnel_key starts from.
var zeroTunnel packet.TunnelKey

// Tunnel metadata (net/core/filter.c bpf_skb_get_tunnel_key and
// bpf_skb_set_tunnel_key) over packet.Packet.Tunnel.

// Tunnel key flags.
const (
	BPF_F_TUNINFO_IPV6   = 1 << 0
	BPF_F_ZERO_CSUM_TX   = 1 << 1
	BPF_F_DONT_FRAGMENT  = 1 << 2
	BPF_F_SEQ_NUMBER     = 1 << 3
	BPF_F_NO_TUNNEL_KEY  = 1 << 4
	BPF_F_TUNINFO_FLAGS  = 1 << 4
	tunnelKeySize        = 44 // sizeof(struct bpf_tunnel_key)
	tunnelCsum           = 0x01
	tunnelKey            = 0x04
	tunnelSeq            = 0x08
	tunnelDontFragment   = 0x0100
	tunnelNoCache        = 0x2000
	ipv6FlowLabelMask    = 0x000fffff
	tunnelOffLocalIPv6   = 28
	tunnelOffLabel       = 24
	tunnelOffExt         = 22
	tunnelOffRemoteIPv61 = 8
)

// skbGetTunnelKey is bpf_skb_get_tunnel_key(skb, key, size, flags).
func skbGetTunnelKey(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	size, flags := uint32(a[2]), a[3]
	if _, ok := m.Mem(a[1], int(size), true); !ok {
		return 0, errBadMemArg
	}
	out := m.Scratch(0, tunnelKeySize)
	clear(out)
	fail := func(e syscall.Errno) (uint64, error) {
		clear(out)
		m.Write(a[1], out[:size])
		return neg(e), nil
	}
	info := &p.Tunnel
	if !info.Present || flags&^(BPF_F_TUNINFO_IPV6|BPF_F_TUNINFO_FLAGS) != 0 {
		return fail(syscall.EINVAL)
	}
	if info.IPv6 != (flags&BPF_F_TUNINFO_IPV6 != 0) {
		return fail(syscall.EPROTO)
	}
	if size != tunnelKeySize {
		switch size {
		case tunnelOffLocalIPv6, tunnelOffLabel, tunnelOffExt:
		case tunnelOffRemoteIPv61:
			if info.IPv6 {
				return fail(syscall.EINVAL)
			}
		default:
			return fail(syscall.EINVAL)
		}
	}
	le := binary.LittleEndian
	le.PutUint32(out[0:], uint32(info.ID))
	out[20], out[21] = info.TOS, info.TTL
	if flags&BPF_F_TUNINFO_FLAGS != 0 {
		binary.BigEndian.PutUint16(out[22:], info.Flags)
	}
	// The kernel reads the key's source address as remote and its
	// destination as local; a transmit key has them the other way round
	// (set_tunnel_key stores the remote as destination), so reading one
	// back swaps them, as it does in the kernel.
	remote, local := &info.Remote, &info.Local
	if info.Transmit {
		remote, local = local, remote
	}
	if flags&BPF_F_TUNINFO_IPV6 != 0 {
		copy(out[4:20], remote[:])
		copy(out[28:44], local[:])
		le.PutUint32(out[24:], info.Label)
	} else {
		le.PutUint32(out[4:], binary.BigEndian.Uint32(remote[:]))
		le.PutUint32(out[28:], binary.BigEndian.Uint32(local[:]))
	}
	m.Write(a[1], out[:size])
	return 0, nil
}

// skbSetTunnelKey is bpf_skb_set_tunnel_key(skb, key, size, flags): the
// packet gets transmit tunnel metadata.
func skbSetTunnelKey(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	size, flags := uint32(a[2]), a[3]
	src, err := readArg(m, 0, a[1], size)
	if err != nil {
		return 0, err
	}
	if flags&^(BPF_F_TUNINFO_IPV6|BPF_F_ZERO_CSUM_TX|BPF_F_DONT_FRAGMENT|BPF_F_SEQ_NUMBER|BPF_F_NO_TUNNEL_KEY) != 0 {
		return neg(syscall.EINVAL), nil
	}
	var k [tunnelKeySize]byte
	switch size {
	case tunnelKeySize, tunnelOffLocalIPv6, tunnelOffLabel, tunnelOffExt, tunnelOffRemoteIPv61:
		copy(k[:], src)
	default:
		return neg(syscall.EINVAL), nil
	}
	le := binary.LittleEndian
	label, ext := le.Uint32(k[24:]), le.Uint16(k[22:])
	if (flags&BPF_F_TUNINFO_IPV6 == 0 && label != 0) || ext != 0 {
		return neg(syscall.EINVAL), nil
	}
	t := &p.Tunnel
	*t = zeroTunnel
	t.Present, t.Transmit = true, true
	t.Flags = tunnelNoCache
	if flags&BPF_F_DONT_FRAGMENT != 0 {
		t.Flags |= tunnelDontFragment
	}
	if flags&BPF_F_ZERO_CSUM_TX == 0 {
		t.Flags |= tunnelCsum
	}
	if flags&BPF_F_SEQ_NUMBER != 0 {
		t.Flags |= tunnelSeq
	}
	if flags&BPF_F_NO_TUNNEL_KEY == 0 {
		t.Flags |= tunnelKey
	}
	t.ID = uint64(le.Uint32(k[0:]))
	t.TOS, t.TTL = k[20], k[21]
	if flags&BPF_F_TUNINFO_IPV6 != 0 {
		t.IPv6 = true
		copy(t.Remote[:], k[4:20])
		copy(t.Local[:], k[28:44])
		t.Label = label & ipv6FlowLabelMask
	} else {
		binary.BigEndian.PutUint32(t.Remote[:], le.Uint32(k[4:]))
		binary.BigEndian.PutUint32(t.Local[:], le.Uint32(k[28:]))
	}
	return 0, nil
}

// Tunnel option flags (IP_TUNNEL_OPTS: GENEVE, VXLAN, ERSPAN and GTP
// options present) and their limit.
const (
	tunnelOptsPresent = 0x0800 | 0x1000 | 0x4000 | 0x8000
	tunnelOptsMax     = 255
)

// skbGetTunnelOpt is bpf_skb_get_tunnel_opt(skb, opt, size): the options
// into opt, zero-padded; the result is their length.
func skbGetTunnelOpt(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	size := uint32(a[2])
	if _, ok := m.Mem(a[1], int(size), true); !ok {
		return 0, errBadMemArg
	}
	out := m.Scratch(0, int(size))
	clear(out)
	t := &p.Tunnel
	ret := uint64(t.OptLen)
	switch {
	case !t.Present || t.Flags&tunnelOptsPresent == 0:
		ret = neg(syscall.ENOENT)
	case size < uint32(t.OptLen):
		ret = neg(syscall.ENOMEM)
	default:
		copy(out, t.Options[:t.OptLen])
	}
	m.Write(a[1], out)
	return ret, nil
}

// skbSetTunnelOpt is bpf_skb_set_tunnel_opt(skb, opt, size): options for
// the transmit key bpf_skb_set_tunnel_key attached.
func skbSetTunnelOpt(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	size := uint32(a[2])
	src, err := readArg(m, 0, a[1], size)
	if err != nil {
		return 0, err
	}
	t := &p.Tunnel
	if !t.Present || !t.Transmit || size&3 != 0 {
		return neg(syscall.EINVAL), nil
	}
	if size > tunnelOptsMax {
		return neg(syscall.ENOMEM), nil
	}
	t.OptLen = uint8(size)
	copy(t.Options[:], src)
	if size > 0 {
		t.Flags |= tunnelOptsPresent
	}
	return 0, nil
}
