package cbpf

import "encoding/binary"

// Frames for table tests and benchmarks, built byte by byte so that every
// offset a test names can be read off here.

// Addresses of the test frames.
var (
	macDst = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	macSrc = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	ipSrc  = []byte{10, 1, 2, 3}
	ipDst  = []byte{192, 168, 1, 2}
)

// tcpSYN returns an Ethernet frame of size bytes (at least 54) carrying an
// IPv4 TCP SYN from 10.1.2.3:1234 to 192.168.1.2:dport, padded with a
// counting pattern.
func tcpSYN(size int, dport uint16) []byte {
	f := make([]byte, size)
	for i := 54; i < size; i++ {
		f[i] = byte(i)
	}
	copy(f, macDst)
	copy(f[6:], macSrc)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-14))
	binary.BigEndian.PutUint16(ip[4:], 0x1c46)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], ipSrc)
	copy(ip[16:], ipDst)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 1234)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], 0x01020304)
	tcp[12] = 5 << 4
	tcp[13] = 0x02 // SYN
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	return f
}

// withSrc returns a copy of f with the IPv4 source address src.
func withSrc(f []byte, src [4]byte) []byte {
	c := append([]byte(nil), f...)
	copy(c[26:], src[:])
	return c
}

// udp6 returns an Ethernet frame of size bytes carrying IPv6 UDP.
func udp6(size int) []byte {
	f := make([]byte, size)
	copy(f, macDst)
	copy(f[6:], macSrc)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(size-54))
	ip[6] = 17
	ip[7] = 64
	ip[23] = 1
	ip[39] = 2
	binary.BigEndian.PutUint16(ip[40:], 5353)
	binary.BigEndian.PutUint16(ip[42:], 53)
	return f
}

// vlanTagged inserts an 802.1Q tag with tci after the MAC addresses.
func vlanTagged(f []byte, tpid, tci uint16) []byte {
	t := make([]byte, 0, len(f)+4)
	t = append(t, f[:12]...)
	t = binary.BigEndian.AppendUint16(t, tpid)
	t = binary.BigEndian.AppendUint16(t, tci)
	return append(t, f[12:]...)
}

// netlinkMsg is a payload of netlink attributes (little-endian headers):
// at 0 a u32 attribute of type 1; at 8 an attribute of type 0x800a
// (NLA_F_NESTED|10) holding type 11 at 12 and type 12 at 20; at 28 one of
// type 2. 36 bytes, padded to size.
func netlinkMsg(size int) []byte {
	p := make([]byte, size)
	put := func(off int, l, t uint16) {
		binary.LittleEndian.PutUint16(p[off:], l)
		binary.LittleEndian.PutUint16(p[off+2:], t)
	}
	put(0, 8, 1)
	put(8, 20, 0x800a)
	put(12, 8, 11)
	put(20, 8, 12)
	put(28, 8, 2)
	return p
}
