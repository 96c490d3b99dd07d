package csum

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// Wsum is a 32-bit one's-complement partial sum, the kernel's __wsum.
type Wsum uint32

// Load16 reads a 16-bit checksum field (or any 16-bit packet word) in the
// kernel's representation: the bytes as a little-endian number.
func Load16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// Store16 writes a 16-bit value in the kernel's representation.
func Store16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

// Load32 reads a 32-bit packet word (an IPv4 address, two ports) in the
// kernel's representation.
func Load32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// add64 is one's-complement addition with end-around carry in 64 bits.
func add64(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	return s + c
}

// Add is csum_add: 32-bit one's-complement addition.
func Add(a, b Wsum) Wsum {
	s, c := bits.Add32(uint32(a), uint32(b), 0)
	return Wsum(s + c)
}

// Sub is csum_sub: Add(a, ^b).
func Sub(a, b Wsum) Wsum { return Add(a, ^b) }

// finalize folds a 64-bit accumulator to 32 bits as x86-64's
// csum_finalize_sum does: (t + ror64(t, 32)) >> 32.
func finalize(t uint64) Wsum {
	return Wsum((t + bits.RotateLeft64(t, -32)) >> 32)
}

// Partial is csum_partial: the sum of b, read as little-endian 64-bit
// words (the last one zero-padded), added to sum.
func Partial(b []byte, sum Wsum) Wsum {
	t := uint64(sum)
	for len(b) >= 8 {
		t = add64(t, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		t = add64(t, binary.LittleEndian.Uint64(tail[:]))
	}
	return finalize(t)
}

// Fold is csum_fold: the 32-bit sum folded to 16 bits and complemented.
func Fold(sum Wsum) uint16 {
	s := uint32(sum)
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return ^uint16(s)
}

// Unfold is csum_unfold: a 16-bit checksum widened to a Wsum.
func Unfold(sum uint16) Wsum { return Wsum(sum) }

// TCPUDPNoFold is csum_tcpudp_nofold: sum plus the IPv4 pseudo-header of
// saddr, daddr (Load32 values), length len and protocol proto.
func TCPUDPNoFold(saddr, daddr uint32, length uint32, proto uint8, sum Wsum) Wsum {
	t := uint64(sum) + uint64(saddr) + uint64(daddr) + uint64(uint32(uint32(proto)+length)<<8)
	t = t&0xffffffff + t>>32
	t = t&0xffffffff + t>>32
	return Wsum(t)
}

// TCPUDPMagic is csum_tcpudp_magic: Fold(TCPUDPNoFold(...)), the checksum
// of a TCP or UDP segment over IPv4 when sum is the segment's Partial.
func TCPUDPMagic(saddr, daddr uint32, length uint32, proto uint8, sum Wsum) uint16 {
	return Fold(TCPUDPNoFold(saddr, daddr, length, proto, sum))
}

// IPv6Magic is csum_ipv6_magic: the folded checksum of sum plus the IPv6
// pseudo-header of saddr and daddr (16 bytes each, as in the packet),
// upper-layer length and next header.
func IPv6Magic(saddr, daddr []byte, length uint32, proto uint8, sum Wsum) uint16 {
	t := uint64(sum)
	for i := 0; i < 16; i += 4 {
		t = add64(t, uint64(Load32(saddr[i:])))
		t = add64(t, uint64(Load32(daddr[i:])))
	}
	t = add64(t, uint64(bits.ReverseBytes32(length)))
	t = add64(t, uint64(bits.ReverseBytes32(uint32(proto))))
	return Fold(finalize(t))
}

// IPFast is ip_fast_csum as x86-64 computes it over an IPv4 header of ihl
// 32-bit words, hdr holding at least 4*max(ihl,1) bytes: for ihl of 5 or
// more the folded checksum of the header; for a malformed ihl below 5 the
// kernel's assembly returns the low 16 bits of the first word unfolded,
// and so does this function.
func IPFast(hdr []byte, ihl int) uint16 {
	if ihl <= 4 {
		return uint16(Load32(hdr))
	}
	var t uint64
	for i := 0; i < ihl; i++ {
		t += uint64(Load32(hdr[4*i:]))
	}
	for t>>32 != 0 {
		t = t&0xffffffff + t>>32
	}
	return Fold(Wsum(t))
}

// Replace4 is csum_replace4: the checksum sum updated for a 32-bit word
// changing from from to to (RFC 1624, eqn. 3).
func Replace4(sum uint16, from, to uint32) uint16 {
	tmp := Sub(^Unfold(sum), Wsum(from))
	return Fold(Add(tmp, Wsum(to)))
}

// add16 is csum16_add.
func add16(csum, addend uint16) uint16 {
	res := csum + addend
	if res < addend {
		res++
	}
	return res
}

// Replace2 is csum_replace2: the checksum sum updated for a 16-bit word
// changing from old to new.
func Replace2(sum uint16, old, new uint16) uint16 {
	return ^add16(add16(^sum, ^old), new)
}

// ReplaceByDiff is csum_replace_by_diff: the checksum sum updated by a
// precomputed difference.
func ReplaceByDiff(sum uint16, diff Wsum) uint16 {
	return Fold(Add(diff, ^Unfold(sum)))
}

// State is the part of a packet's checksum state that the
// inet_proto_csum_replace* functions read and write: skb->ip_summed and
// skb->csum.
type State struct {
	// Partial is ip_summed == CHECKSUM_PARTIAL.
	Partial bool
	// Complete is ip_summed == CHECKSUM_COMPLETE; Csum is then skb->csum.
	Complete bool
	Csum     *uint32
}

// Proto4 is inet_proto_csum_replace4: update the transport checksum *sum
// for a 32-bit word changing from from to to; pseudohdr says the word is
// also part of the pseudo-header.
func Proto4(sum *uint16, st State, from, to uint32, pseudohdr bool) {
	if !st.Partial {
		*sum = Replace4(*sum, from, to)
		if st.Complete && pseudohdr && st.Csum != nil {
			*st.Csum = uint32(^Add(Sub(^Wsum(*st.Csum), Wsum(from)), Wsum(to)))
		}
	} else if pseudohdr {
		*sum = ^Fold(Add(Sub(Unfold(*sum), Wsum(from)), Wsum(to)))
	}
}

// Proto2 is inet_proto_csum_replace2: Proto4 with 16-bit words.
func Proto2(sum *uint16, st State, from, to uint16, pseudohdr bool) {
	Proto4(sum, st, uint32(from), uint32(to), pseudohdr)
}

// Proto16 is inet_proto_csum_replace16: update for a 16-byte word (an IPv6
// address) changing from from to to.
func Proto16(sum *uint16, st State, from, to []byte, pseudohdr bool) {
	var diff [8]uint32
	for i := 0; i < 4; i++ {
		diff[i] = ^Load32(from[4*i:])
		diff[4+i] = Load32(to[4*i:])
	}
	var buf [32]byte
	for i, w := range diff {
		binary.LittleEndian.PutUint32(buf[4*i:], w)
	}
	if !st.Partial {
		*sum = Fold(Partial(buf[:], ^Unfold(*sum)))
		if st.Complete && pseudohdr && st.Csum != nil {
			*st.Csum = uint32(^Partial(buf[:], ^Wsum(*st.Csum)))
		}
	} else if pseudohdr {
		*sum = ^Fold(Partial(buf[:], Unfold(*sum)))
	}
}

// ProtoByDiff is inet_proto_csum_replace_by_diff: update by a precomputed
// difference; ipv6 suppresses the CHECKSUM_COMPLETE fix-up as the kernel
// does for IPv6 pseudo-headers.
func ProtoByDiff(sum *uint16, st State, diff Wsum, pseudohdr, ipv6 bool) {
	if !st.Partial {
		*sum = ReplaceByDiff(*sum, diff)
		if st.Complete && pseudohdr && !ipv6 && st.Csum != nil {
			*st.Csum = uint32(^Sub(diff, Wsum(*st.Csum)))
		}
	} else if pseudohdr {
		*sum = ^Fold(Add(diff, Unfold(*sum)))
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32c is the SCTP checksum of b (sctp_compute_cksum with the checksum
// field already zeroed in b): the value to store little-endian, as the
// kernel's cpu_to_le32 does.
func CRC32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
