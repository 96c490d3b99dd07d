package testingexample

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	cebpf "github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/tctest"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestFirewallKernel runs firewall.o in the kernel (BPF_PROG_TEST_RUN) and
// through tctest on the same packets and requires the same verdict, output
// frame, mark and counters: what TestFirewall expects is what the kernel
// does.
func TestFirewallKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	spec, err := cebpf.LoadCollectionSpec("testdata/firewall.o")
	require.NoError(t, err)
	kcoll, err := cebpf.NewCollection(spec)
	require.NoError(t, err)
	t.Cleanup(func() { kcoll.Close() })

	lcoll := tctest.LoadObject(t, "testdata/firewall.o")
	lprog := tctest.ProgramOf(t, lcoll, "firewall")

	tests := []struct {
		name string
		in   []gopacket.SerializableLayer
	}{
		{name: "telnet", in: tcp(23)},
		{name: "http", in: tcp(80)},
		{name: "8080", in: tcp(8080)},
		{name: "dns", in: udp(53)},
		{name: "ntp", in: udp(123)},
		{name: "dns again", in: udp(53)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := tctest.Serialize(t, tt.in...)
			var ctxIn, ctxOut [192]byte // struct __sk_buff
			opts := cebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256), Context: ctxIn[:], ContextOut: ctxOut[:]}
			kret, err := kcoll.Programs["firewall"].Run(&opts)
			require.NoError(t, err)

			pkt := tctest.Frame(t, frame)
			tctest.EqualVerdict(t, tctest.Run(t, lprog, pkt), action.Verdict(int32(kret)))
			tctest.EqualFrame(t, pkt, opts.DataOut)
			assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[8:]), pkt.Mark, "mark")
		})
	}
	for i := range uint32(4) {
		var want uint64
		require.NoError(t, kcoll.Maps["counters"].Lookup(i, &want))
		tctest.EqualMapValue(t, tctest.MapOf(t, lcoll, "counters"), i, want)
	}
	var raw []byte
	require.NoError(t, kcoll.Maps["counters"].Lookup(uint32(3), &raw))
	assert.Equal(t, "0100000000000000", hex.EncodeToString(raw), "one rewrite")
}
