package tctest_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tctest"
	"github.com/clsbpf/clsbpf/handle"
)

// fakeTB records what the helpers report instead of failing the test.
type fakeTB struct {
	testing.TB
	msgs    []string
	failed  bool
	fatal   bool
	helpers int
}

func (f *fakeTB) Helper() { f.helpers++ }

func (f *fakeTB) Error(args ...any) {
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprint(args...))
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.failed = true
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatal(args ...any) {
	f.Error(args...)
	f.fatal = true
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.fatal = true
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool { return f.failed }

// check runs fn against a fake TB on its own goroutine, so that Fatalf can
// end it, and returns the fake.
func check(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func ipv4UDP(dport layers.UDPPort) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.UDP{SrcPort: 1000, DstPort: dport},
		gopacket.Payload("abcdefghijklmnop"),
	}
}

func TestSerializeChecksums(t *testing.T) {
	frame := tctest.Serialize(t, ipv4UDP(53)...)
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	udp := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	require.NotNil(t, ip)
	require.NotNil(t, udp)
	assert.Equal(t, uint16(20+8+16), ip.Length)
	assert.Equal(t, uint16(8+16), udp.Length)
	// A correct one's-complement checksum sums to 0xffff over its header
	// (IPv4) or its pseudo-header and segment (UDP).
	assert.Equal(t, uint16(0xffff), sum(frame[14:34]))
	pseudo := append([]byte{10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, byte(8 + 16)}, frame[34:34+8+16]...)
	assert.Equal(t, uint16(0xffff), sum(pseudo))
}

func sum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestFrame(t *testing.T) {
	frame := tctest.Serialize(t, ipv4UDP(53)...)
	pkt := tctest.Frame(t, frame)
	assert.Equal(t, frame, pkt.Bytes())
	assert.Equal(t, uint16(0x0800), pkt.Protocol)
	assert.Equal(t, packet.Egress, pkt.Direction)
	assert.Equal(t, packet.OtherHost, pkt.PktType)
	assert.Equal(t, uint32(1), pkt.Ifindex)

	f := check(t, func(tb testing.TB) { tctest.Frame(tb, nil) })
	require.True(t, f.fatal)
	assert.Contains(t, f.msgs[0], "tctest: frame:")
}

func TestBytecode(t *testing.T) {
	// ldh [12]; jeq #0x800, L2, L3; L2: ret #-1; L3: ret #0
	prog := tctest.Bytecode(t, "4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0")
	pkt := tctest.Packet(t, ipv4UDP(53)...)
	assert.Equal(t, uint32(0xffffffff), tctest.Run(t, prog, pkt))

	tests := []struct {
		name, code, msg string
	}{
		{name: "syntax", code: "2,6 0 0", msg: "tctest: bytecode:"},
		{name: "checker", code: "1,4 0 0 0", msg: "tctest: bytecode:"}, // add #0 with no RET
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := check(t, func(tb testing.TB) { tctest.Bytecode(tb, tt.code) })
			require.True(t, f.fatal)
			assert.Contains(t, f.msgs[0], tt.msg)
		})
	}
}

func TestEqualVerdict(t *testing.T) {
	f := check(t, func(tb testing.TB) { tctest.EqualVerdict(tb, uint32(2), action.Shot) })
	assert.False(t, f.failed)
	assert.Positive(t, f.helpers)

	f = check(t, func(tb testing.TB) { tctest.EqualVerdict(tb, uint32(2), action.OK) })
	require.True(t, f.failed)
	assert.False(t, f.fatal)
	assert.Equal(t, []string{"verdict: got 2 (TC_ACT_SHOT), want 0 (TC_ACT_OK)"}, f.msgs)

	f = check(t, func(tb testing.TB) { tctest.EqualVerdict(tb, action.Unspec, action.Redirect) })
	assert.Equal(t, []string{"verdict: got -1 (TC_ACT_UNSPEC), want 7 (TC_ACT_REDIRECT)"}, f.msgs)

	f = check(t, func(tb testing.TB) { tctest.EqualVerdict(tb, uint32(0xffffffff), action.Unspec) })
	assert.False(t, f.failed)

	goto3, err := action.GotoChain(3)
	require.NoError(t, err)
	f = check(t, func(tb testing.TB) { tctest.EqualVerdict(tb, goto3, action.Verdict(99)) })
	assert.Equal(t, []string{"verdict: got 536870915 (goto chain 3), want 99"}, f.msgs)
}

func TestEqualClassID(t *testing.T) {
	f := check(t, func(tb testing.TB) { tctest.EqualClassID(tb, uint32(0x10010), handle.Make(1, 0x10)) })
	assert.False(t, f.failed)

	f = check(t, func(tb testing.TB) { tctest.EqualClassID(tb, handle.Make(1, 0x20), handle.Make(1, 0x10)) })
	assert.Equal(t, []string{"classid: got 1:20 (0x10020), want 1:10 (0x10010)"}, f.msgs)
}

func TestEqualFrame(t *testing.T) {
	want := tctest.Serialize(t, ipv4UDP(53)...)
	pkt := tctest.Frame(t, want)

	f := check(t, func(tb testing.TB) { tctest.EqualFrame(tb, pkt, want) })
	assert.False(t, f.failed)

	// Destination port 53 -> 54 without fixing the checksum: two bytes
	// differ (the port's low byte at 37 and nothing else), then the
	// checksum is also changed at 40.
	got := append([]byte(nil), want...)
	got[37] = 54
	got[40] ^= 0xff
	pkt = tctest.Frame(t, got)
	f = check(t, func(tb testing.TB) { tctest.EqualFrame(tb, pkt, want) })
	require.True(t, f.failed)
	require.Len(t, f.msgs, 1)
	msg := f.msgs[0]
	lines := strings.Split(msg, "\n")
	assert.Equal(t, "frame: 2 of 60 bytes differ, the first at offset 37 (0x25)", lines[0])
	assert.Equal(t, "got (60 bytes):", lines[1])
	assert.Equal(t, "  0000  02 00 00 00 00 02 02 00  00 00 00 01 08 00 45 00", lines[2])
	// Row 0x20 holds both differences: bytes 37 (0x25) and 40 (0x28).
	assert.Equal(t, fmt.Sprintf("  0020  00 02 03 e8 00 36 00 18  %02x %02x 61 62 63 64 65 66", got[40], got[41]), lines[4])
	assert.Equal(t, "                       ^^        ^^", lines[5])
	assert.Contains(t, msg, "want (60 bytes):\n")
	assert.Contains(t, msg, "got, decoded:\n  Ethernet\t")
	assert.Contains(t, msg, "DstPort=54")
	assert.Contains(t, msg, "want, decoded:\n")
	assert.Contains(t, msg, "DstPort=53(domain)")
}

func TestHexDiff(t *testing.T) {
	tests := []struct {
		name string
		a, b []byte
		want string
	}{
		{name: "equal", a: []byte{1, 2}, b: []byte{1, 2}, want: "  0000  01 02\n"},
		{name: "one byte", a: []byte{1, 2, 3}, b: []byte{1, 9, 3}, want: "  0000  01 02 03\n           ^^\n"},
		{name: "b shorter", a: []byte{1, 2}, b: []byte{1}, want: "  0000  01 02\n           ^^\n"},
		{name: "second row", a: make([]byte, 17), b: append(make([]byte, 16), 1), want: "  0000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00\n  0010  00\n        ^^\n"},
		{name: "empty", a: nil, b: []byte{1}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tctest.HexDiff(tt.a, tt.b))
		})
	}
}

func TestEqualContext(t *testing.T) {
	pkt := tctest.Packet(t, ipv4UDP(53)...)
	want := tctest.ContextOf(pkt)
	f := check(t, func(tb testing.TB) { tctest.EqualContext(tb, pkt, want) })
	assert.False(t, f.failed)

	pkt.Mark = 0x53
	pkt.CB[2] = 7
	pkt.VLANPresent = true
	pkt.TCIndex = 1
	f = check(t, func(tb testing.TB) { tctest.EqualContext(tb, pkt, want) })
	require.True(t, f.failed)
	assert.Equal(t, []string{"context (struct __sk_buff) differs:\n" +
		"mark: got 0x53, want 0x0\n" +
		"vlan_present: got true, want false\n" +
		"tc_index: got 0x1, want 0x0\n" +
		"cb[2]: got 0x7, want 0x0"}, f.msgs)
}

func TestRunClassicThroughChain(t *testing.T) {
	prog, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 36, Size: 2},                     // ldh [36]: the UDP destination port
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipFalse: 1}, // jeq #53, L2, L3
		bpf.RetConstant{Val: 0x10020},                          // L2: ret #0x10020: class 1:20
		bpf.RetConstant{Val: 0},                                // L3: ret #0: no match
	})
	require.NoError(t, err)
	tests := []struct {
		name    string
		dport   layers.UDPPort
		verdict action.Verdict
		classid handle.Handle
	}{
		{name: "dns", dport: 53, verdict: action.OK, classid: handle.Make(1, 0x20)},
		{name: "ntp", dport: 123, verdict: action.Unspec, classid: 0},
	}
	chain := tctest.Chain(t, classifier.FilterSpec{Program: prog})
	block := tctest.Block(t, classifier.FilterSpec{Program: prog})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := chain.Classify(tctest.Packet(t, ipv4UDP(tt.dport)...))
			tctest.EqualVerdict(t, res.Verdict, tt.verdict)
			tctest.EqualClassID(t, res.ClassID, tt.classid)
			res = block.Classify(tctest.Packet(t, ipv4UDP(tt.dport)...))
			tctest.EqualVerdict(t, res.Verdict, tt.verdict)
			tctest.EqualClassID(t, res.ClassID, tt.classid)
		})
	}

	f := check(t, func(tb testing.TB) {
		tctest.Chain(tb, classifier.FilterSpec{Program: prog, Flags: classifier.SkipHW | classifier.SkipSW})
	})
	require.True(t, f.fatal)
	assert.Contains(t, f.msgs[0], "tctest: filter 0:")
	f = check(t, func(tb testing.TB) { tctest.Block(tb, classifier.FilterSpec{}) })
	require.True(t, f.fatal)
	assert.Contains(t, f.msgs[0], "tctest: filter 0:")
}

func TestLoadObjectAndMaps(t *testing.T) {
	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(t, coll, "firewall")
	counters := tctest.MapOf(t, coll, "counters")

	pkt := tctest.Packet(t, ipv4UDP(53)...)
	tctest.EqualVerdict(t, tctest.Run(t, prog, pkt), action.OK)
	assert.Equal(t, uint32(0x53), pkt.Mark)

	f := check(t, func(tb testing.TB) { tctest.EqualMapValue(tb, counters, uint32(2), uint64(1)) })
	assert.False(t, f.failed, f.msgs)
	f = check(t, func(tb testing.TB) { tctest.EqualMapValue(tb, counters, uint32(2), uint64(5)) })
	require.True(t, f.failed)
	assert.Regexp(t, `^map .*: key 2: got 1, want 5$`, f.msgs[0])

	f = check(t, func(tb testing.TB) {
		tctest.EqualMapValue(tb, counters, uint32(2), []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	assert.False(t, f.failed, f.msgs)
	f = check(t, func(tb testing.TB) {
		tctest.EqualMapValue(tb, counters, uint32(2), []byte{2, 0, 0, 0, 0, 0, 0, 0})
	})
	require.True(t, f.failed)
	assert.Contains(t, f.msgs[0], "got:\n  0000  01 00 00 00 00 00 00 00\n        ^^\nwant:\n  0000  02 00")

	f = check(t, func(tb testing.TB) { tctest.EqualMapValue(tb, counters, uint32(9), uint64(0)) })
	require.True(t, f.failed)
	assert.Contains(t, f.msgs[0], "key 9:")

	f = check(t, func(tb testing.TB) { tctest.ProgramOf(tb, coll, "nope") })
	require.True(t, f.fatal)
	assert.Equal(t, `tctest: no program "nope" in the object (it has ["firewall"])`, f.msgs[0])
	f = check(t, func(tb testing.TB) { tctest.MapOf(tb, coll, "nope") })
	require.True(t, f.fatal)
	assert.Equal(t, `tctest: no map "nope" in the object`, f.msgs[0])
	f = check(t, func(tb testing.TB) { tctest.LoadObject(tb, "testdata/missing.o") })
	require.True(t, f.fatal)
	assert.Contains(t, f.msgs[0], "tctest: load testdata/missing.o:")
}

func TestEqualMapValuePerCPU(t *testing.T) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "percpu", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}, ebpf.WithSlots(2))
	require.NoError(t, err)
	require.NoError(t, m.Update(uint32(0), []uint64{3, 4}, ebpf.UpdateAny))

	f := check(t, func(tb testing.TB) { tctest.EqualMapValue(tb, m, uint32(0), []uint64{3, 4}) })
	assert.False(t, f.failed, f.msgs)
	f = check(t, func(tb testing.TB) { tctest.EqualMapValue(tb, m, uint32(0), []uint64{3, 5}) })
	require.True(t, f.failed)
	assert.Regexp(t, `^map .*: key 0: got \[3 4\], want \[3 5\]$`, f.msgs[0])
}

// TestFrameMatchesTestRun holds Frame and Run to the library's
// BPF_PROG_TEST_RUN (ebpf.Program.TestRun) on context-free runs: the same
// return value, output frame and context, for the program that copies the
// context into its outputs and for the firewall that rewrites frames.
func TestFrameMatchesTestRun(t *testing.T) {
	contextProg := tctest.ProgramOf(t, tctest.LoadObject(t, "testdata/context.o"), "context")
	firewall := tctest.ProgramOf(t, tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o"), "firewall")
	tcp8080 := []gopacket.SerializableLayer{ipv4UDP(0)[0], &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.TCP{SrcPort: 1, DstPort: 8080, SYN: true}}
	frames := []struct {
		name  string
		frame []byte
	}{
		{name: "dns", frame: tctest.Serialize(t, ipv4UDP(53)...)},
		{name: "tcp 8080", frame: tctest.Serialize(t, tcp8080...)},
		{name: "broadcast", frame: append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06}, make([]byte, 28)...)},
		{name: "to zero address", frame: append(make([]byte, 12), 0x88, 0xb5, 1, 2, 3)},
	}
	for _, prog := range []*ebpf.Program{contextProg, firewall} {
		for _, tt := range frames {
			t.Run(prog.Name()+"/"+tt.name, func(t *testing.T) {
				var ctxOut ebpf.SkbContext
				opts := ebpf.RunOptions{Data: tt.frame, DataOut: make([]byte, len(tt.frame)+64), Context: &ebpf.SkbContext{}, ContextOut: &ctxOut}
				want := tctest.TestRun(t, prog, &opts)

				pkt := tctest.Frame(t, tt.frame)
				got := tctest.Run(t, prog, pkt)
				assert.Equal(t, want, got, "return value")
				tctest.EqualFrame(t, pkt, opts.DataOut)
				assert.Equal(t, ctxOut.CB, pkt.CB, "cb")
				assert.Equal(t, ctxOut.Mark, pkt.Mark, "mark")
				assert.Equal(t, ctxOut.Priority, pkt.Priority, "priority")
				assert.Equal(t, ctxOut.Ifindex, pkt.Ifindex, "ifindex")
			})
		}
	}

	f := check(t, func(tb testing.TB) { tctest.TestRun(tb, firewall, &ebpf.RunOptions{Data: []byte{1}}) })
	require.True(t, f.fatal)
	assert.Contains(t, f.msgs[0], "tctest: test run:")
}
