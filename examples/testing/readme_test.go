package testingexample

import (
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/tctest"
)

// TestTelnetDropped is the README's testing example; TestREADME checks the
// README shows this very code.
func TestTelnetDropped(t *testing.T) {
	coll := tctest.LoadObject(t, "testdata/firewall.o") // clang -target bpf
	prog := tctest.ProgramOf(t, coll, "firewall")
	pkt := tctest.Packet(t, // lengths and checksums computed
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)},
		&layers.TCP{SrcPort: 40000, DstPort: 23, SYN: true},
	)
	pkt.Mark = 7 // the context the program sees: mark, priority, cb, ifindex, ...
	tctest.EqualVerdict(t, tctest.Run(t, prog, pkt), action.Shot)
	tctest.EqualMapValue(t, tctest.MapOf(t, coll, "counters"), uint32(1), uint64(1))
}

// TestREADME keeps README.md's testing section honest: its Go example is
// TestTelnetDropped, and it stays under 15 lines.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("readme_test.go")
	require.NoError(t, err)

	fn := regexp.MustCompile(`(?s)\nfunc TestTelnetDropped\(t \*testing\.T\) \{\n.*?\n\}\n`).Find(src)
	require.NotNil(t, fn)
	code := strings.Trim(string(fn), "\n")
	assert.Contains(t, string(readme), "```go\n"+code+"\n```", "README's testing example must be TestTelnetDropped")
	assert.Less(t, strings.Count(code, "\n")+1, 15)
	assert.Contains(t, string(readme), "\ngo test ./examples/testing\n")
}
