package cbpf

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// The benchmark filters, also used by the kernel and example tests.

// Produced by `tcpdump -ddd 'ip and tcp dst port 80'` (tcpdump 4.99.3,
// libpcap 1.10.3), joined with commas as tc takes it.
const bytecodeTCPDst80 = "11,40 0 0 12,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20," +
	"69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 262144,6 0 0 0"

// Produced by `tcpdump -ddd 'tcp[tcpflags] & tcp-syn != 0 and net
// 10.0.0.0/8'` (tcpdump 4.99.3, libpcap 1.10.3).
const bytecodeSYNNet10 = "17,40 0 0 12,21 0 14 2048,48 0 0 23,21 0 12 6,40 0 0 20," +
	"69 10 0 8191,177 0 0 14,80 0 0 27,69 0 7 2,32 0 0 26,84 0 0 4278190080," +
	"21 3 0 167772160,32 0 0 30,84 0 0 4278190080,21 0 1 167772160,6 0 0 262144,6 0 0 0"

// classifierPorts are the TCP destination ports of the tc-style
// classifier; port i selects classid 1:(i+1).
var classifierPorts = [14]uint16{22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 993, 995, 3306, 5432}

// portClassifier maps the destination port of unfragmented IPv4 TCP to a
// classid as a tc filter in classid mode would: 0 (no match) for anything
// else.
var portClassifier = func() []bpf.RawInstruction {
	p := []bpf.RawInstruction{
		stmt(ld|h|abs, 12),              // ldh [12]
		jump(jmp|jeq|k, 0x800, 0, 20),   // jeq #0x800 jt 2 jf 22
		stmt(ld|b|abs, 23),              // ldb [23]
		jump(jmp|jeq|k, 6, 0, 18),       // jeq #6 jt 4 jf 22
		stmt(ld|h|abs, 20),              // ldh [20]
		jump(jmp|jset|k, 0x1fff, 16, 0), // jset #0x1fff jt 22 jf 6
		stmt(ldx|b|msh, 14),             // ldxb 4*([14]&0xf)
		stmt(ld|h|ind, 16),              // ldh [x + 16]
	}
	for _, port := range classifierPorts {
		p = append(p, jump(jmp|jeq|k, uint32(port), 14, 0)) // jeq #port jt 23+i jf next
	}
	p = append(p, stmt(ret|k, 0)) // ret #0
	for i := range classifierPorts {
		p = append(p, stmt(ret|k, 0x10001+uint32(i))) // ret #1:(i+1)
	}
	return p
}()

// The hand-written Go equivalents of the filters, for the benchmarks'
// baseline: the same checks on the same bytes.

func goTCPDst80(f []byte) uint32 {
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || len(f) < 24 || f[23] != 6 {
		return 0
	}
	if binary.BigEndian.Uint16(f[20:])&0x1fff != 0 {
		return 0
	}
	x := 14 + int(f[14]&0xf)*4
	if len(f) < x+4 || binary.BigEndian.Uint16(f[x+2:]) != 80 {
		return 0
	}
	return 262144
}

func goSYNNet10(f []byte) uint32 {
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || len(f) < 24 || f[23] != 6 {
		return 0
	}
	if binary.BigEndian.Uint16(f[20:])&0x1fff != 0 {
		return 0
	}
	x := 14 + int(f[14]&0xf)*4
	if len(f) < x+14 || f[x+13]&0x02 == 0 || len(f) < 34 {
		return 0
	}
	if binary.BigEndian.Uint32(f[26:])&0xff000000 == 0x0a000000 || binary.BigEndian.Uint32(f[30:])&0xff000000 == 0x0a000000 {
		return 262144
	}
	return 0
}

func goPortClassifier(f []byte) uint32 {
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || len(f) < 24 || f[23] != 6 {
		return 0
	}
	if binary.BigEndian.Uint16(f[20:])&0x1fff != 0 {
		return 0
	}
	x := 14 + int(f[14]&0xf)*4
	if len(f) < x+4 {
		return 0
	}
	port := binary.BigEndian.Uint16(f[x+2:])
	for i, p := range classifierPorts {
		if p == port {
			return 0x10001 + uint32(i)
		}
	}
	return 0
}
