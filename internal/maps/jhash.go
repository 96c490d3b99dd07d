package maps

import "math/bits"

// The kernel's hash tables hash keys with Bob Jenkins' lookup3 as
// include/linux/jhash.h has it: jhash2 over 32-bit words when the key
// length is a multiple of 4, jhash over bytes otherwise (htab_map_hash).
// Words are read little-endian, the byte order of the x86-64 kernel this
// package follows, so bucket placement — and with it the order of
// BPF_MAP_GET_NEXT_KEY — is the kernel's for the same seed.

const jhashInitval = 0xdeadbeef

func jhashMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func jhashFinal(a, b, c uint32) uint32 {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

// jhashBytes is the kernel's jhash(key, len(key), initval).
func jhashBytes(k []byte, initval uint32) uint32 {
	n := uint32(len(k))
	a := jhashInitval + n + initval
	b, c := a, a
	for len(k) > 12 {
		a += le32(k)
		b += le32(k[4:])
		c += le32(k[8:])
		a, b, c = jhashMix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var t [12]byte
	copy(t[:], k)
	a += le32(t[0:])
	b += le32(t[4:])
	c += le32(t[8:])
	return jhashFinal(a, b, c)
}

// jhashWords is the kernel's jhash2 over len(k)/4 little-endian words.
func jhashWords(k []byte, initval uint32) uint32 {
	n := uint32(len(k) / 4)
	a := jhashInitval + n<<2 + initval
	b, c := a, a
	for len(k) > 12 {
		a += le32(k)
		b += le32(k[4:])
		c += le32(k[8:])
		a, b, c = jhashMix(a, b, c)
		k = k[12:]
	}
	switch len(k) {
	case 12:
		c += le32(k[8:])
		fallthrough
	case 8:
		b += le32(k[4:])
		fallthrough
	case 4:
		a += le32(k)
		return jhashFinal(a, b, c)
	}
	return c
}

// htabHash is htab_map_hash.
func htabHash(key []byte, seed uint32) uint32 {
	if len(key)%4 == 0 {
		return jhashWords(key, seed)
	}
	return jhashBytes(key, seed)
}
