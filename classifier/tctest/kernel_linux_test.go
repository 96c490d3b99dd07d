package tctest_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	cebpf "github.com/cilium/ebpf"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/tctest"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// Offsets in struct __sk_buff (include/uapi/linux/bpf.h).
const (
	skbMark     = 8
	skbPriority = 32
	skbIfindex  = 40
	skbCB       = 48
	skbSize     = 192
)

// TestFrameKernel holds the packets Frame and Packet build to the ones
// BPF_PROG_TEST_RUN builds: testdata/context.o copies pkt_type, protocol,
// len, the VLAN fields, ingress_ifindex, queue_mapping, tc_index, hash and
// the linear length into what the run returns, and both runs must return
// the same.
func TestFrameKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	spec, err := cebpf.LoadCollectionSpec("testdata/context.o")
	require.NoError(t, err)
	kcoll, err := cebpf.NewCollection(spec)
	require.NoError(t, err)
	t.Cleanup(func() { kcoll.Close() })
	kprog := kcoll.Programs["context"]
	require.NotNil(t, kprog)

	lprog := tctest.ProgramOf(t, tctest.LoadObject(t, "testdata/context.o"), "context")

	eth := func(dst []byte, typ layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: dst, EthernetType: typ}
	}
	other := []byte{2, 0, 0, 0, 0, 2}
	tests := []struct {
		name  string
		frame []byte
	}{
		{name: "udp to another host", frame: tctest.Serialize(t, eth(other, layers.EthernetTypeIPv4), ipv4UDP(53)[1], ipv4UDP(53)[2], ipv4UDP(53)[3])},
		{name: "to the loopback address", frame: tctest.Serialize(t, eth(make([]byte, 6), layers.EthernetTypeIPv4), ipv4UDP(53)[1], ipv4UDP(53)[2])},
		{name: "broadcast arp", frame: tctest.Serialize(t, eth(layers.EthernetBroadcast, layers.EthernetTypeARP), &layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2},
		})},
		{name: "ipv6 multicast", frame: tctest.Serialize(t, eth([]byte{0x33, 0x33, 0, 0, 0, 1}, layers.EthernetTypeIPv6),
			&layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolNoNextHeader, SrcIP: make([]byte, 16), DstIP: append([]byte{0xff, 2}, append(make([]byte, 13), 1)...)})},
		{name: "vlan tag in the frame", frame: tctest.Serialize(t, eth(other, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{Priority: 5, VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, ipv4UDP(53)[1], ipv4UDP(53)[2])},
		{name: "bare ethernet header", frame: []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ctxIn, ctxOut [skbSize]byte
			opts := cebpf.RunOptions{Data: tt.frame, DataOut: make([]byte, len(tt.frame)+256), Context: ctxIn[:], ContextOut: ctxOut[:]}
			kret, err := kprog.Run(&opts)
			require.NoError(t, err)

			pkt := tctest.Frame(t, tt.frame)
			lret := tctest.Run(t, lprog, pkt)

			assert.Equal(t, kret, lret, "linear length")
			assert.Equal(t, hex.EncodeToString(opts.DataOut), hex.EncodeToString(pkt.Bytes()), "frame out")
			for i := range 5 {
				assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbCB+4*i:]), pkt.CB[i], "cb[%d]", i)
			}
			assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbMark:]), pkt.Mark, "mark (queue_mapping, tc_index)")
			assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbPriority:]), pkt.Priority, "priority (hash)")
			assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbIfindex:]), pkt.Ifindex, "ifindex")
		})
	}
}
