package action

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// fakeClock is a Clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(1_000_000_000)
	return c
}

func (c *fakeClock) Now() int64            { return c.ns.Load() }
func (c *fakeClock) Advance(d int64) int64 { return c.ns.Add(d) }

// fakeFwd is a Forwarder with a fixed set of devices that records what it
// was asked to forward.
type fakeFwd struct {
	mu    sync.Mutex
	devs  map[uint32]DeviceState
	sent  []Forward
	fail  error
	onFwd func(pkt *packet.Packet, req Forward)
	ports map[uint32][]uint32
}

func newFakeFwd(devs map[uint32]DeviceState) *fakeFwd { return &fakeFwd{devs: devs} }

func (f *fakeFwd) Device(ifindex uint32) (DeviceState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.devs[ifindex]
	return st, ok
}

func (f *fakeFwd) Forward(pkt *packet.Packet, req Forward) error {
	f.mu.Lock()
	f.sent = append(f.sent, req)
	fn, err := f.onFwd, f.fail
	f.mu.Unlock()
	if fn != nil {
		fn(pkt, req)
	}
	return err
}

func (f *fakeFwd) BlockPorts(block uint32) []uint32 { return f.ports[block] }

// scripted is an action returning verdicts from a script, one per run
// (the last repeating), and counting its runs.
type scripted struct {
	Common
	script []Verdict
	runs   int
}

func newScripted(t *Table, index uint32, verdict Verdict, script ...Verdict) *scripted {
	s := &scripted{script: script}
	s.init("script", index, 0, t.cfg.Clock)
	s.setCtrl(verdict)
	return s
}

func (s *scripted) Act(pkt *packet.Packet, res *Result) Verdict {
	v := s.script[min(s.runs, len(s.script)-1)]
	s.runs++
	return v
}

// udpFrame builds an Ethernet/IPv4/UDP frame with correct checksums.
func udpFrame(t testing.TB, payload int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, TOS: 0xb8, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, ip, udp, gopacket.Payload(make([]byte, payload))))
	return buf.Bytes()
}

// egressPacket returns a packet holding frame at an egress hook.
func egressPacket(t testing.TB, frame []byte) *packet.Packet {
	t.Helper()
	p := packet.New(len(frame))
	require.NoError(t, p.SetFrame(frame))
	p.Direction = packet.Egress
	return p
}

var (
	errEPERM      = syscall.EPERM
	errENOENT     = syscall.ENOENT
	errEINVAL     = syscall.EINVAL
	errEEXIST     = syscall.EEXIST
	errEOPNOTSUPP = syscall.EOPNOTSUPP
)
