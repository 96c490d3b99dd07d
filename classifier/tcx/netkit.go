package tcx

import (
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// NetkitMode is a netkit pair's link-layer mode (IFLA_NETKIT_MODE).
type NetkitMode uint8

// The netkit modes.
const (
	// NetkitL3 (NETKIT_L3, the default) devices carry bare IP packets:
	// no Ethernet header, device type ARPHRD_NONE.
	NetkitL3 NetkitMode = 0
	// NetkitL2 (NETKIT_L2) devices carry Ethernet frames.
	NetkitL2 NetkitMode = 1
)

// NetkitOptions describe a netkit pair as ip link add ... type netkit
// creates it.
type NetkitOptions struct {
	// Mode is L3 (the default) or L2.
	Mode NetkitMode
	// PrimaryIfindex and PeerIfindex are the devices' ifindexes.
	PrimaryIfindex, PeerIfindex uint32
	// PrimaryPolicy and PeerPolicy are the verdicts of a device with no
	// program attached (IFLA_NETKIT_POLICY, IFLA_NETKIT_PEER_POLICY):
	// Pass (the default) or Drop.
	PrimaryPolicy, PeerPolicy Verdict
	// PrimaryAddr and PeerAddr are the L2 mode MAC addresses.
	PrimaryAddr, PeerAddr [6]byte
}

// NetkitDevice is one device of a netkit pair. Its Programs run when it
// transmits: the primary's (BPF_NETKIT_PRIMARY) on packets from the host
// side, the peer's (BPF_NETKIT_PEER) on packets the peer (the container
// side) sends. Both lists are managed from the primary in the kernel;
// here each device holds its own.
type NetkitDevice struct {
	// Programs is the device's attach list.
	Programs List
	// Up says the device is administratively up; a pair forwards only to
	// an up peer.
	Up bool

	ifindex uint32
	addr    [6]byte
	policy  Verdict
	mode    NetkitMode
	primary bool
	peer    *NetkitDevice
}

// NewNetkitPair creates a netkit pair, both devices up. Errors wrap
// EINVAL for a policy other than Pass or Drop or a mode other than L2 or
// L3 (netkit_check_policy, netkit_check_mode).
func NewNetkitPair(opts NetkitOptions) (primary, peer *NetkitDevice, err error) {
	for _, p := range []Verdict{opts.PrimaryPolicy, opts.PeerPolicy} {
		if p != Pass && p != Drop {
			return nil, nil, fmt.Errorf("tcx: netkit: policy %d: only pass or drop: %w", p, syscall.EINVAL)
		}
	}
	if opts.Mode != NetkitL2 && opts.Mode != NetkitL3 {
		return nil, nil, fmt.Errorf("tcx: netkit: mode %d: %w", opts.Mode, syscall.EINVAL)
	}
	primary = &NetkitDevice{Up: true, ifindex: opts.PrimaryIfindex, addr: opts.PrimaryAddr, policy: opts.PrimaryPolicy, mode: opts.Mode, primary: true}
	peer = &NetkitDevice{Up: true, ifindex: opts.PeerIfindex, addr: opts.PeerAddr, policy: opts.PeerPolicy, mode: opts.Mode}
	primary.peer, peer.peer = peer, primary
	return primary, peer, nil
}

// Ifindex is the device's ifindex.
func (d *NetkitDevice) Ifindex() uint32 { return d.ifindex }

// Peer is the other device of the pair.
func (d *NetkitDevice) Peer() *NetkitDevice { return d.peer }

// Primary says d is the pair's primary device.
func (d *NetkitDevice) Primary() bool { return d.primary }

// Mode is the pair's mode.
func (d *NetkitDevice) Mode() NetkitMode { return d.mode }

// NetkitResult is the outcome of a transmit.
type NetkitResult struct {
	// Verdict is the programs' verdict, or the policy when none is
	// attached: Next and Pass deliver, Redirect hands the packet to the
	// recorded redirect, anything else drops.
	Verdict Verdict
	// Delivered says the packet entered the peer: pkt now shows the
	// peer's ifindex, ingress direction and the packet type against the
	// peer's address.
	Delivered bool
	// Redirected says the verdict was Redirect.
	Redirected bool
}

// Transmit sends pkt out of d as netkit_xmit (drivers/net/netkit.c)
// does: a packet shorter than an Ethernet header, or a pair whose peer
// is down, is dropped; otherwise d's programs run in order, starting
// from the policy, until one returns something other than NETKIT_NEXT.
// Unlike tcx, values other than the four verdicts drop. Transmit takes
// no lock and does not allocate.
func (d *NetkitDevice) Transmit(pkt *packet.Packet) NetkitResult {
	peer := d.peer
	if peer == nil || !peer.Up || pkt.Len() < 14 {
		return NetkitResult{Verdict: Drop}
	}
	pkt.Direction = packet.Egress
	pkt.Ifindex = d.ifindex
	ret := int32(d.policy)
	for _, e := range d.Programs.snapshot() {
		ret = int32(e.prog.Run(pkt))
		if ret != int32(Next) {
			break
		}
	}
	switch Verdict(ret) {
	case Next, Pass:
		peer.receive(pkt)
		return NetkitResult{Verdict: Verdict(ret), Delivered: true}
	case Redirect:
		return NetkitResult{Verdict: Redirect, Redirected: true}
	case Drop:
		return NetkitResult{Verdict: Drop}
	}
	return NetkitResult{Verdict: Verdict(ret)}
}

// receive hands pkt to the peer: the device and direction change, and
// in L2 mode pkt_type is set against the peer's address
// (eth_skb_pkt_type) and the protocol re-read from the frame.
func (d *NetkitDevice) receive(pkt *packet.Packet) {
	pkt.Ifindex = d.ifindex
	pkt.IngressIfindex = d.ifindex
	pkt.Direction = packet.Ingress
	pkt.PktType = packet.Host
	if d.mode != NetkitL2 {
		return
	}
	frame := pkt.Data()
	if len(frame) < 14 {
		return
	}
	dst := [6]byte(frame[:6])
	if dst != d.addr {
		switch {
		case dst == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
			pkt.PktType = packet.Broadcast
		case dst[0]&1 != 0:
			pkt.PktType = packet.Multicast
		default:
			pkt.PktType = packet.OtherHost
		}
	}
}
