package cbpf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Table tests for every opcode and extension: expected values from
// spec/bpf.md §1.4-1.7 and from the frames in frames_test.go. Each case
// runs on both engines; cases a kernel oracle can answer also run there
// (kernel_linux_test.go).

// oracleKind says which kernel oracle can check a case.
type oracleKind uint8

const (
	oracleNone      oracleKind = iota // metadata no oracle reproduces: engines only
	oracleUnix                        // a datagram on an AF_UNIX socket (no device, no MAC header)
	oracleVeth                        // a frame received on a veth by an AF_PACKET socket
	oracleVethDgram                   // the same on an AF_PACKET SOCK_DGRAM socket: data at the network header
)

// runCase is one program run on one packet.
type runCase struct {
	name   string
	prog   []bpf.RawInstruction
	frame  []byte               // an Ethernet frame (MAC header at 0, network header at 14)
	dgram  []byte               // or a datagram (network header at 0, no device)
	meta   func(*packet.Packet) // metadata beyond the defaults
	want   uint32               //
	oracle oracleKind           //
	setup  func(*packet.Packet) error
}

// Defaults of the table's packets (lib/test_bpf.c uses the same kind of
// recognisable values).
const (
	testIfindex = 577
	testMark    = 0x1234aaaa
	testHash    = 0x1234aaab
	testQueue   = 123
	testSlot    = 3
)

// devMAC is the address of the table's receiving device: the test frames
// are addressed to another host.
var devMAC = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}

// tablePacket builds the packet a case runs on in the engine-only check.
func tablePacket(t testing.TB, c runCase) *packet.Packet {
	t.Helper()
	pkt := packet.New(2048)
	if c.frame != nil {
		require.NoError(t, pkt.SetFrame(c.frame))
		if tpid := uint16(c.frame[12])<<8 | uint16(c.frame[13]); tpid == 0x8100 || tpid == 0x88a8 {
			require.NoError(t, pkt.UntagVLAN())
		}
		pkt.PktType = pktType(c.frame, devMAC)
	} else {
		require.NoError(t, pkt.SetL3(c.dgram))
		pkt.Protocol = 0
	}
	pkt.Ifindex, pkt.Mark, pkt.Hash, pkt.QueueMapping, pkt.Slot = testIfindex, testMark, testHash, testQueue, testSlot
	if c.meta != nil {
		c.meta(pkt)
	}
	if c.setup != nil {
		require.NoError(t, c.setup(pkt))
	}
	return pkt
}

var syn300 = tcpSYN(300, 80)

// bigDgram is a datagram large enough that AF_UNIX puts its tail in a page
// fragment, byte i holding i.
var bigDgram = func() []byte {
	b := make([]byte, 20000)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// unixLayout gives a datagram packet the linear length the kernel's
// unix_dgram_sendmsg gives the skb: beyond SKB_MAX_ALLOC (16064 bytes on
// x86-64 with 4 KiB pages) the tail, rounded up to pages, goes to
// fragments. Only linear or not matters to a classic program (netlink
// extensions need a linear packet).
func unixLayout(p *packet.Packet) error {
	const maxAlloc, page = 16064, 4096
	n := p.Len()
	if n <= maxAlloc {
		return nil
	}
	paged := min(n-maxAlloc, 17*page)
	paged = (paged + page - 1) &^ (page - 1)
	return p.SetLinearLen(n - paged)
}

var runCases = []runCase{
	// Packet loads, ABS.
	{name: "ld_abs_w", oracle: oracleVeth, frame: syn300, want: 0x0a010203, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 26), // ld [26]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_abs_h", oracle: oracleVeth, frame: syn300, want: 0x0800, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, 12), // ldh [12]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_abs_b", oracle: oracleVeth, frame: syn300, want: 6, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 23), // ldb [23]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_abs_w_last_bytes", oracle: oracleVeth, frame: syn300, want: 0x28292a2b, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 296), // ld [296]
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ld_abs_w_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 297), // ld [297]
		stmt(ret|k, 1),      // ret #1
	}},
	{name: "ld_abs_h_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, 299), // ldh [299]
		stmt(ret|k, 1),      // ret #1
	}},
	{name: "ld_abs_b_last", oracle: oracleVeth, frame: syn300, want: 0x2b + 1, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 299), // ldb [299]
		stmt(alu|add|k, 1),  // add #1
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ld_abs_b_at_len", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 300), // ldb [300]
		stmt(ret|k, 1),      // ret #1
	}},
	{name: "ld_abs_unaligned", oracle: oracleVeth, frame: syn300, want: 0x0800_4500, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 12), // ld [12]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_abs_largest_positive", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 0x7fffffff), // ldb [0x7fffffff]
		stmt(ret|k, 1),             // ret #1
	}},
	{name: "ld_abs_below_ll_off", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, llOff-1), // ldb [SKF_LL_OFF-1]
		stmt(ret|k, 1),          // ret #1
	}},
	{name: "ld_abs_0x80000000", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 0x80000000), // ldb [-2147483648]
		stmt(ret|k, 1),             // ret #1
	}},

	// Header-relative loads.
	{name: "net_off_ip_header", oracle: oracleVeth, frame: syn300, want: 0x45, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, netOff), // ldb [SKF_NET_OFF]
		stmt(ret|a, 0),         // ret a
	}},
	{name: "net_off_last_word", oracle: oracleVeth, frame: syn300, want: 0x28292a2b, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, netOff+282), // ld [SKF_NET_OFF+282]
		stmt(ret|a, 0),             // ret a
	}},
	{name: "net_off_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, netOff+283), // ld [SKF_NET_OFF+283]
		stmt(ret|k, 1),             // ret #1
	}},
	{name: "net_off_datagram", oracle: oracleUnix, dgram: syn300[14:], want: 0x0a01, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, netOff+12), // ldh [SKF_NET_OFF+12]
		stmt(ret|a, 0),            // ret a
	}},
	{name: "ll_off_dst_mac", oracle: oracleVeth, frame: syn300, want: 0x02000000, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, llOff), // ld [SKF_LL_OFF]
		stmt(ret|a, 0),        // ret a
	}},
	{name: "ll_off_ethertype", oracle: oracleVeth, frame: syn300, want: 0x0800, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, llOff+12), // ldh [SKF_LL_OFF+12]
		stmt(ret|a, 0),           // ret a
	}},
	{name: "ll_off_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, llOff+297), // ld [SKF_LL_OFF+297]
		stmt(ret|k, 1),            // ret #1
	}},
	{name: "ll_off_in_headroom", oracle: oracleVethDgram, frame: syn300, want: 0x0800, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, llOff+12), // ldh [SKF_LL_OFF+12]: the MAC header lies before data
		stmt(ret|a, 0),           // ret a
	}},
	{name: "net_off_after_pull", oracle: oracleVethDgram, frame: syn300, want: 0x45, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, netOff), // ldb [SKF_NET_OFF]
		stmt(ret|a, 0),         // ret a
	}},

	// Packet loads, IND.
	{name: "ld_ind_w", oracle: oracleVeth, frame: syn300, want: 0xc0a80102, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 14),  // ldx #14
		stmt(ld|w|ind, 16), // ld [x + 16]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_ind_h_dport", oracle: oracleVeth, frame: syn300, want: 80, prog: []bpf.RawInstruction{
		stmt(ldx|b|msh, 14), // ldxb 4*([14]&0xf)
		stmt(ld|h|ind, 16),  // ldh [x + 16]
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ld_ind_x_wraps", oracle: oracleVeth, frame: syn300, want: 0x02, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0xffffffff), // ldx #0xffffffff
		stmt(ld|b|ind, 1),         // ldb [x + 1]: P[0]
		stmt(ret|a, 0),            // ret a
	}},
	{name: "ld_ind_x_wraps_3", oracle: oracleVeth, frame: syn300, want: 0x07, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0xffffffff), // ldx #0xffffffff
		stmt(ld|b|ind, 3),         // ldb [x + 3]: P[2]
		stmt(alu|add|k, 7),        // add #7
		stmt(ret|a, 0),            // ret a
	}},
	{name: "ld_ind_negative", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0),           // ldx #0
		stmt(ld|b|ind, 0xffffffff), // ldb [x + -1]
		stmt(ret|k, 1),             // ret #1
	}},
	{name: "ld_ind_ancillary_range", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0),      // ldx #0
		stmt(ld|w|ind, adOff), // ld [x + SKF_AD_OFF]: not an extension
		stmt(ret|k, 1),        // ret #1
	}},
	{name: "ld_ind_0x80000000", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0x7fffffff), // ldx #0x7fffffff
		stmt(ld|b|ind, 1),         // ldb [x + 1]
		stmt(ret|k, 1),            // ret #1
	}},
	{name: "ld_ind_net_off", oracle: oracleVeth, frame: syn300, want: 6, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 9),       // ldx #9
		stmt(ld|b|ind, netOff), // ldb [x + SKF_NET_OFF]
		stmt(ret|a, 0),         // ret a
	}},
	{name: "ld_ind_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 298), // ldx #298
		stmt(ld|w|ind, 0),  // ld [x + 0]
		stmt(ret|k, 1),     // ret #1
	}},

	// LDX MSH.
	{name: "ldx_msh", oracle: oracleVeth, frame: syn300, want: 20, prog: []bpf.RawInstruction{
		stmt(ldx|b|msh, 14), // ldxb 4*([14]&0xf)
		stmt(misc|txa, 0),   // txa
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ldx_msh_keeps_a", oracle: oracleVeth, frame: syn300, want: 5, prog: []bpf.RawInstruction{
		stmt(ld|imm, 5),     // ld #5
		stmt(ldx|b|msh, 14), // ldxb 4*([14]&0xf)
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ldx_msh_past_end", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ldx|b|msh, 400), // ldxb 4*([400]&0xf)
		stmt(ret|k, 1),       // ret #1
	}},
	{name: "ldx_msh_net_off", oracle: oracleVeth, frame: syn300, want: 20, prog: []bpf.RawInstruction{
		stmt(ldx|b|msh, netOff), // ldxb 4*([SKF_NET_OFF]&0xf)
		stmt(misc|txa, 0),       // txa
		stmt(ret|a, 0),          // ret a
	}},

	// Lengths, immediates, scratch memory, register moves.
	{name: "ld_len", oracle: oracleVeth, frame: syn300, want: 300, prog: []bpf.RawInstruction{
		stmt(ld|w|lenm, 0), // ld #pktlen
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ldx_len", oracle: oracleUnix, dgram: syn300[:123], want: 123, prog: []bpf.RawInstruction{
		stmt(ldx|w|lenm, 0), // ldx #pktlen
		stmt(misc|txa, 0),   // txa
		stmt(ret|a, 0),      // ret a
	}},
	{name: "ld_len_nonlinear", frame: syn300, want: 300, setup: func(p *packet.Packet) error { return p.SetLinearLen(20) }, prog: []bpf.RawInstruction{
		stmt(ld|w|lenm, 0), // ld #pktlen: skb->len counts the paged part
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ll_off_before_data", oracle: oracleVethDgram, frame: syn300, want: 0x02000000, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, llOff), // ld [SKF_LL_OFF]: the destination MAC, before data
		stmt(ret|a, 0),        // ret a
	}},
	{name: "ll_off_last_word_after_pull", oracle: oracleVethDgram, frame: syn300, want: 0x28292a2b, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, llOff+296), // ld [SKF_LL_OFF+296]
		stmt(ret|a, 0),            // ret a
	}},
	{name: "ll_off_past_end_after_pull", oracle: oracleVethDgram, frame: syn300, want: 0, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, llOff+297), // ld [SKF_LL_OFF+297]
		stmt(ret|k, 1),            // ret #1
	}},
	{name: "ld_abs_after_pull", oracle: oracleVethDgram, frame: syn300, want: 0x45, setup: func(p *packet.Packet) error { return p.Pull(14) }, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 0), // ldb [0]: data is the IP header
		stmt(ret|a, 0),    // ret a
	}},
	{name: "ld_abs_paged_datagram", oracle: oracleUnix, dgram: bigDgram, want: 0x1c1d1e1f, setup: unixLayout, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 19996), // ld [19996]: in the paged part
		stmt(ret|a, 0),        // ret a
	}},
	{name: "ld_len_paged_datagram", oracle: oracleUnix, dgram: bigDgram, want: 20000, setup: unixLayout, prog: []bpf.RawInstruction{
		stmt(ld|w|lenm, 0), // ld #pktlen
		stmt(ret|a, 0),     // ret a
	}},
	{name: "anc_nlattr_paged_datagram", oracle: oracleUnix, dgram: append(netlinkMsg(64), bigDgram[64:]...), want: 0, setup: unixLayout, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0),                         // ld #0
		stmt(ldx|imm, 2),                        // ldx #2
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld [nla]: nothing in a non-linear packet
		stmt(alu|add|k, 0),                      // add #0
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "ld_abs_paged_part", frame: syn300, want: 0x0a010203, setup: func(p *packet.Packet) error { return p.SetLinearLen(20) }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 26), // ld [26]: beyond the linear part
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_imm", oracle: oracleUnix, dgram: syn300, want: 0xdeadbeef, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xdeadbeef), // ld #0xdeadbeef
		stmt(ret|a, 0),           // ret a
	}},
	{name: "ldx_imm_txa", oracle: oracleUnix, dgram: syn300, want: 0xcafe, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0xcafe), // ldx #0xcafe
		stmt(misc|txa, 0),     // txa
		stmt(ret|a, 0),        // ret a
	}},
	{name: "tax", oracle: oracleUnix, dgram: syn300, want: 14, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),    // ld #7
		stmt(misc|tax, 0),  // tax
		stmt(alu|add|x, 0), // add x
		stmt(ret|a, 0),     // ret a
	}},
	{name: "st_ld_mem", oracle: oracleUnix, dgram: syn300, want: 0x11, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x11), // ld #0x11
		stmt(st, 15),       // st M[15]
		stmt(ld|imm, 0),    // ld #0
		stmt(ld|mem, 15),   // ld M[15]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "stx_ldx_mem", oracle: oracleUnix, dgram: syn300, want: 0x22, prog: []bpf.RawInstruction{
		stmt(ldx|imm, 0x22), // ldx #0x22
		stmt(stx, 0),        // stx M[0]
		stmt(ldx|imm, 0),    // ldx #0
		stmt(ldx|mem, 0),    // ldx M[0]
		stmt(misc|txa, 0),   // txa
		stmt(ret|a, 0),      // ret a
	}},

	// ALU.
	{name: "add_k_wraps", oracle: oracleUnix, dgram: syn300, want: 0x10, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xfffffff0), // ld #0xfffffff0
		stmt(alu|add|k, 0x20),    // add #0x20
		stmt(ret|a, 0),           // ret a
	}},
	{name: "sub_x", oracle: oracleUnix, dgram: syn300, want: 0xfffffffe, prog: []bpf.RawInstruction{
		stmt(ld|imm, 3),    // ld #3
		stmt(ldx|imm, 5),   // ldx #5
		stmt(alu|sub|x, 0), // sub x
		stmt(ret|a, 0),     // ret a
	}},
	{name: "sub_k", oracle: oracleUnix, dgram: syn300, want: 0xffffffff, prog: []bpf.RawInstruction{
		stmt(alu|sub|k, 1), // sub #1
		stmt(ret|a, 0),     // ret a
	}},
	{name: "mul_k_low_bits", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x10000),    // ld #0x10000
		stmt(alu|mul|k, 0x10000), // mul #0x10000
		stmt(alu|add|k, 0),       // add #0
		stmt(ret|a, 0),           // ret a
	}},
	{name: "mul_x", oracle: oracleUnix, dgram: syn300, want: 0xfffffffd, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xffffffff), // ld #0xffffffff
		stmt(ldx|imm, 3),         // ldx #3
		stmt(alu|mul|x, 0),       // mul x
		stmt(ret|a, 0),           // ret a
	}},
	{name: "div_k_unsigned", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xffffffff),    // ld #0xffffffff
		stmt(alu|div|k, 0x80000000), // div #0x80000000
		stmt(ret|a, 0),              // ret a
	}},
	{name: "div_x", oracle: oracleUnix, dgram: syn300, want: 3, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),    // ld #7
		stmt(ldx|imm, 2),   // ldx #2
		stmt(alu|div|x, 0), // div x
		stmt(ret|a, 0),     // ret a
	}},
	{name: "div_x_zero_ends_with_0", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),    // ld #7
		stmt(alu|div|x, 0), // div x (x = 0)
		stmt(ret|k, 1),     // ret #1
	}},
	{name: "mod_k", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),    // ld #7
		stmt(alu|mod|k, 3), // mod #3
		stmt(ret|a, 0),     // ret a
	}},
	{name: "mod_x", oracle: oracleUnix, dgram: syn300, want: 0x7fffffff, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xffffffff),  // ld #0xffffffff
		stmt(ldx|imm, 0x80000000), // ldx #0x80000000
		stmt(alu|mod|x, 0),        // mod x
		stmt(ret|a, 0),            // ret a
	}},
	{name: "mod_x_zero_ends_with_0", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),    // ld #7
		stmt(alu|mod|x, 0), // mod x (x = 0)
		stmt(ret|k, 1),     // ret #1
	}},
	{name: "and_or_xor", oracle: oracleUnix, dgram: syn300, want: (0xf0f0&0xff00 | 0x0f) ^ 0x5555, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xf0f0),    // ld #0xf0f0
		stmt(alu|and|k, 0xff00), // and #0xff00
		stmt(alu|or|k, 0x0f),    // or #0xf
		stmt(alu|xor|k, 0x5555), // xor #0x5555
		stmt(ret|a, 0),          // ret a
	}},
	{name: "and_or_xor_x", oracle: oracleUnix, dgram: syn300, want: ((0x1234 & 0xff) | 0xff) ^ 0xff, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x1234), // ld #0x1234
		stmt(ldx|imm, 0xff),  // ldx #0xff
		stmt(alu|and|x, 0),   // and x
		stmt(alu|or|x, 0),    // or x
		stmt(alu|xor|x, 0),   // xor x
		stmt(ret|a, 0),       // ret a
	}},
	{name: "lsh_k_31", oracle: oracleUnix, dgram: syn300, want: 0x80000000, prog: []bpf.RawInstruction{
		stmt(ld|imm, 3),     // ld #3
		stmt(alu|lsh|k, 31), // lsh #31
		stmt(ret|a, 0),      // ret a
	}},
	{name: "lsh_x_masked", oracle: oracleUnix, dgram: syn300, want: 2, prog: []bpf.RawInstruction{
		stmt(ld|imm, 1),    // ld #1
		stmt(ldx|imm, 33),  // ldx #33
		stmt(alu|lsh|x, 0), // lsh x: 33 & 31 = 1
		stmt(ret|a, 0),     // ret a
	}},
	{name: "rsh_k", oracle: oracleUnix, dgram: syn300, want: 0x00ff00ff, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xff00ff00), // ld #0xff00ff00
		stmt(alu|rsh|k, 8),       // rsh #8
		stmt(ret|a, 0),           // ret a
	}},
	{name: "rsh_x_masked", oracle: oracleUnix, dgram: syn300, want: 0x40000000, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x80000000), // ld #0x80000000
		stmt(ldx|imm, 33),        // ldx #33
		stmt(alu|rsh|x, 0),       // rsh x: logical, 33 & 31 = 1
		stmt(ret|a, 0),           // ret a
	}},
	{name: "neg", oracle: oracleUnix, dgram: syn300, want: 0xfffffffb, prog: []bpf.RawInstruction{
		stmt(ld|imm, 5),  // ld #5
		stmt(alu|neg, 0), // neg
		stmt(ret|a, 0),   // ret a
	}},

	// Jumps.
	{name: "ja", oracle: oracleUnix, dgram: syn300, want: 2, prog: []bpf.RawInstruction{
		stmt(jmp|ja, 1), // ja 2
		stmt(ret|k, 1),  // ret #1
		stmt(ret|k, 2),  // ret #2
	}},
	{name: "ja_zero", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(jmp|ja, 0), // ja 1
		stmt(ret|k, 1),  // ret #1
	}},
	{name: "jeq_k_taken", oracle: oracleVeth, frame: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, 12),           // ldh [12]
		jump(jmp|jeq|k, 0x800, 0, 1), // jeq #0x800 jt 2 jf 3
		stmt(ret|k, 1),               // ret #1
		stmt(ret|k, 2),               // ret #2
	}},
	{name: "jeq_k_not_taken", oracle: oracleVeth, frame: udp6(300), want: 2, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, 12),           // ldh [12]
		jump(jmp|jeq|k, 0x800, 0, 1), // jeq #0x800 jt 2 jf 3
		stmt(ret|k, 1),               // ret #1
		stmt(ret|k, 2),               // ret #2
	}},
	{name: "jgt_k_unsigned", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x80000001),          // ld #0x80000001
		jump(jmp|jgt|k, 0x80000000, 0, 1), // jgt #0x80000000 jt 2 jf 3
		stmt(ret|k, 1),                    // ret #1
		stmt(ret|k, 2),                    // ret #2
	}},
	{name: "jgt_k_equal", oracle: oracleUnix, dgram: syn300, want: 2, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),          // ld #7
		jump(jmp|jgt|k, 7, 0, 1), // jgt #7 jt 2 jf 3
		stmt(ret|k, 1),           // ret #1
		stmt(ret|k, 2),           // ret #2
	}},
	{name: "jge_k_equal", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 7),          // ld #7
		jump(jmp|jge|k, 7, 0, 1), // jge #7 jt 2 jf 3
		stmt(ret|k, 1),           // ret #1
		stmt(ret|k, 2),           // ret #2
	}},
	{name: "jset_k", oracle: oracleUnix, dgram: syn300, want: 2, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xf0),           // ld #0xf0
		jump(jmp|jset|k, 0x0f, 0, 1), // jset #0xf jt 2 jf 3
		stmt(ret|k, 1),               // ret #1
		stmt(ret|k, 2),               // ret #2
	}},
	{name: "jeq_x", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 9),          // ld #9
		stmt(ldx|imm, 9),         // ldx #9
		jump(jmp|jeq|x, 0, 0, 1), // jeq x jt 3 jf 4
		stmt(ret|k, 1),           // ret #1
		stmt(ret|k, 2),           // ret #2
	}},
	{name: "jgt_x_unsigned", oracle: oracleUnix, dgram: syn300, want: 2, prog: []bpf.RawInstruction{
		stmt(ld|imm, 1),           // ld #1
		stmt(ldx|imm, 0xffffffff), // ldx #0xffffffff
		jump(jmp|jgt|x, 0, 0, 1),  // jgt x jt 3 jf 4
		stmt(ret|k, 1),            // ret #1
		stmt(ret|k, 2),            // ret #2
	}},
	{name: "jge_x", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0xffffffff),  // ld #0xffffffff
		stmt(ldx|imm, 0xffffffff), // ldx #0xffffffff
		jump(jmp|jge|x, 0, 0, 1),  // jge x jt 3 jf 4
		stmt(ret|k, 1),            // ret #1
		stmt(ret|k, 2),            // ret #2
	}},
	{name: "jset_x", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x81),        // ld #0x81
		stmt(ldx|imm, 0x80000001), // ldx #0x80000001
		jump(jmp|jset|x, 0, 0, 1), // jset x jt 3 jf 4
		stmt(ret|k, 1),            // ret #1
		stmt(ret|k, 2),            // ret #2
	}},
	{name: "jump_both_same", oracle: oracleUnix, dgram: syn300, want: 3, prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 1, 1), // jeq #0x0 jt 2 jf 2
		stmt(ret|k, 1),           // ret #1
		stmt(ret|k, 3),           // ret #3
	}},

	// Returns.
	{name: "ret_k_all_ones", oracle: oracleUnix, dgram: syn300, want: 0xffffffff, prog: []bpf.RawInstruction{
		stmt(ret|k, 0xffffffff), // ret #4294967295
	}},
	{name: "ret_k_zero", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ret|k, 0), // ret #0
	}},
	{name: "ret_a_initial_zero", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ret|a, 0), // ret a
	}},
	{name: "x_initial_zero", oracle: oracleUnix, dgram: syn300, want: 1, prog: []bpf.RawInstruction{
		stmt(misc|txa, 0),  // txa
		stmt(alu|add|k, 1), // add #1
		stmt(ret|a, 0),     // ret a
	}},

	// Extensions.
	{name: "anc_protocol", oracle: oracleVeth, frame: syn300, want: 0x0800, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PROTOCOL)), // ld #proto
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_protocol_as_b", oracle: oracleVeth, frame: udp6(300), want: 0x86dd, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, anc(uapi.SKF_AD_PROTOCOL)), // ldb #proto: the size is ignored
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_protocol_datagram", oracle: oracleUnix, dgram: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, anc(uapi.SKF_AD_PROTOCOL)), // ldh #proto
		stmt(alu|add|k, 0),                        // add #0
		stmt(ret|a, 0),                            // ret a
	}},
	{name: "anc_pkttype_otherhost", oracle: oracleVeth, frame: syn300, want: uint32(packet.OtherHost), prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PKTTYPE)), // ld #type
		stmt(ret|a, 0),                           // ret a
	}},
	{name: "anc_pkttype_broadcast", oracle: oracleVeth, frame: append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, syn300[6:]...), want: uint32(packet.Broadcast), prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PKTTYPE)), // ld #type
		stmt(ret|a, 0),                           // ret a
	}},
	{name: "anc_pkttype_host", frame: append(append([]byte(nil), devMAC...), syn300[6:]...), want: uint32(packet.Host), prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PKTTYPE)), // ld #type
		stmt(alu|add|k, 0),                       // add #0
		stmt(ret|a, 0),                           // ret a
	}},
	{name: "anc_pkttype_outgoing", frame: syn300, want: uint32(packet.Outgoing), meta: func(p *packet.Packet) { p.PktType = packet.Outgoing }, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, anc(uapi.SKF_AD_PKTTYPE)), // ldb #type
		stmt(ret|a, 0),                           // ret a
	}},
	{name: "anc_ifindex", oracle: oracleVeth, frame: syn300, want: testIfindex, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_IFINDEX)), // ld #ifidx
		stmt(ret|a, 0),                           // ret a
	}},
	{name: "anc_hatype", oracle: oracleVeth, frame: syn300, want: packet.ARPHRDEther, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, anc(uapi.SKF_AD_HATYPE)), // ldh #hatype
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_hatype_l3_device", dgram: syn300[14:], want: packet.ARPHRDNone, meta: func(p *packet.Packet) { p.DeviceType = packet.ARPHRDNone }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_HATYPE)), // ld #hatype
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_mark", oracle: oracleVeth, frame: syn300, want: testMark, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_MARK)), // ld #mark
		stmt(ret|a, 0),                        // ret a
	}},
	{name: "anc_queue", oracle: oracleVeth, frame: syn300, want: testQueue, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_QUEUE)), // ld #queue
		stmt(ret|a, 0),                         // ret a
	}},
	{name: "anc_rxhash", oracle: oracleVeth, frame: syn300, want: testHash, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_RXHASH)), // ld #rxhash: as stored, never computed
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_rxhash_unset", oracle: oracleVeth, frame: syn300, want: 0, meta: func(p *packet.Packet) { p.Hash = 0 }, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_RXHASH)), // ld #rxhash
		stmt(alu|add|k, 0),                      // add #0
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_cpu", oracle: oracleVeth, frame: syn300, want: testSlot, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_CPU)), // ld #cpu: the execution slot
		stmt(ret|a, 0),                       // ret a
	}},
	{name: "anc_alu_xor_x", oracle: oracleUnix, dgram: syn300, want: 0xff0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0x0f0f),                       // ld #0xf0f
		stmt(ldx|imm, 0xff),                        // ldx #0xff
		stmt(ld|w|abs, anc(uapi.SKF_AD_ALU_XOR_X)), // ld #xor_x: A ^= X
		stmt(ret|a, 0),                             // ret a
	}},
	{name: "anc_vlan_tag", oracle: oracleVeth, frame: vlanTagged(syn300, 0x8100, 0xf005), want: 0xf005, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_VLAN_TAG)), // ld #vlan_tci: all 16 bits
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_vlan_tag_present", oracle: oracleVeth, frame: vlanTagged(syn300, 0x8100, 0x0001), want: 1, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_VLAN_TAG_PRESENT)), // ld #vlan_avail
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_vlan_tag_absent", oracle: oracleVeth, frame: syn300, want: 0, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_VLAN_TAG_PRESENT)), // ld #vlan_avail
		stmt(alu|add|k, 0), // add #0
		stmt(ret|a, 0),     // ret a
	}},
	{name: "anc_vlan_tag_present_tci_zero", oracle: oracleVeth, frame: vlanTagged(syn300, 0x88a8, 0), want: 1, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_VLAN_TAG_PRESENT)), // ld #vlan_avail: a TCI of 0 is still a tag
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_vlan_tpid", oracle: oracleVeth, frame: vlanTagged(syn300, 0x88a8, 7), want: 0x88a8, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_VLAN_TPID)), // ld #vlan_tpid
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_vlan_protocol_inner", oracle: oracleVeth, frame: vlanTagged(syn300, 0x8100, 7), want: 0x0800, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PROTOCOL)), // ld #proto: the encapsulated type
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_pay_offset_tcp", oracle: oracleVeth, frame: syn300, want: 54, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PAY_OFFSET)), // ld #poff
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_pay_offset_udp6", oracle: oracleVeth, frame: udp6(300), want: 62, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PAY_OFFSET)), // ld #poff
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_pay_offset_vlan", oracle: oracleVeth, frame: vlanTagged(syn300, 0x8100, 5), want: 54, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PAY_OFFSET)), // ld #poff: after the offloaded tag
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_pay_offset_datagram", oracle: oracleUnix, dgram: syn300[14:], want: 0, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PAY_OFFSET)), // ld #poff: protocol 0, nothing to dissect
		stmt(alu|add|k, 0),                          // add #0
		stmt(ret|a, 0),                              // ret a
	}},
	{name: "anc_random", dgram: syn300, want: 0x5eed1234, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_RANDOM)), // ld #rand: the injected source
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_found", oracle: oracleUnix, dgram: netlinkMsg(64), want: 28, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0),                         // ld #0: start
		stmt(ldx|imm, 2),                        // ldx #2: type
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld #nla
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_flags_ignored", oracle: oracleUnix, dgram: netlinkMsg(64), want: 8, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0),                         // ld #0
		stmt(ldx|imm, 10),                       // ldx #10: matches type 0x800a
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld #nla
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_not_found", oracle: oracleUnix, dgram: netlinkMsg(64), want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0),                         // ld #0
		stmt(ldx|imm, 11),                       // ldx #11: only inside the nest
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld #nla
		stmt(alu|add|k, 0),                      // add #0
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_start_too_late", oracle: oracleUnix, dgram: netlinkMsg(64), want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 61),                        // ld #61: past len - 4
		stmt(ldx|imm, 0),                        // ldx #0
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld #nla
		stmt(alu|add|k, 0),                      // add #0
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_nonlinear", dgram: netlinkMsg(64), want: 0, setup: func(p *packet.Packet) error { return p.SetLinearLen(40) }, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0),                         // ld #0
		stmt(ldx|imm, 2),                        // ldx #2
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR)), // ld #nla: non-linear packets find nothing
		stmt(ret|a, 0),                          // ret a
	}},
	{name: "anc_nlattr_nest_found", oracle: oracleUnix, dgram: netlinkMsg(64), want: 20, prog: []bpf.RawInstruction{
		stmt(ld|imm, 8),   // ld #8: the nest
		stmt(ldx|imm, 12), // ldx #12
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR_NEST)), // ld #nlan
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_nlattr_nest_first", oracle: oracleUnix, dgram: netlinkMsg(64), want: 12, prog: []bpf.RawInstruction{
		stmt(ld|imm, 8),   // ld #8
		stmt(ldx|imm, 11), // ldx #11
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR_NEST)), // ld #nlan
		stmt(ret|a, 0), // ret a
	}},
	{name: "anc_nlattr_nest_outside", oracle: oracleUnix, dgram: netlinkMsg(64), want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 8),  // ld #8
		stmt(ldx|imm, 2), // ldx #2: after the nest
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR_NEST)), // ld #nlan
		stmt(alu|add|k, 0),                           // add #0
		stmt(ret|a, 0),                               // ret a
	}},
	{name: "anc_nlattr_nest_too_long", oracle: oracleUnix, dgram: netlinkMsg(64)[:24], want: 0, prog: []bpf.RawInstruction{
		stmt(ld|imm, 8),   // ld #8: nla_len 20 > 24 - 8
		stmt(ldx|imm, 11), // ldx #11
		stmt(ld|w|abs, anc(uapi.SKF_AD_NLATTR_NEST)), // ld #nlan
		stmt(alu|add|k, 0),                           // add #0
		stmt(ret|a, 0),                               // ret a
	}},
}

func TestRun(t *testing.T) {
	for _, c := range allRunCases() {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, Check(c.prog))
			pkt := tablePacket(t, c)
			assert.Equal(t, c.want, runEngines(t, c.prog, pkt))
		})
	}
}

func TestRunWithRandom(t *testing.T) {
	prog := []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_RANDOM)), // ld #rand
		stmt(st, 0),                             // st M[0]
		stmt(ld|w|abs, anc(uapi.SKF_AD_RANDOM)), // ld #rand
		stmt(ldx|mem, 0),                        // ldx M[0]
		stmt(alu|sub|x, 0),                      // sub x
		stmt(ret|a, 0),                          // ret a
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			n := uint32(0)
			p, err := LoadRaw(prog, withEngine(e.e), WithRandom(func() uint32 { n += 10; return n }))
			require.NoError(t, err)
			pkt := packet.New(64)
			require.NoError(t, pkt.SetFrame(syn300))
			assert.Equal(t, uint32(10), p.Run(pkt))
			assert.Equal(t, uint32(20), n)

			p, err = LoadRaw(prog, withEngine(e.e)) // the default source
			require.NoError(t, err)
			seen := map[uint32]bool{}
			for range 8 {
				seen[p.Run(pkt)] = true
			}
			assert.Greater(t, len(seen), 1, "default source gives varying values")
		})
	}
	_, err := LoadRaw(prog, WithRandom(nil))
	require.Error(t, err)
}
