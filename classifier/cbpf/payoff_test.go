package cbpf

import (
	"encoding/binary"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// SKF_AD_PAY_OFFSET on the headers the kernel's flow dissector follows
// (net/core/flow_dissector.c __skb_flow_dissect, __skb_get_poff). The
// offsets are counted by hand from the layers each frame is built of.

// ethFrame returns an Ethernet frame with the EtherType and the layers,
// padded to size bytes with a counting pattern (size 0: no padding).
func ethFrame(size int, ether uint16, layers ...[]byte) []byte {
	f := append(append([]byte(nil), macDst...), macSrc...)
	f = binary.BigEndian.AppendUint16(f, ether)
	for _, l := range layers {
		f = append(f, l...)
	}
	for i := len(f); i < size; i++ {
		f = append(f, byte(i))
	}
	return f
}

// ipv4 returns an IPv4 header of ihl words with the protocol and the
// fragment field (flags and offset).
func ipv4(proto byte, ihl int, frag uint16) []byte {
	h := make([]byte, max(ihl, 5)*4)
	h[0] = 0x40 | byte(ihl)
	h[8] = 64
	h[9] = proto
	binary.BigEndian.PutUint16(h[6:], frag)
	copy(h[12:], ipSrc)
	copy(h[16:], ipDst)
	return h
}

// ipv6 returns an IPv6 header with the next header.
func ipv6(next byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	h[6] = next
	h[7] = 64
	return h
}

// tcpHdr returns a TCP header whose data offset is doff words (at least
// 20 bytes long).
func tcpHdr(doff int) []byte {
	h := make([]byte, max(doff, 5)*4)
	binary.BigEndian.PutUint16(h[2:], 80)
	h[12] = byte(doff) << 4
	h[13] = 0x02
	return h
}

// udpHdr is an 8-byte UDP header.
func udpHdr() []byte { return []byte{0x14, 0xe9, 0, 53, 0, 8, 0, 0} }

// ext6 is an IPv6 extension header (hop-by-hop, routing, destination) of
// (hlen+1)*8 bytes.
func ext6(next byte, hlen byte) []byte {
	h := make([]byte, (int(hlen)+1)*8)
	h[0], h[1] = next, hlen
	return h
}

// frag6 is an IPv6 fragment header with the offset field.
func frag6(next byte, off uint16) []byte {
	h := make([]byte, 8)
	h[0] = next
	binary.BigEndian.PutUint16(h[2:], off<<3)
	return h
}

// greHdr is a GRE header with the flags word, the protocol and the
// optional words the flags announce.
func greHdr(flags, proto uint16, words int) []byte {
	h := binary.BigEndian.AppendUint16(nil, flags)
	h = binary.BigEndian.AppendUint16(h, proto)
	return append(h, make([]byte, 4*words)...)
}

// pppoe is a PPPoE session header followed by the PPP protocol bytes.
func pppoe(verType byte, proto ...byte) []byte {
	return append([]byte{verType, 0, 0, 1, 0, 40}, proto...)
}

// repeatBytes concatenates n copies of b.
func repeatBytes(n int, b []byte) []byte {
	var r []byte
	for range n {
		r = append(r, b...)
	}
	return r
}

// poffProg reads the payload offset.
var poffProg = []bpf.RawInstruction{
	stmt(ld|w|abs, anc(uapi.SKF_AD_PAY_OFFSET)), // ld #poff
	stmt(ret|a, 0), // ret a
}

// poffCase is a payload-offset table case on a frame.
func poffCase(name string, want uint32, frame []byte) runCase {
	return runCase{name: "poff_" + name, oracle: oracleVeth, frame: frame, want: want, prog: poffProg}
}

var poffCases = []runCase{
	poffCase("ipv4_tcp", 54, ethFrame(300, 0x0800, ipv4(6, 5, 0x4000), tcpHdr(5))),
	poffCase("ipv4_tcp_doff_15", 94, ethFrame(300, 0x0800, ipv4(6, 5, 0), tcpHdr(15))),
	poffCase("ipv4_tcp_doff_2", 54, ethFrame(300, 0x0800, ipv4(6, 5, 0), tcpHdr(2))),
	poffCase("ipv4_options_udp", 46, ethFrame(300, 0x0800, ipv4(17, 6, 0), udpHdr())),
	poffCase("ipv4_ihl_4", 0, ethFrame(300, 0x0800, ipv4(6, 4, 0), tcpHdr(5))),
	poffCase("ipv4_first_fragment", 54, ethFrame(300, 0x0800, ipv4(6, 5, 0x2000), tcpHdr(5))),
	poffCase("ipv4_later_fragment", 34, ethFrame(300, 0x0800, ipv4(6, 5, 0x0010), tcpHdr(5))),
	poffCase("ipv4_icmp", 42, ethFrame(300, 0x0800, ipv4(1, 5, 0))),
	poffCase("ipv4_igmp", 42, ethFrame(300, 0x0800, ipv4(2, 5, 0))),
	poffCase("ipv4_sctp", 46, ethFrame(300, 0x0800, ipv4(132, 5, 0))),
	poffCase("ipv4_dccp", 46, ethFrame(300, 0x0800, ipv4(33, 5, 0))),
	poffCase("ipv4_udplite", 42, ethFrame(300, 0x0800, ipv4(136, 5, 0))),
	poffCase("ipv4_other_protocol", 34, ethFrame(300, 0x0800, ipv4(99, 5, 0))),
	poffCase("ipv4_tcp_truncated", 34, ethFrame(0, 0x0800, ipv4(6, 5, 0), make([]byte, 12))),
	poffCase("ipv4_header_truncated", 0, ethFrame(0, 0x0800, ipv4(6, 5, 0)[:19])),
	poffCase("ipv6_udp", 62, ethFrame(300, 0x86dd, ipv6(17), udpHdr())),
	poffCase("ipv6_tcp", 74, ethFrame(300, 0x86dd, ipv6(6), tcpHdr(5))),
	poffCase("ipv6_hop_by_hop_tcp", 82, ethFrame(300, 0x86dd, ipv6(0), ext6(6, 0), tcpHdr(5))),
	poffCase("ipv6_routing_dest_udp", 94, ethFrame(300, 0x86dd, ipv6(43), ext6(60, 1), ext6(17, 1), udpHdr())),
	poffCase("ipv6_first_fragment", 82, ethFrame(300, 0x86dd, ipv6(44), frag6(6, 0), tcpHdr(5))),
	poffCase("ipv6_later_fragment", 62, ethFrame(300, 0x86dd, ipv6(44), frag6(6, 8), tcpHdr(5))),
	poffCase("ipv6_header_truncated", 0, ethFrame(0, 0x86dd, ipv6(6)[:39])),
	poffCase("ipip", 74, ethFrame(300, 0x0800, ipv4(4, 5, 0), ipv4(6, 5, 0), tcpHdr(5))),
	poffCase("ipip_header_limit", 334, ethFrame(400, 0x0800, append(repeatBytes(17, ipv4(4, 5, 0)), tcpHdr(5)...))),
	poffCase("cfm", 14, ethFrame(300, 0x8902)),
	poffCase("ptp", 48, ethFrame(300, 0x88f7)),
	poffCase("ptp_short", 0, ethFrame(14+33, 0x88f7)),
	poffCase("hsr_not_followed", 0, ethFrame(300, 0x892f, ipv4(6, 5, 0))),
	poffCase("ipv6_in_ipv4", 82, ethFrame(300, 0x0800, ipv4(41, 5, 0), ipv6(17), udpHdr())),
	poffCase("ipv4_in_ipv6", 82, ethFrame(300, 0x86dd, ipv6(4), ipv4(17, 5, 0), udpHdr())),
	poffCase("gre_ipv4", 66, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0, 0x0800, 0), ipv4(17, 5, 0), udpHdr())),
	poffCase("gre_csum_key_seq", 78, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0xb000, 0x0800, 3), ipv4(17, 5, 0), udpHdr())),
	poffCase("gre_teb", 80, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0, 0x6558, 0), ethFrame(0, 0x0800)[:14], ipv4(17, 5, 0), udpHdr())),
	poffCase("gre_routing", 34, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0x4000, 0x0800, 0), ipv4(17, 5, 0))),
	poffCase("gre_version_2", 34, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0x0002, 0x0800, 0), ipv4(17, 5, 0))),
	poffCase("gre_pptp", 78, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0x2081, 0x880b, 2), []byte{0xff, 0x03, 0x00, 0x21}, ipv4(17, 5, 0), udpHdr())),
	poffCase("vlan_in_frame_after_offloaded", 58, ethFrame(300, 0x88a8, []byte{0, 5, 0x81, 0}, []byte{0, 7, 0x08, 0}, ipv4(6, 5, 0), tcpHdr(5))),
	poffCase("vlan_header_limit", 74, ethFrame(400, 0x8100, repeatBytes(20, []byte{0, 1, 0x81, 0}), ipv4(6, 5, 0))),
	poffCase("pppoe_mpls_multicast", 26, ethFrame(300, 0x8864, pppoe(0x11, 0x02, 0x83), []byte{0, 0, 0x11, 64})),
	poffCase("gre_truncated", 0, ethFrame(0, 0x0800, ipv4(47, 5, 0), []byte{0, 0})),
	poffCase("gre_key_truncated", 0, ethFrame(0, 0x0800, ipv4(47, 5, 0), greHdr(0x2000, 0x0800, 0), []byte{1, 2})),
	poffCase("gre_teb_truncated", 0, ethFrame(0, 0x0800, ipv4(47, 5, 0), greHdr(0, 0x6558, 0), make([]byte, 10))),
	poffCase("gre_pptp_truncated", 0, ethFrame(0, 0x0800, ipv4(47, 5, 0), greHdr(0x2001, 0x880b, 1), []byte{0xff, 0x03})),
	poffCase("gre_pptp_ipv6", 94, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0x2001, 0x880b, 1), []byte{0xff, 0x03, 0x00, 0x57}, ipv6(17), udpHdr())),
	poffCase("gre_version_1_not_pptp", 34, ethFrame(300, 0x0800, ipv4(47, 5, 0), greHdr(0x0001, 0x0800, 0), ipv4(17, 5, 0))),
	poffCase("ipv6_fragment_truncated", 0, ethFrame(0, 0x86dd, ipv6(44), []byte{6, 0, 0})),
	poffCase("ipv6_ext_truncated", 0, ethFrame(0, 0x86dd, ipv6(60), []byte{6})),
	poffCase("mpls_in_ipv4", 38, ethFrame(300, 0x0800, ipv4(137, 5, 0), []byte{0, 0, 0x11, 64})),
	poffCase("hop_by_hop_in_ipv4", 34, ethFrame(300, 0x0800, ipv4(0, 5, 0), ext6(6, 0))),
	poffCase("mpls", 18, ethFrame(300, 0x8847, []byte{0, 0, 0x11, 64}, ipv4(6, 5, 0))),
	poffCase("pppoe_ipv4", 50, ethFrame(300, 0x8864, pppoe(0x11, 0, 0x21), ipv4(17, 5, 0), udpHdr())),
	poffCase("pppoe_ipv6", 70, ethFrame(300, 0x8864, pppoe(0x11, 0, 0x57), ipv6(17), udpHdr())),
	poffCase("pppoe_protocol_not_compressed", 0, ethFrame(300, 0x8864, pppoe(0x11, 0x21), ipv4(17, 5, 0), udpHdr())),
	poffCase("pppoe_mpls", 26, ethFrame(300, 0x8864, pppoe(0x11, 0x02, 0x81), []byte{0, 0, 0x11, 64})),
	poffCase("pppoe_lcp", 22, ethFrame(300, 0x8864, pppoe(0x11, 0xc0, 0x21))),
	poffCase("pppoe_bad_protocol", 0, ethFrame(300, 0x8864, pppoe(0x11, 0x00, 0x20))),
	poffCase("pppoe_bad_version", 0, ethFrame(300, 0x8864, pppoe(0x21, 0, 0x21), ipv4(17, 5, 0))),
	poffCase("fcoe", 52, ethFrame(300, 0x8906)),
	poffCase("fcoe_short", 0, ethFrame(14+37, 0x8906)),
	poffCase("arp", 14, ethFrame(300, 0x0806)),
	poffCase("tipc", 14, ethFrame(300, 0x88ca)),
	poffCase("tipc_short", 0, ethFrame(14+15, 0x88ca)),
	poffCase("batman_unicast", 66, ethFrame(300, 0x4305, []byte{0x40, 15, 0, 0, 0, 0, 0, 0, 0, 0}, ethFrame(0, 0x0800)[:14], ipv4(17, 5, 0), udpHdr())),
	poffCase("batman_bad_version", 0, ethFrame(300, 0x4305, []byte{0x40, 14, 0, 0, 0, 0, 0, 0, 0, 0}, ethFrame(0, 0x0800)[:14], ipv4(17, 5, 0))),
	poffCase("unknown_ethertype", 0, ethFrame(300, 0x1234)),
	poffCase("ieee_802_3_length", 0, ethFrame(300, 0x0100)),
	{name: "poff_l3_device", dgram: append(ipv4(6, 5, 0), tcpHdr(5)...), want: 40, prog: poffProg,
		meta: func(p *packet.Packet) { p.Protocol = 0x0800 }},
	{name: "poff_nonlinear", frame: ethFrame(300, 0x0800, ipv4(6, 5, 0), tcpHdr(5)), want: 54, prog: poffProg,
		setup: func(p *packet.Packet) error { return p.SetLinearLen(20) }},
}

// allRunCases is every execution table case.
func allRunCases() []runCase {
	return append(append([]runCase(nil), runCases...), poffCases...)
}
