package tctest_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tctest"
)

func firewallPacket(t *testing.T, l4 gopacket.SerializableLayer, proto layers.IPProtocol) *packet.Packet {
	t.Helper()
	return tctest.Packet(t,
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		l4,
	)
}

// TestCover checks which lines of examples/testing/testdata/firewall.c a
// packet set covers, against what the C source says each packet runs.
func TestCover(t *testing.T) {
	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(t, coll, "firewall")
	telnet := func() *packet.Packet {
		return firewallPacket(t, &layers.TCP{SrcPort: 40000, DstPort: 23, SYN: true, Window: 1024}, layers.IPProtocolTCP)
	}
	dns := func() *packet.Packet {
		return firewallPacket(t, &layers.UDP{SrcPort: 40000, DstPort: 53}, layers.IPProtocolUDP)
	}
	web := func() *packet.Packet {
		return firewallPacket(t, &layers.TCP{SrcPort: 40000, DstPort: 8080, SYN: true, Window: 1024}, layers.IPProtocolTCP)
	}
	covered := func(pkts ...*packet.Packet) map[int]bool {
		c := tctest.Cover(t, prog, pkts...)
		lines := map[int]bool{}
		for _, l := range c.Lines() {
			if strings.HasSuffix(l.Source.File, "firewall.c") {
				lines[l.Source.Line] = l.Covered > 0
			}
		}
		require.NotEmpty(t, lines, "the object carries line information")
		return lines
	}

	// Line numbers of firewall.c: 55 tests the telnet port, 58-59 rewrite
	// port 8080, 65-68 handle UDP and mark DNS. (Line 56, the drop's
	// return, compiles into the inlined count() and has no instruction of
	// its own.)
	got := covered(telnet())
	assert.True(t, got[55], "telnet reaches the port test")
	for _, l := range []int{58, 59, 65, 67, 68} {
		assert.False(t, got[l], "telnet never reaches line %d", l)
	}

	got = covered(telnet(), dns())
	for _, l := range []int{55, 65, 67, 68} {
		assert.True(t, got[l], "telnet and DNS reach line %d", l)
	}
	assert.False(t, got[58])
	assert.False(t, got[59])

	got = covered(telnet(), dns(), web())
	assert.True(t, got[58], "port 8080 reaches the rewrite")
	assert.True(t, got[59])
}

// TestCoverWritesReports checks the reports Cover writes under
// CLSBPF_COVER_DIR.
func TestCoverWritesReports(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(tctest.CoverDirEnv, dir)
	coll := tctest.LoadObject(t, "../../examples/testing/testdata/firewall.o")
	prog := tctest.ProgramOf(t, coll, "firewall")
	tctest.Cover(t, prog, firewallPacket(t, &layers.UDP{SrcPort: 1, DstPort: 53}, layers.IPProtocolUDP))

	text, err := os.ReadFile(filepath.Join(dir, "TestCoverWritesReports.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(text), "firewall.c")
	page, err := os.ReadFile(filepath.Join(dir, "TestCoverWritesReports.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "<html")
}
