package action

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindMirred = "mirred"

// Consumed is the kernel-internal TC_ACT_CONSUMED (9): mirred handed the
// original packet itself to the target (a redirect at ingress whose
// verdict drops or steals the packet), so the caller must stop using it.
// It is never configured, only returned.
const Consumed Verdict = uapi.TC_ACT_CONSUMED

// MirredAction is mirred's eaction: direction and redirect or mirror.
type MirredAction int32

// mirred eactions (tc_mirred.h).
const (
	EgressRedirect  MirredAction = uapi.TCA_EGRESS_REDIR
	EgressMirror    MirredAction = uapi.TCA_EGRESS_MIRROR
	IngressRedirect MirredAction = uapi.TCA_INGRESS_REDIR
	IngressMirror   MirredAction = uapi.TCA_INGRESS_MIRROR
)

// String returns tc's wording ("Egress Redirect", ...).
func (m MirredAction) String() string {
	switch m {
	case EgressRedirect:
		return "Egress Redirect"
	case IngressRedirect:
		return "Ingress Redirect"
	case EgressMirror:
		return "Egress Mirror"
	case IngressMirror:
		return "Ingress Mirror"
	}
	return "unknown"
}

func (m MirredAction) redirect() bool { return m == EgressRedirect || m == IngressRedirect }
func (m MirredAction) ingress() bool  { return m == IngressRedirect || m == IngressMirror }

// DeviceState is what mirred needs to know of a target device.
type DeviceState struct {
	// Up is IFF_UP with carrier: packets can be sent.
	Up bool
	// MACHeaderXmit is dev_is_mac_header_xmit: the device transmits frames
	// that start with a link-layer header (Ethernet-like devices); false
	// for L3 devices such as TUN or WireGuard.
	MACHeaderXmit bool
	// Name is the device name tc prints.
	Name string
	// TxQueues is real_num_tx_queues, which bounds skbedit's
	// queue_mapping; 0 counts as 1.
	TxQueues uint32
}

// Forward describes one packet mirred hands to a Forwarder.
type Forward struct {
	// Ifindex is the target device.
	Ifindex uint32
	// Ingress delivers into the device's receive path (netif_receive_skb
	// or netif_rx) instead of its transmit path (dev_queue_xmit).
	Ingress bool
	// Redirect is set for a redirect, clear for a mirror.
	Redirect bool
	// Reinsert says the packet handed over is the original, not a copy:
	// mirred returns Consumed and the caller stops using it. Otherwise the
	// Forwarder must copy whatever it keeps beyond the call.
	Reinsert bool
	// AtNetwork says the target expects the packet to start at its network
	// header: the Forwarder drops the first pkt.MACLen() bytes (skb_pull);
	// otherwise the target takes the frame from its MAC header.
	AtNetwork bool
}

// Forwarder is how mirred reaches the devices of the program embedding
// the Table. The delivered packet (or its copy) gets the target as
// Ifindex and the current device as IngressIfindex, as the kernel sets
// skb->dev and skb_iif. Both methods run on the packet path: they must be
// safe for concurrent use and should not allocate.
type Forwarder interface {
	// Device reports on a device; ok is false when it does not exist.
	Device(ifindex uint32) (st DeviceState, ok bool)
	// Forward delivers pkt as req says. An error counts an overlimit.
	Forward(pkt *packet.Packet, req Forward) error
}

// BlockForwarder is a Forwarder that also knows shared blocks, for mirred
// to a block (TCA_MIRRED_BLOCKID): BlockPorts returns the devices of the
// block, nil when the block does not exist.
type BlockForwarder interface {
	Forwarder
	BlockPorts(block uint32) []uint32
}

// Mirred is the spec of a mirror/redirect action (kind "mirred",
// act_mirred.c). tc's default verdict is Stolen for a redirect and Pipe
// for a mirror; set Verdict accordingly.
type Mirred struct {
	Params
	// Action is the direction and mode.
	Action MirredAction
	// Ifindex is the target device; 0 with Block 0 is refused at creation.
	Ifindex uint32
	// Block sends to every port of a shared block instead of one device
	// (TCA_MIRRED_BLOCKID); it excludes Ifindex.
	Block uint32
}

// Kind returns "mirred".
func (*Mirred) Kind() string { return kindMirred }

func (m *Mirred) options(e *encoder) {
	b := putGen(nil, m.gen())
	b = binary.LittleEndian.AppendUint32(b, uint32(m.Action))
	b = binary.LittleEndian.AppendUint32(b, m.Ifindex)
	e.bytes(uapi.TCA_MIRRED_PARMS, b)
	if m.Block != 0 {
		e.u32(uapi.TCA_MIRRED_BLOCKID, m.Block)
	}
}

type mirredParams struct {
	eaction MirredAction
	ifindex uint32 // 0: no device (gone, or a block)
	macXmit bool
	block   uint32
}

type mirredAction struct {
	Common
	p   atomic.Pointer[mirredParams]
	t   *Table
	fwd Forwarder
}

var mirredPolicy = []pol{
	uapi.TCA_MIRRED_PARMS:   polLen(uapi.SizeofTcMirred),
	uapi.TCA_MIRRED_BLOCKID: {Policy: nlattr.Policy{Type: nlattr.U32}, hasMin: true, min: 1},
}

func init() { kinds[kindMirred] = &kindOps{id: uapi.TCA_ID_MIRRED, offload: true, init: mirredInit} }

func mirredErr(no syscall.Errno, msg string) *Error { return errno(no, "act_mirred: "+msg) }

// mirredInit is tcf_mirred_init.
func mirredInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, mirredErr(syscall.EINVAL, "Mirred requires attributes to be passed")
	}
	tb, err := parse(opts, uapi.TCA_MIRRED_MAX, mirredPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_MIRRED_PARMS) {
		return nil, mirredErr(syscall.EINVAL, "Missing required mirred parameters")
	}
	d := tb.data(uapi.TCA_MIRRED_PARMS)
	parm := getGen(d)
	eaction := MirredAction(binary.LittleEndian.Uint32(d[20:]))
	ifindex := binary.LittleEndian.Uint32(d[24:])
	index := parm.index
	a, exists, err := x.checkAlloc(kindMirred, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists && f.bind {
		return a, nil
	}
	hasBlock := tb.has(uapi.TCA_MIRRED_BLOCKID)
	if hasBlock && ifindex != 0 {
		return nil, mirredErr(syscall.EINVAL, "Cannot specify Block ID and dev simultaneously")
	}
	switch eaction {
	case EgressMirror, EgressRedirect, IngressRedirect, IngressMirror:
	default:
		return nil, mirredErr(syscall.EINVAL, "Unknown mirred option")
	}
	if !exists {
		if ifindex == 0 && !hasBlock {
			return nil, mirredErr(syscall.EINVAL, "Must specify device or block")
		}
	} else if !f.replace {
		return nil, errno(syscall.EEXIST, "")
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	var old mirredParams
	if exists {
		old = *a.(*mirredAction).p.Load()
	}
	p := old
	p.eaction = eaction
	fwd := f.t.cfg.Forwarder
	if ifindex != 0 {
		var st DeviceState
		ok := false
		if fwd != nil {
			st, ok = fwd.Device(ifindex)
		}
		if !ok {
			return nil, errno(syscall.ENODEV, "")
		}
		p.ifindex, p.macXmit, p.block = ifindex, st.MACHeaderXmit, 0
	} else if hasBlock {
		p.ifindex, p.macXmit, p.block = 0, false, tb.u32(uapi.TCA_MIRRED_BLOCKID)
	}
	if exists {
		m := a.(*mirredAction)
		x.commits = append(x.commits, func() {
			m.setCtrl(parm.action)
			m.p.Store(&p)
		})
		return m, nil
	}
	m := &mirredAction{t: f.t, fwd: fwd}
	f.newCommon(&m.Common, kindMirred, index)
	m.setCtrl(parm.action)
	m.p.Store(&p)
	x.created = append(x.created, m)
	return m, nil
}

// canReinsert is tcf_mirred_can_reinsert.
func canReinsert(v Verdict) bool {
	return v == Shot || v == Stolen || v == Queued || v == Trap
}

// Act is tcf_mirred_act: a per-slot nesting count above 4 drops; otherwise
// the packet (or a copy) goes to the target and the configured verdict is
// returned, or Shot when a redirect's target is down, or Consumed when
// the original was handed over.
func (m *mirredAction) Act(pkt *packet.Packet, res *Result) Verdict {
	nest := &m.t.nest[pkt.Slot%nestSlots]
	defer nest.Add(-1)
	if nest.Add(1) > uapi.MIRRED_NEST_LIMIT {
		return Shot
	}
	m.touch(res)
	m.count(pkt, res)
	retval := m.Verdict()
	p := m.p.Load()
	if p.block != 0 {
		return m.blockcast(pkt, res, p, retval)
	}
	if p.ifindex == 0 || m.fwd == nil {
		m.overlimit(res)
		return retval
	}
	st, ok := m.fwd.Device(p.ifindex)
	if !ok {
		// The device went away (NETDEV_UNREGISTER cleared tcfm_dev).
		m.overlimit(res)
		return retval
	}
	return m.toDev(pkt, res, p.ifindex, st.Up, p.macXmit, p.eaction, retval)
}

// toDev is tcf_mirred_to_dev.
func (m *mirredAction) toDev(pkt *packet.Packet, res *Result, ifindex uint32, up, macXmit bool, eaction MirredAction, retval Verdict) Verdict {
	isRedirect := eaction.redirect()
	if !up {
		if isRedirect {
			retval = Shot
		}
		m.overlimit(res)
		return retval
	}
	atIngress := pkt.Direction == packet.Ingress
	dontClone := atIngress && isRedirect && canReinsert(retval)
	wantIngress := eaction.ingress()
	req := Forward{
		Ifindex:   ifindex,
		Ingress:   wantIngress,
		Redirect:  isRedirect,
		Reinsert:  dontClone,
		AtNetwork: wantIngress || !macXmit,
	}
	if isRedirect && dontClone {
		retval = Consumed
	}
	if err := m.fwd.Forward(pkt, req); err != nil {
		m.overlimit(res)
	}
	return retval
}

// blockcast is tcf_blockcast: to every port of the block but the current
// device; a redirect mirrors to all but the last port and redirects to
// the last.
func (m *mirredAction) blockcast(pkt *packet.Packet, res *Result, p *mirredParams, retval Verdict) Verdict {
	bf, ok := m.fwd.(BlockForwarder)
	var ports []uint32
	if ok {
		ports = bf.BlockPorts(p.block)
	}
	if len(ports) == 0 {
		m.overlimit(res)
		return retval
	}
	except := pkt.Ifindex
	if !p.eaction.redirect() {
		for _, port := range ports {
			if port == except {
				continue
			}
			st, _ := m.fwd.Device(port)
			m.toDev(pkt, res, port, st.Up, st.MACHeaderXmit, p.eaction, retval)
		}
		return retval
	}
	mirror := EgressMirror
	if p.eaction.ingress() {
		mirror = IngressMirror
	}
	var prev uint32
	var havePrev bool
	for _, port := range ports {
		if port == except {
			continue
		}
		if havePrev {
			// The kernel passes the mac_header_xmit of the current port
			// for the previous one here.
			st, _ := m.fwd.Device(port)
			pst, _ := m.fwd.Device(prev)
			m.toDev(pkt, res, prev, pst.Up, st.MACHeaderXmit, mirror, retval)
		}
		prev, havePrev = port, true
	}
	if havePrev {
		st, _ := m.fwd.Device(prev)
		return m.toDev(pkt, res, prev, st.Up, st.MACHeaderXmit, p.eaction, retval)
	}
	return retval
}

func (m *mirredAction) dumpOptions(e *encoder, bind, ref int32) {
	p := m.p.Load()
	b := putGen(nil, tcGen{index: m.index, action: m.Verdict(), refcnt: m.refcnt - ref, bindcnt: m.bindcnt - bind})
	b = binary.LittleEndian.AppendUint32(b, uint32(p.eaction))
	b = binary.LittleEndian.AppendUint32(b, p.ifindex)
	e.bytes(uapi.TCA_MIRRED_PARMS, b)
	if p.block != 0 {
		e.u32(uapi.TCA_MIRRED_BLOCKID, p.block)
	}
	e.tm(uapi.TCA_MIRRED_TM, &m.Common)
}

// format is iproute2's print_mirred.
func (m *mirredAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	p := m.p.Load()
	fmt.Fprintf(w, "mirred (%s", p.eaction)
	if p.block != 0 {
		fmt.Fprintf(w, " to blockid %d)", p.block)
	} else {
		name := fmt.Sprintf("if%d", p.ifindex)
		if m.fwd != nil {
			if st, ok := m.fwd.Device(p.ifindex); ok && st.Name != "" {
				name = st.Name
			}
		}
		fmt.Fprintf(w, " to device %s)", name)
	}
	fmt.Fprintf(w, " %s\n", ctrlString(m.Verdict()))
	formatGen(w, &m.Common, bind, ref, stats, "\t")
}
