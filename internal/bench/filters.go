package bench

import (
	"encoding/binary"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
)

// Filter is one benchmark filter: its classic program and the
// hand-written Go function that computes the same result from the frame.
type Filter struct {
	Name string
	Prog []bpf.RawInstruction
	Go   func([]byte) uint32
	// Port is the TCP destination port of the frame the filter is timed
	// on: one it matches on its longest path.
	Port uint16
}

// tcpdump -ddd output (tcpdump 4.99.3, libpcap 1.10.3), joined with
// commas as tc takes it.
const (
	bytecodeTCPDst80 = "11,40 0 0 12,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20," +
		"69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 80,6 0 0 262144,6 0 0 0"
	bytecodeSYNNet10 = "17,40 0 0 12,21 0 14 2048,48 0 0 23,21 0 12 6,40 0 0 20," +
		"69 10 0 8191,177 0 0 14,80 0 0 27,69 0 7 2,32 0 0 26,84 0 0 4278190080," +
		"21 3 0 167772160,32 0 0 30,84 0 0 4278190080,21 0 1 167772160,6 0 0 262144,6 0 0 0"
)

// ClassifierPorts are the ports of the 14-port classifier; port i selects
// classid 1:(i+1).
var ClassifierPorts = [14]uint16{22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 993, 995, 3306, 5432}

// Filters returns the three filters of the classic issue.
func Filters() []Filter {
	return []Filter{
		{"tcp_dst_port_80", mustParse(bytecodeTCPDst80), GoTCPDst80, 80},
		{"tcp_syn_net_10", mustParse(bytecodeSYNNet10), GoSYNNet10, 5432},
		{"port_classifier_14", portClassifier(), GoPortClassifier, 5432},
	}
}

func mustParse(s string) []bpf.RawInstruction {
	raw, err := cbpf.ParseBytecode(s)
	if err != nil {
		panic("bench: bad built-in filter: " + err.Error())
	}
	return raw
}

// portClassifier maps the destination port of unfragmented IPv4 TCP to a
// classid, 0 for anything else.
func portClassifier() []bpf.RawInstruction {
	insns := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                           // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipFalse: 20},   // jeq #0x800 jt 2 jf 22
		bpf.LoadAbsolute{Off: 23, Size: 1},                           // ldb [23]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 18},       // jeq #6 jt 4 jf 22
		bpf.LoadAbsolute{Off: 20, Size: 2},                           // ldh [20]
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 16}, // jset #0x1fff jt 22 jf 6
		bpf.LoadMemShift{Off: 14},                                    // ldxb 4*([14]&0xf)
		bpf.LoadIndirect{Off: 16, Size: 2},                           // ldh [x + 16]
	}
	for _, port := range ClassifierPorts {
		insns = append(insns, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipTrue: 14}) // jeq #port jt 23+i
	}
	insns = append(insns, bpf.RetConstant{Val: 0}) // ret #0
	for i := range ClassifierPorts {
		insns = append(insns, bpf.RetConstant{Val: 0x10001 + uint32(i)}) // ret #1:(i+1)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic("bench: bad built-in filter: " + err.Error())
	}
	return raw
}

// GoTCPDst80 is `ip and tcp dst port 80` written by hand.
func GoTCPDst80(f []byte) uint32 {
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

// GoSYNNet10 is `tcp[tcpflags] & tcp-syn != 0 and net 10.0.0.0/8` written
// by hand.
func GoSYNNet10(f []byte) uint32 {
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

// GoPortClassifier is the 14-port classifier written by hand.
func GoPortClassifier(f []byte) uint32 {
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
	for i, p := range ClassifierPorts {
		if p == port {
			return 0x10001 + uint32(i)
		}
	}
	return 0
}

// SYN returns an Ethernet IPv4 TCP SYN frame of size bytes (at least 54)
// from 10.1.2.3 to 192.168.1.2, to TCP port dport.
func SYN(size int, dport uint16) []byte {
	f := make([]byte, max(size, 54))
	for i := 54; i < len(f); i++ {
		f[i] = byte(i)
	}
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 1, 2, 3, 192, 168, 1, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 1234)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, 0x02
	return f
}
