package tchelpers

import (
	"errors"
	"math"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// The packet helpers of net/core/filter.c. A helper that changes the
// packet is marked ChangesPacket, so the VM re-reads data and data_end
// after it; the packet region the program's pointers decode against is
// then the new one, and a stale pointer beyond it faults.

// Flag bits (include/uapi/linux/bpf.h).
const (
	BPF_F_RECOMPUTE_CSUM  = 1 << 0
	BPF_F_INVALIDATE_HASH = 1 << 1
	BPF_F_HDR_FIELD_MASK  = 0xf
	BPF_F_PSEUDO_HDR      = 1 << 4
	BPF_F_MARK_MANGLED_0  = 1 << 5
	BPF_F_MARK_ENFORCE    = 1 << 6
	BPF_F_IPV6            = 1 << 7
	BPF_F_INGRESS         = 1 << 0

	BPF_HDR_START_MAC = 0
	BPF_HDR_START_NET = 1

	BPF_CSUM_LEVEL_QUERY = 0
	BPF_CSUM_LEVEL_INC   = 1
	BPF_CSUM_LEVEL_DEC   = 2
	BPF_CSUM_LEVEL_RESET = 3
)

// enotsupp is the kernel's ENOTSUPP (524).
const enotsupp = syscall.Errno(524)

// skbMaxCsumLevel is SKB_MAX_CSUM_LEVEL.
const skbMaxCsumLevel = 3

var errNoPacket = errors.New("tchelpers: packet helper called without a packet context")

// pkt returns the run's packet.
func pkt(m *ebpfvm.Machine) (*packet.Packet, error) {
	p := m.Packet()
	if p == nil {
		return nil, errNoPacket
	}
	return p, nil
}

// makeWritable is bpf_try_make_writable: the first n bytes must exist and
// become linear. It reports false where the kernel's pskb_may_pull fails.
func makeWritable(p *packet.Packet, n uint64) bool {
	if n > uint64(p.Len()) {
		return false
	}
	if int(n) > p.LinearLen() {
		return p.SetLinearLen(int(n)) == nil
	}
	return true
}

// skbLoadBytes is bpf_skb_load_bytes(skb, off, to, len).
func skbLoadBytes(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	off, n := uint32(a[1]), uint32(a[3])
	if _, ok := m.Mem(a[2], int(n), true); !ok {
		return 0, errBadMemArg
	}
	buf := m.Scratch(0, int(n))
	ret := uint64(0)
	if off > math.MaxInt32 || uint64(off)+uint64(n) > uint64(p.Len()) {
		clear(buf)
		ret = neg(syscall.EFAULT)
	} else {
		copy(buf, p.Bytes()[off:])
	}
	if !m.Write(a[2], buf) {
		return 0, errBadMemArg
	}
	return ret, nil
}

// skbLoadBytesRelative is bpf_skb_load_bytes_relative(skb, off, to, len,
// start_header): relative to the MAC or network header, within the
// linear data.
func skbLoadBytesRelative(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	off, n := uint32(a[1]), uint32(a[3])
	if _, ok := m.Mem(a[2], int(n), true); !ok {
		return 0, errBadMemArg
	}
	buf := m.Scratch(0, int(n))
	start, ok := 0, off <= 0xffff
	switch uint32(a[4]) {
	case BPF_HDR_START_MAC:
		start = p.MACOffset()
		ok = ok && start != -1
	case BPF_HDR_START_NET:
		start = p.NetworkOffset()
	default:
		ok = false
	}
	from := int64(start) + int64(off)
	// The kernel compares pointers only against the tail: a header before
	// data is readable, as far back as the buffer's head.
	_, data, _, _ := p.Buffer()
	if ok && from >= -int64(data) && from+int64(n) <= int64(p.LinearLen()) {
		buf2, _, _, _ := p.Buffer()
		copy(buf, buf2[int64(data)+from:])
		if !m.Write(a[2], buf) {
			return 0, errBadMemArg
		}
		return 0, nil
	}
	clear(buf)
	if !m.Write(a[2], buf) {
		return 0, errBadMemArg
	}
	return neg(syscall.EFAULT), nil
}

// postpullRcsum and postpushRcsum keep a CHECKSUM_COMPLETE skb->csum in
// step with bytes removed from or added to the packet at offset off
// (__skb_postpull_rcsum, __skb_postpush_rcsum).
func postpullRcsum(p *packet.Packet, b []byte, off uint32) {
	switch p.Checksum {
	case packet.ChecksumComplete:
		p.Csum = uint32(blockAdd(csum.Wsum(p.Csum), ^csum.Partial(b, 0), off))
	case packet.ChecksumPartial:
		if int(p.CsumStart) < p.Headroom() {
			p.Checksum = packet.ChecksumNone
		}
	}
}

func postpushRcsum(p *packet.Packet, b []byte, off uint32) {
	if p.Checksum == packet.ChecksumComplete {
		p.Csum = uint32(blockAdd(csum.Wsum(p.Csum), csum.Partial(b, 0), off))
	}
}

// blockAdd is csum_block_add: a block sum at an odd offset is rotated.
func blockAdd(sum, add csum.Wsum, off uint32) csum.Wsum {
	if off&1 != 0 {
		add = add>>8 | add<<24
	}
	return csum.Add(sum, add)
}

// skbStoreBytes is bpf_skb_store_bytes(skb, off, from, len, flags).
func skbStoreBytes(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	off, n, flags := uint32(a[1]), uint32(a[3]), a[4]
	src, err := readArg(m, 0, a[2], n)
	if err != nil {
		return 0, err
	}
	if flags&^(BPF_F_RECOMPUTE_CSUM|BPF_F_INVALIDATE_HASH) != 0 {
		return neg(syscall.EINVAL), nil
	}
	if off > math.MaxInt32 || !makeWritable(p, uint64(off)+uint64(n)) {
		return neg(syscall.EFAULT), nil
	}
	dst := p.Data()[off : off+n]
	if flags&BPF_F_RECOMPUTE_CSUM != 0 {
		postpullRcsum(p, dst, off)
	}
	copy(dst, src)
	if flags&BPF_F_RECOMPUTE_CSUM != 0 {
		postpushRcsum(p, dst, off)
	}
	if flags&BPF_F_INVALIDATE_HASH != 0 {
		p.Hash, p.HashKind = 0, 0
	}
	return 0, nil
}

// csumField returns the 16-bit checksum field at off for l3/l4_csum_replace,
// or the errno of the kernel's offset checks.
func csumField(p *packet.Packet, off uint32) ([]byte, syscall.Errno) {
	if off > 0xffff || off&1 != 0 || !makeWritable(p, uint64(off)+2) {
		return nil, syscall.EFAULT
	}
	return p.Data()[off : off+2], 0
}

// l3CsumReplace is bpf_l3_csum_replace(skb, off, from, to, flags).
func l3CsumReplace(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	from, to, flags := a[2], a[3], a[4]
	if flags&^BPF_F_HDR_FIELD_MASK != 0 {
		return neg(syscall.EINVAL), nil
	}
	f, e := csumField(p, uint32(a[1]))
	if e != 0 {
		return neg(e), nil
	}
	sum := csum.Load16(f)
	switch flags & BPF_F_HDR_FIELD_MASK {
	case 0:
		if from != 0 {
			return neg(syscall.EINVAL), nil
		}
		sum = csum.ReplaceByDiff(sum, csum.Wsum(to))
	case 2:
		sum = csum.Replace2(sum, uint16(from), uint16(to))
	case 4:
		sum = csum.Replace4(sum, uint32(from), uint32(to))
	default:
		return neg(syscall.EINVAL), nil
	}
	csum.Store16(f, sum)
	return 0, nil
}

// l4CsumReplace is bpf_l4_csum_replace(skb, off, from, to, flags).
func l4CsumReplace(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	from, to, flags := a[2], a[3], a[4]
	if flags&^(BPF_F_MARK_MANGLED_0|BPF_F_MARK_ENFORCE|BPF_F_PSEUDO_HDR|BPF_F_HDR_FIELD_MASK|BPF_F_IPV6) != 0 {
		return neg(syscall.EINVAL), nil
	}
	f, e := csumField(p, uint32(a[1]))
	if e != 0 {
		return neg(e), nil
	}
	pseudo := flags&BPF_F_PSEUDO_HDR != 0
	mmzero := flags&BPF_F_MARK_MANGLED_0 != 0
	sum := csum.Load16(f)
	if mmzero && flags&BPF_F_MARK_ENFORCE == 0 && sum == 0 {
		return 0, nil
	}
	st := csum.State{
		Partial:  p.Checksum == packet.ChecksumPartial,
		Complete: p.Checksum == packet.ChecksumComplete,
		Csum:     &p.Csum,
	}
	switch flags & BPF_F_HDR_FIELD_MASK {
	case 0:
		if from != 0 {
			return neg(syscall.EINVAL), nil
		}
		csum.ProtoByDiff(&sum, st, csum.Wsum(to), pseudo, flags&BPF_F_IPV6 != 0)
	case 2:
		csum.Proto2(&sum, st, uint16(from), uint16(to), pseudo)
	case 4:
		csum.Proto4(&sum, st, uint32(from), uint32(to), pseudo)
	default:
		return neg(syscall.EINVAL), nil
	}
	if mmzero && sum == 0 {
		sum = 0xffff // CSUM_MANGLED_0
	}
	csum.Store16(f, sum)
	return 0, nil
}

// from32to16 folds a 32-bit sum to 16 bits without inverting it.
func from32to16(x uint32) uint64 {
	x = x&0xffff + x>>16
	x = x&0xffff + x>>16
	return uint64(x)
}

// csumDiff is bpf_csum_diff(from, from_size, to, to_size, seed), as Linux
// 6.18 computes it: folded to 16 bits, any sizes.
func csumDiff(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	fs, ts, seed := uint32(a[1]), uint32(a[3]), csum.Wsum(a[4])
	var from, to []byte
	var err error
	if fs != 0 {
		if from, err = readArg(m, 0, a[0], fs); err != nil {
			return 0, err
		}
	}
	if ts != 0 {
		if to, err = readArg(m, 1, a[2], ts); err != nil {
			return 0, err
		}
	}
	var r csum.Wsum
	switch {
	case fs != 0 && ts != 0:
		r = csum.Sub(csum.Partial(to, seed), csum.Partial(from, 0))
	case ts != 0:
		r = csum.Partial(to, seed)
	case fs != 0:
		r = ^csum.Partial(from, ^seed)
	default:
		r = seed
	}
	return from32to16(uint32(r)), nil
}

// csumUpdate is bpf_csum_update(skb, csum).
func csumUpdate(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	if p.Checksum != packet.ChecksumComplete {
		return neg(enotsupp), nil
	}
	p.Csum = uint32(csum.Add(csum.Wsum(p.Csum), csum.Wsum(a[1])))
	return uint64(p.Csum), nil
}

// csumLevel is bpf_csum_level(skb, level).
func csumLevel(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	unnecessary := p.Checksum == packet.ChecksumUnnecessary
	switch a[1] {
	case BPF_CSUM_LEVEL_INC:
		if unnecessary {
			if p.CsumLevel < skbMaxCsumLevel {
				p.CsumLevel++
			}
		} else if p.Checksum == packet.ChecksumNone {
			p.Checksum, p.CsumLevel = packet.ChecksumUnnecessary, 0
		}
	case BPF_CSUM_LEVEL_DEC:
		if unnecessary {
			if p.CsumLevel == 0 {
				p.Checksum = packet.ChecksumNone
			} else {
				p.CsumLevel--
			}
		}
	case BPF_CSUM_LEVEL_RESET:
		if unnecessary {
			p.Checksum, p.CsumLevel = packet.ChecksumNone, 0
		}
	case BPF_CSUM_LEVEL_QUERY:
		if unnecessary {
			return uint64(p.CsumLevel), nil
		}
		return neg(syscall.EACCES), nil
	default:
		return neg(syscall.EINVAL), nil
	}
	return 0, nil
}

// skbPullData is bpf_skb_pull_data(skb, len): len 0 means the current
// linear length.
func skbPullData(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	n := uint64(uint32(a[1]))
	if n == 0 {
		n = uint64(p.LinearLen())
	}
	if !makeWritable(p, n) {
		return neg(syscall.ENOMEM), nil
	}
	return 0, nil
}

// setHash is bpf_set_hash(skb, hash): a software L4 hash.
func setHash(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	p.Hash, p.HashKind = uint32(a[1]), packet.HashL4|packet.HashSoftware
	return 0, nil
}

// setHashInvalid is bpf_set_hash_invalid(skb): skb_clear_hash.
func setHashInvalid(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	p.Hash, p.HashKind = 0, 0
	return 0, nil
}

// getCgroupClassid is bpf_get_cgroup_classid(skb) from packet metadata.
func getCgroupClassid(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	return uint64(p.CgroupClassID), nil
}

// getRouteRealm is bpf_get_route_realm(skb) from packet metadata.
func getRouteRealm(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	return uint64(p.RouteRealm), nil
}
