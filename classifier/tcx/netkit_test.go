package tcx_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
)

var (
	nkPrimaryMAC = [6]byte{2, 0, 0, 0, 0, 1}
	nkPeerMAC    = [6]byte{2, 0, 0, 0, 0, 2}
)

func l2Frame(dst [6]byte) *packet.Packet {
	f := make([]byte, 60)
	copy(f, dst[:])
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	pkt := packet.New(len(f))
	if err := pkt.SetFrame(f); err != nil {
		panic(err)
	}
	return pkt
}

func l3Packet(version byte, n int) *packet.Packet {
	b := make([]byte, n)
	b[0] = version << 4
	pkt := packet.New(n)
	if err := pkt.SetL3(b); err != nil {
		panic(err)
	}
	return pkt
}

// TestNetkit is the table of netkit_xmit's outcomes: the policy when no
// program is attached, the programs' verdict otherwise (NEXT and PASS
// deliver, anything but the four verdicts drops), the peer's state, and
// the packet the peer sees in L2 and L3 mode.
func TestNetkit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      tcx.NetkitMode
		policy    tcx.Verdict
		progs     []uint32 // return values, run in order
		peerDown  bool
		pkt       func() *packet.Packet
		verdict   tcx.Verdict
		delivered bool
		pktType   packet.Type
		protocol  uint16
	}{
		{"l2 default pass", tcx.NetkitL2, tcx.Pass, nil, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Pass, true, packet.Host, 0x0800},
		{"l2 policy drop", tcx.NetkitL2, tcx.Drop, nil, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Drop, false, 0, 0},
		{"l2 program pass over drop policy", tcx.NetkitL2, tcx.Drop, []uint32{0}, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Pass, true, packet.Host, 0x0800},
		{"l2 all next delivers", tcx.NetkitL2, tcx.Drop, []uint32{0xffffffff, 0xffffffff}, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Next, true, packet.Host, 0x0800},
		{"l2 program drop", tcx.NetkitL2, tcx.Pass, []uint32{0xffffffff, 2}, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Drop, false, 0, 0},
		{"l2 program redirect", tcx.NetkitL2, tcx.Pass, []uint32{7}, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Redirect, false, 0, 0},
		{"l2 other value drops", tcx.NetkitL2, tcx.Pass, []uint32{1}, false, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Verdict(1), false, 0, 0},
		{"l2 broadcast", tcx.NetkitL2, tcx.Pass, nil, false, func() *packet.Packet { return l2Frame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) }, tcx.Pass, true, packet.Broadcast, 0x0800},
		{"l2 multicast", tcx.NetkitL2, tcx.Pass, nil, false, func() *packet.Packet { return l2Frame([6]byte{1, 0, 0x5e, 0, 0, 1}) }, tcx.Pass, true, packet.Multicast, 0x0800},
		{"l2 other host", tcx.NetkitL2, tcx.Pass, nil, false, func() *packet.Packet { return l2Frame([6]byte{2, 9}) }, tcx.Pass, true, packet.OtherHost, 0x0800},
		{"peer down", tcx.NetkitL2, tcx.Pass, nil, true, func() *packet.Packet { return l2Frame(nkPeerMAC) }, tcx.Drop, false, 0, 0},
		{"l3 ipv4 pass", tcx.NetkitL3, tcx.Pass, nil, false, func() *packet.Packet { return l3Packet(4, 40) }, tcx.Pass, true, packet.Host, 0x0800},
		{"l3 ipv6 pass", tcx.NetkitL3, tcx.Pass, nil, false, func() *packet.Packet { return l3Packet(6, 60) }, tcx.Pass, true, packet.Host, 0x86dd},
		{"l3 shorter than an ethernet header", tcx.NetkitL3, tcx.Pass, nil, false, func() *packet.Packet { return l3Packet(4, 13) }, tcx.Drop, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			primary, peer, err := tcx.NewNetkitPair(tcx.NetkitOptions{
				Mode: tc.mode, PrimaryIfindex: 10, PeerIfindex: 11,
				PrimaryPolicy: tc.policy, PeerPolicy: tcx.Pass,
				PrimaryAddr: nkPrimaryMAC, PeerAddr: nkPeerMAC,
			})
			require.NoError(t, err)
			peer.Up = !tc.peerDown
			for i, r := range tc.progs {
				require.NoError(t, primary.Programs.Attach(&retProg{id: 600 + uint32(i), ret: r}, tcx.AttachOptions{}))
			}
			pkt := tc.pkt()
			res := primary.Transmit(pkt)
			assert.Equal(t, tc.verdict, res.Verdict)
			assert.Equal(t, tc.delivered, res.Delivered)
			assert.Equal(t, tc.verdict == tcx.Redirect, res.Redirected)
			if tc.delivered {
				assert.Equal(t, uint32(11), pkt.Ifindex)
				assert.Equal(t, packet.Ingress, pkt.Direction)
				assert.Equal(t, tc.pktType, pkt.PktType)
				assert.Equal(t, tc.protocol, pkt.Protocol)
				if tc.mode == tcx.NetkitL3 {
					assert.Zero(t, pkt.MACLen())
				}
			}
		})
	}
}

// TestNetkitPeerPrograms checks that the peer's programs run when the
// peer transmits, and its own policy applies.
func TestNetkitPeerPrograms(t *testing.T) {
	primary, peer, err := tcx.NewNetkitPair(tcx.NetkitOptions{Mode: tcx.NetkitL2, PrimaryIfindex: 1, PeerIfindex: 2, PeerPolicy: tcx.Drop, PrimaryAddr: nkPrimaryMAC})
	require.NoError(t, err)
	assert.True(t, primary.Primary())
	assert.False(t, peer.Primary())
	assert.Same(t, peer, primary.Peer())
	assert.Equal(t, tcx.Drop, peer.Transmit(l2Frame(nkPrimaryMAC)).Verdict)
	runs := 0
	require.NoError(t, peer.Programs.Attach(&retProg{id: 700, ret: 0, runs: &runs}, tcx.AttachOptions{}))
	pkt := l2Frame(nkPrimaryMAC)
	res := peer.Transmit(pkt)
	assert.True(t, res.Delivered)
	assert.Equal(t, 1, runs)
	assert.Equal(t, uint32(1), pkt.Ifindex)
	assert.Equal(t, packet.Host, pkt.PktType)
	assert.Equal(t, tcx.Pass, primary.Transmit(l2Frame(nkPeerMAC)).Verdict)
	assert.Equal(t, 1, runs)
}

// TestNetkitOptions checks the policies and modes netkit accepts.
func TestNetkitOptions(t *testing.T) {
	_, _, err := tcx.NewNetkitPair(tcx.NetkitOptions{PrimaryPolicy: tcx.Redirect})
	require.ErrorIs(t, err, syscall.EINVAL)
	_, _, err = tcx.NewNetkitPair(tcx.NetkitOptions{PeerPolicy: tcx.Next})
	require.ErrorIs(t, err, syscall.EINVAL)
	_, _, err = tcx.NewNetkitPair(tcx.NetkitOptions{Mode: 2})
	require.ErrorIs(t, err, syscall.EINVAL)
}
