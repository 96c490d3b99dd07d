package ebpf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// SkbContextSize is sizeof(struct __sk_buff), the size of the context a
// test run takes in and hands out.
const SkbContextSize = 192

// Limits of BPF_PROG_TEST_RUN for skb programs (net/bpf/test_run.c).
const (
	// TestRunMinData is ETH_HLEN: the shortest data a test run accepts.
	TestRunMinData = 14
	// TestRunMaxData is PAGE_SIZE - (NET_SKB_PAD + NET_IP_ALIGN) -
	// SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 with 4 KiB
	// pages: the longest data a test run accepts.
	TestRunMaxData = 4096 - 64 - 320
	// testRunMaxWireLen is GSO_LEGACY_MAX_SIZE.
	testRunMaxWireLen = 65536
	// testRunMaxGSOSegs is GSO_MAX_SEGS.
	testRunMaxGSOSegs = 65535
	// testRunMaxCtx is PAGE_SIZE, beyond which bpf_check_uarg_tail_zero
	// refuses a context outright.
	testRunMaxCtx = 4096
)

// TestDevice is a network device a test run's context may name by
// ifindex, for the packet type eth_type_trans computes against it.
type TestDevice struct {
	// Addr is the device's MAC address (dev->dev_addr).
	Addr [6]byte
	// Broadcast is its broadcast address (dev->broadcast).
	Broadcast [6]byte
}

// LoopbackDevice is lo as BPF_PROG_TEST_RUN uses it when the context
// names no other device: ifindex 1, address and broadcast address all
// zero, so ff:ff:ff:ff:ff:ff reads as multicast.
var LoopbackDevice = TestDevice{}

// RunOptions are the inputs and outputs of one TestRun, field for field
// those of bpf(BPF_PROG_TEST_RUN) and of cilium/ebpf's RunOptions.
type RunOptions struct {
	// Data is the frame, from the Ethernet header on: at least
	// TestRunMinData bytes, at most TestRunMaxData.
	Data []byte
	// DataOut receives the frame after the run. It is resliced to the
	// frame's length; when shorter than that, its length of bytes is
	// copied and TestRun fails with ENOSPC, as the kernel does. A nil or
	// empty DataOut receives nothing.
	DataOut []byte
	// Context is the __sk_buff passed in (ctx_in): a []byte, or any
	// value encoding/binary encodes in native byte order (a *SkbContext,
	// a [192]byte). Only mark, priority, ingress_ifindex, ifindex, cb,
	// tstamp, wire_len, gso_segs, gso_size and hwtstamp may be non-zero.
	Context any
	// ContextOut receives the __sk_buff after the run (ctx_out): a
	// []byte, or a pointer encoding/binary decodes into.
	ContextOut any
	// Repeat is how many times the program runs on the same packet; 0
	// means 1.
	Repeat uint32
	// Flags must be 0 for skb programs.
	Flags uint32
	// CPU must be 0 for skb programs.
	CPU uint32
	// BatchSize must be 0 for skb programs.
	BatchSize uint32
	// Devices are the devices a context ifindex above 1 may name; any
	// other such ifindex fails with ENODEV. Ifindex 1 is always lo.
	Devices map[uint32]TestDevice
	// Duration is set by TestRun to the mean time of one run.
	Duration time.Duration
}

// SkbContext is struct __sk_buff in its uapi layout, for
// RunOptions.Context and ContextOut.
type SkbContext struct {
	Len            uint32
	PktType        uint32
	Mark           uint32
	QueueMapping   uint32
	Protocol       uint32
	VLANPresent    uint32
	VLANTCI        uint32
	VLANProto      uint32
	Priority       uint32
	IngressIfindex uint32
	Ifindex        uint32
	TCIndex        uint32
	CB             [5]uint32
	Hash           uint32
	TCClassID      uint32
	Data           uint32
	DataEnd        uint32
	NapiID         uint32
	Family         uint32
	RemoteIP4      uint32
	LocalIP4       uint32
	RemoteIP6      [4]uint32
	LocalIP6       [4]uint32
	RemotePort     uint32
	LocalPort      uint32
	DataMeta       uint32
	FlowKeys       uint64
	Tstamp         uint64
	WireLen        uint32
	GSOSegs        uint32
	Sk             uint64
	GSOSize        uint32
	TstampType     uint8
	Pad            [3]uint8
	HWTstamp       uint64
}

// testRunAllowed marks the __sk_buff bytes a test run's ctx_in may set
// (convert___skb_to_skb): every other byte must be zero.
var testRunAllowed = func() (a [SkbContextSize]bool) {
	set := func(off, n int) {
		for i := off; i < off+n; i++ {
			a[i] = true
		}
	}
	set(uapi.SKB_OFF_MARK, 4)
	set(uapi.SKB_OFF_PRIORITY, 4)
	set(uapi.SKB_OFF_INGRESS_IFINDEX, 4)
	set(uapi.SKB_OFF_IFINDEX, 4)
	set(uapi.SKB_OFF_CB, 20)
	set(uapi.SKB_OFF_TSTAMP, 8)
	set(uapi.SKB_OFF_WIRE_LEN, 4)
	set(uapi.SKB_OFF_GSO_SEGS, 4)
	set(uapi.SKB_OFF_GSO_SIZE, 4)
	set(uapi.SKB_OFF_HWTSTAMP, 8)
	return a
}()

// TestRun runs the program as bpf(BPF_PROG_TEST_RUN) runs a SCHED_CLS or
// SCHED_ACT program (bpf_prog_test_run_skb in net/bpf/test_run.c): it
// builds a linear packet from opts.Data on lo (or the device the
// context's ifindex names), with skb->protocol and pkt_type as
// eth_type_trans sets them, applies the context, runs the program
// opts.Repeat times on that packet and hands back the program's return
// value, the frame in DataOut and the context in ContextOut.
//
// Errors wrap the kernel's errno in the kernel's order: EINVAL for
// non-zero Flags, CPU or BatchSize, data shorter than 14 or longer than
// TestRunMaxData bytes, an IPv4 frame under 34 or IPv6 frame under 54
// bytes, a context field a test run may not set, wire_len below the frame
// length or above 65536, gso_segs above 65535; E2BIG for a context longer
// than __sk_buff with non-zero bytes past its end; ENODEV for an ifindex
// Devices lacks; ENOSPC when DataOut or ContextOut is too short, after
// the partial copy of the frame into DataOut (ContextOut is left as it
// was, as cilium/ebpf leaves it; the return value is still the
// program's).
// A run fault the kernel's verifier would have prevented wraps EFAULT.
func (p *Program) TestRun(opts *RunOptions) (uint32, error) {
	if opts == nil {
		opts = &RunOptions{}
	}
	if opts.Flags != 0 || opts.CPU != 0 || opts.BatchSize != 0 {
		return 0, fmt.Errorf("ebpf: test run %s: flags %#x, cpu %d, batch size %d: skb programs take none: %w",
			p.spec.Name, opts.Flags, opts.CPU, opts.BatchSize, syscall.EINVAL)
	}
	if n := len(opts.Data); n < TestRunMinData || n > TestRunMaxData {
		return 0, fmt.Errorf("ebpf: test run %s: %d bytes of data, want %d to %d: %w",
			p.spec.Name, n, TestRunMinData, TestRunMaxData, syscall.EINVAL)
	}
	var ctx *[SkbContextSize]byte
	if opts.Context != nil || opts.ContextOut != nil {
		ctx = new([SkbContextSize]byte)
	}
	if opts.Context != nil {
		in, err := encodeContext(opts.Context)
		if err != nil {
			return 0, fmt.Errorf("ebpf: test run %s: context: %w", p.spec.Name, err)
		}
		if len(in) > SkbContextSize {
			if len(in) > testRunMaxCtx {
				return 0, fmt.Errorf("ebpf: test run %s: %d-byte context: %w", p.spec.Name, len(in), syscall.E2BIG)
			}
			for i := SkbContextSize; i < len(in); i++ {
				if in[i] != 0 {
					return 0, fmt.Errorf("ebpf: test run %s: context byte %d past __sk_buff is %#x: %w",
						p.spec.Name, i, in[i], syscall.E2BIG)
				}
			}
		}
		copy(ctx[:], in)
	}
	dev := LoopbackDevice
	ifindex := uint32(1)
	if ctx != nil {
		if ix := binary.NativeEndian.Uint32(ctx[uapi.SKB_OFF_IFINDEX:]); ix > 1 {
			d, ok := opts.Devices[ix]
			if !ok {
				return 0, fmt.Errorf("ebpf: test run %s: ifindex %d names no device: %w", p.spec.Name, ix, syscall.ENODEV)
			}
			dev, ifindex = d, ix
		}
	}
	pkt := testRunPackets.Get().(*packet.Packet)
	defer testRunPackets.Put(pkt)
	if err := pkt.SetFrame(opts.Data); err != nil {
		return 0, fmt.Errorf("ebpf: test run %s: %w", p.spec.Name, err)
	}
	pkt.Direction = packet.Egress
	pkt.Ifindex = ifindex
	pkt.DeviceType = packet.ARPHRDEther
	if ifindex == 1 {
		pkt.DeviceType = packet.ARPHRDLoopback
	}
	pkt.PktType = ethPktType(opts.Data, &dev)
	switch pkt.Protocol {
	case 0x0800:
		if len(opts.Data) < 14+20 {
			return 0, fmt.Errorf("ebpf: test run %s: %d-byte IPv4 frame, want at least 34: %w", p.spec.Name, len(opts.Data), syscall.EINVAL)
		}
	case 0x86DD:
		if len(opts.Data) < 14+40 {
			return 0, fmt.Errorf("ebpf: test run %s: %d-byte IPv6 frame, want at least 54: %w", p.spec.Name, len(opts.Data), syscall.EINVAL)
		}
	}
	if ctx != nil {
		if err := applyContext(pkt, ctx); err != nil {
			return 0, fmt.Errorf("ebpf: test run %s: %w", p.spec.Name, err)
		}
	}
	repeat := max(opts.Repeat, 1)
	var ret uint32
	start := time.Now()
	for range repeat {
		r0, err := p.vm.Run(pkt)
		if err != nil {
			return 0, fmt.Errorf("ebpf: test run %s: %w: %w", p.spec.Name, err, syscall.EFAULT)
		}
		ret = uint32(r0)
	}
	opts.Duration = time.Since(start) / time.Duration(repeat)

	var errOut error
	if len(opts.DataOut) > 0 {
		frame := pkt.Bytes()
		n := copy(opts.DataOut, frame)
		if n < len(frame) {
			errOut = fmt.Errorf("ebpf: test run %s: %d-byte data out for a %d-byte frame: %w",
				p.spec.Name, len(opts.DataOut), len(frame), syscall.ENOSPC)
		} else {
			opts.DataOut = opts.DataOut[:len(frame)]
		}
	}
	if ctx != nil && errOut == nil {
		// bpf_ctx_finish runs only when bpf_test_finish succeeded.
		contextOut(pkt, ctx)
		if opts.ContextOut != nil {
			if err := decodeContext(opts.ContextOut, ctx); err != nil {
				errOut = fmt.Errorf("ebpf: test run %s: context out: %w", p.spec.Name, err)
			}
		}
	}
	return ret, errOut
}

// testRunPackets recycles the packets of TestRun, so that repeated test
// runs reuse their buffers.
var testRunPackets = sync.Pool{New: func() any { return packet.New(TestRunMaxData) }}

// ethPktType is eth_type_trans's choice of pkt_type against dev.
func ethPktType(frame []byte, dev *TestDevice) packet.Type {
	dst := [6]byte(frame[:6])
	if dst == dev.Addr {
		return packet.Host
	}
	if dst[0]&1 != 0 {
		if dst == dev.Broadcast {
			return packet.Broadcast
		}
		return packet.Multicast
	}
	return packet.OtherHost
}

// applyContext is convert___skb_to_skb.
func applyContext(pkt *packet.Packet, ctx *[SkbContextSize]byte) error {
	for i, ok := range testRunAllowed {
		if !ok && ctx[i] != 0 {
			return fmt.Errorf("context byte %d is %#x; a test run may not set that field: %w", i, ctx[i], syscall.EINVAL)
		}
	}
	le := binary.NativeEndian
	pkt.Mark = le.Uint32(ctx[uapi.SKB_OFF_MARK:])
	pkt.Priority = le.Uint32(ctx[uapi.SKB_OFF_PRIORITY:])
	pkt.IngressIfindex = le.Uint32(ctx[uapi.SKB_OFF_INGRESS_IFINDEX:])
	pkt.Tstamp = le.Uint64(ctx[uapi.SKB_OFF_TSTAMP:])
	for i := range pkt.CB {
		pkt.CB[i] = le.Uint32(ctx[uapi.SKB_OFF_CB+4*i:])
	}
	wire := le.Uint32(ctx[uapi.SKB_OFF_WIRE_LEN:])
	if wire == 0 {
		wire = uint32(pkt.Len())
	} else if wire < uint32(pkt.Len()) || wire > testRunMaxWireLen {
		return fmt.Errorf("wire_len %d outside %d..%d: %w", wire, pkt.Len(), testRunMaxWireLen, syscall.EINVAL)
	}
	pkt.WireLen = wire
	segs := le.Uint32(ctx[uapi.SKB_OFF_GSO_SEGS:])
	if segs > testRunMaxGSOSegs {
		return fmt.Errorf("gso_segs %d above %d: %w", segs, testRunMaxGSOSegs, syscall.EINVAL)
	}
	pkt.GSOSegs = uint16(segs)
	pkt.GSOSize = uint16(le.Uint32(ctx[uapi.SKB_OFF_GSO_SIZE:]))
	pkt.HWTstamp = le.Uint64(ctx[uapi.SKB_OFF_HWTSTAMP:])
	return nil
}

// contextOut is convert_skb_to___skb: it writes the fields the kernel
// hands back over ctx and leaves the rest (gso_size among them) as
// ctx_in had them.
func contextOut(pkt *packet.Packet, ctx *[SkbContextSize]byte) {
	le := binary.NativeEndian
	le.PutUint32(ctx[uapi.SKB_OFF_MARK:], pkt.Mark)
	le.PutUint32(ctx[uapi.SKB_OFF_PRIORITY:], pkt.Priority)
	le.PutUint32(ctx[uapi.SKB_OFF_INGRESS_IFINDEX:], pkt.IngressIfindex)
	le.PutUint32(ctx[uapi.SKB_OFF_IFINDEX:], pkt.Ifindex)
	le.PutUint64(ctx[uapi.SKB_OFF_TSTAMP:], pkt.Tstamp)
	for i, v := range pkt.CB {
		le.PutUint32(ctx[uapi.SKB_OFF_CB+4*i:], v)
	}
	le.PutUint32(ctx[uapi.SKB_OFF_WIRE_LEN:], pkt.WireLen)
	le.PutUint32(ctx[uapi.SKB_OFF_GSO_SEGS:], uint32(pkt.GSOSegs))
	le.PutUint64(ctx[uapi.SKB_OFF_HWTSTAMP:], pkt.HWTstamp)
}

// encodeContext turns RunOptions.Context into bytes.
func encodeContext(v any) ([]byte, error) {
	switch c := v.(type) {
	case []byte:
		return c, nil
	case *[SkbContextSize]byte:
		return c[:], nil
	}
	b, err := binary.Append(nil, binary.NativeEndian, v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode %T: %v: %w", v, err, syscall.EINVAL)
	}
	return b, nil
}

// decodeContext copies ctx into RunOptions.ContextOut. A destination
// shorter than __sk_buff fails with ENOSPC (bpf_ctx_finish) and is left
// as it was, as cilium/ebpf leaves it: the kernel's partial copy lands in
// a buffer of its own.
func decodeContext(out any, ctx *[SkbContextSize]byte) error {
	var dst []byte
	switch c := out.(type) {
	case []byte:
		dst = c
	case *[SkbContextSize]byte:
		dst = c[:]
	default:
		n := binary.Size(out)
		if n < 0 {
			return fmt.Errorf("cannot decode into %T: %w", out, syscall.EINVAL)
		}
		if n < SkbContextSize {
			return fmt.Errorf("%d-byte context out: %w", n, syscall.ENOSPC)
		}
		buf := make([]byte, n)
		copy(buf, ctx[:])
		if err := binary.Read(bytes.NewReader(buf), binary.NativeEndian, out); err != nil {
			return fmt.Errorf("decode into %T: %v: %w", out, err, syscall.EINVAL)
		}
		return nil
	}
	if len(dst) < SkbContextSize {
		return fmt.Errorf("%d-byte context out: %w", len(dst), syscall.ENOSPC)
	}
	copy(dst, ctx[:])
	return nil
}
