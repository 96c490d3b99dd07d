//go:build linux

package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// skbView is what the recorder program saw of one skb: __sk_buff fields as
// a 4-byte read returns them, and the first 64 bytes from skb->data.
type skbView struct {
	Len, PktType, Protocol, VLANPresent, VLANTCI, VLANProto uint32
	IngressIfindex, Ifindex, WireLen, QueueMapping          uint32
	Mark, Priority, TCIndex, Hash, NapiID, GSOSegs, GSOSize uint32
	Head                                                    [64]byte
}

// Recorder value layout: word 0 counts runs, words 1..17 hold the fields in
// skbView order, bytes 128..191 the frame head.
var recordedFields = []int16{0, 4, 16, 20, 24, 28, 36, 40, 160, 12, 8, 32, 44, 68, 84, 164, 176} // __sk_buff offsets

const recorderValueSize = 192

// recorderHeadOff is where the frame head goes in the value, after the
// field words.
const recorderHeadOff = 128

// loadRecorder loads a SCHED_CLS program that copies the skbView fields of
// every skb it sees into a one-element array map, counts its runs, and
// returns ret.
func loadRecorder(tb testing.TB, ret int32) (*ebpf.Program, *ebpf.Map) {
	tb.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: recorderValueSize, MaxEntries: 1})
	if err != nil {
		kerneltest.Skip(tb, fmt.Sprintf("create bpf map: %v", err))
	}
	tb.Cleanup(func() { m.Close() })
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),               // r6 = ctx
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),    // *(u32 *)(fp-4) = 0
		asm.LoadMapPtr(asm.R1, m.FD()),            // r1 = map
		asm.Mov.Reg(asm.R2, asm.RFP),              // r2 = fp
		asm.Add.Imm(asm.R2, -4),                   // r2 = fp-4
		asm.FnMapLookupElem.Call(),                // r0 = lookup(map, &key)
		asm.JEq.Imm(asm.R0, 0, "out"),             // if r0 == 0 goto out
		asm.Mov.Reg(asm.R7, asm.R0),               // r7 = value
		asm.LoadMem(asm.R1, asm.R7, 0, asm.Word),  // r1 = runs
		asm.Add.Imm(asm.R1, 1),                    // r1++
		asm.StoreMem(asm.R7, 0, asm.R1, asm.Word), // runs = r1
	}
	for i, off := range recordedFields {
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R6, off, asm.Word),           // r1 = ctx->field
			asm.StoreMem(asm.R7, int16(4+4*i), asm.R1, asm.Word), // value[1+i] = r1
		)
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = ctx
		asm.Mov.Imm(asm.R2, 0),                     // r2 = offset 0
		asm.Mov.Reg(asm.R3, asm.R7),                // r3 = value
		asm.Add.Imm(asm.R3, recorderHeadOff),       // r3 = value+128
		asm.Mov.Imm(asm.R4, 64),                    // r4 = 64 bytes
		asm.FnSkbLoadBytes.Call(),                  // skb_load_bytes(ctx, 0, r3, 64)
		asm.Mov.Imm(asm.R0, ret).WithSymbol("out"), // r0 = ret
		asm.Return(),                               // exit
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, Instructions: insns, License: "GPL"})
	if err != nil {
		kerneltest.Skip(tb, fmt.Sprintf("load SCHED_CLS program: %v", err))
	}
	tb.Cleanup(func() { prog.Close() })
	return prog, m
}

// readRecord returns the run count and the recorded view.
func readRecord(tb testing.TB, m *ebpf.Map) (uint32, skbView) {
	tb.Helper()
	var raw [recorderValueSize]byte
	require.NoError(tb, m.Lookup(uint32(0), &raw))
	w := func(i int) uint32 { return binary.NativeEndian.Uint32(raw[4*i:]) }
	v := skbView{
		Len: w(1), PktType: w(2), Protocol: w(3), VLANPresent: w(4), VLANTCI: w(5), VLANProto: w(6),
		IngressIfindex: w(7), Ifindex: w(8), WireLen: w(9), QueueMapping: w(10),
		Mark: w(11), Priority: w(12), TCIndex: w(13), Hash: w(14), NapiID: w(15), GSOSegs: w(16), GSOSize: w(17),
	}
	copy(v.Head[:], raw[recorderHeadOff:])
	return w(0), v
}

// view is what the recorder would see of p: protocol and vlan_proto in
// network order as stored, the rest as the __sk_buff fields read them.
func view(p *Packet) skbView {
	v := skbView{
		Len:            uint32(p.Len()),
		PktType:        uint32(p.PktType),
		Protocol:       uint32(bits.ReverseBytes16(p.Protocol)),
		VLANTCI:        uint32(p.VLANTCI),
		VLANProto:      uint32(bits.ReverseBytes16(p.VLANProto)),
		IngressIfindex: p.IngressIfindex,
		Ifindex:        p.Ifindex,
		WireLen:        p.WireLen,
		QueueMapping:   uint32(p.QueueMapping),
		Mark:           p.Mark,
		Priority:       p.Priority,
		TCIndex:        uint32(p.TCIndex),
		Hash:           p.Hash,
		NapiID:         p.NapiID,
		GSOSegs:        uint32(p.GSOSegs),
		GSOSize:        uint32(p.GSOSize),
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 { // big-endian host: stored order is the value
		v.Protocol, v.VLANProto = uint32(p.Protocol), uint32(p.VLANProto)
	}
	if p.VLANPresent {
		v.VLANPresent = 1
	}
	copy(v.Head[:], p.Bytes())
	return v
}

// kernelFrame is one frame of the differential corpus.
type kernelFrame struct {
	name     string
	frame    []byte
	ieee8023 bool // 802.3 length field instead of an EtherType
}

// kernelFrames crosses destination addresses with link-layer encodings; each
// frame is at least 80 bytes so the recorder's 64-byte copy succeeds.
func kernelFrames(own [6]byte) []kernelFrame {
	dsts := []struct {
		name string
		mac  [6]byte
	}{
		{"own", own},
		{"broadcast", BroadcastMAC},
		{"ipv4mcast", mcast4},
		{"ipv6mcast", [6]byte{0x33, 0x33, 0, 0, 0, 1}},
		{"otherhost", [6]byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}},
		{"zero", zero6},
	}
	ipv4 := append([]byte{0x45, 0, 0, 66, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, filled(46, 0x20)...)
	ipv6 := append([]byte{0x60, 0, 0, 0, 0, 26, 17, 64}, filled(58, 0x20)...)
	encs := []struct {
		name     string
		types    []uint16
		payload  []byte
		ieee8023 bool
	}{
		{"ipv4", []uint16{0x0800}, ipv4, false},
		{"ipv6", []uint16{0x86dd}, ipv6, false},
		{"arp", []uint16{0x0806}, filled(66, 0), false},
		{"8021q_ipv4", []uint16{0x8100, 0xa00b, 0x0800}, ipv4, false},
		{"8021q_tci0_ipv6", []uint16{0x8100, 0x0000, 0x86dd}, ipv6, false},
		{"8021ad_8021q", []uint16{0x88a8, 0x0064, 0x8100, 0x0005, 0x0800}, ipv4, false},
		{"8021q_llc", []uint16{0x8100, 0x0007, 0x0040}, append([]byte{0x42, 0x42, 3}, filled(63, 0)...), false},
		{"llc", []uint16{0x0040}, append([]byte{0x42, 0x42, 3}, filled(63, 0)...), true},
		{"raw_ipx", []uint16{0x0040}, append([]byte{0xff, 0xff}, filled(64, 0)...), true},
	}
	var out []kernelFrame
	for _, d := range dsts {
		for _, e := range encs {
			out = append(out, kernelFrame{name: d.name + "/" + e.name, frame: frame(d.mac, e.types, e.payload...), ieee8023: e.ieee8023})
		}
	}
	return out
}

// TestKernelTestRun compares SetFrame plus a device's pkt_type with what a
// SCHED_CLS program sees under BPF_PROG_TEST_RUN: on the loopback device
// (no context) and on a veth named by the context's ifindex.
func TestKernelTestRun(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "pa", "address", "02:00:00:00:00:aa", "type", "veth", "peer", "name", "pb")
	ns.MustRun(t, "ip", "link", "set", "pa", "up")
	ifindex := uint32(ns.Ifindex(t, "pa"))
	veth := EthernetDevice(ifindex, [6]byte{0x02, 0, 0, 0, 0, 0xaa})

	var prog *ebpf.Program
	var m *ebpf.Map
	require.NoError(t, ns.Do(func() error {
		prog, m = loadRecorder(t, 0)
		return nil
	}))
	frames := kernelFrames(veth.Addr)
	checked := 0
	for _, dev := range []Device{LoopbackDevice, veth} {
		for _, kf := range frames {
			name := "lo/" + kf.name
			if dev.Ifindex != 1 {
				name = "veth/" + kf.name
			}
			t.Run(name, func(t *testing.T) {
				var p Packet
				require.NoError(t, p.SetFrame(kf.frame))
				p.PktType = dev.PktType([6]byte(kf.frame))
				p.Ifindex = dev.Ifindex
				opts := &ebpf.RunOptions{Data: kf.frame}
				if dev.Ifindex != 1 {
					var ctx [48]uint32 // struct __sk_buff
					ctx[10] = dev.Ifindex
					opts.Context = ctx
					p.WireLen = uint32(p.Len()) // a context with wire_len 0 gets len
				}
				before, _ := readRecord(t, m)
				var ret uint32
				err := ns.Do(func() error {
					var err error
					ret, err = prog.Run(opts)
					return err
				})
				require.NoError(t, err)
				require.Zero(t, ret)
				after, got := readRecord(t, m)
				require.Equal(t, before+1, after, "program ran once")
				assert.Equal(t, view(&p), got)
				checked++
			})
		}
	}
	t.Logf("%d frames compared with BPF_PROG_TEST_RUN", checked)
}

// TestKernelDatapath sends frames through a veth pair with a cls_bpf
// recorder at clsact egress of one end and clsact ingress of the other,
// and compares what the two programs saw with Transmit and Receive.
func TestKernelDatapath(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	// No IPv6 autoconfiguration traffic may reach the recorders.
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	ns.MustRun(t, "ip", "link", "add", "ta", "address", "02:00:00:00:00:0a", "type", "veth",
		"peer", "name", "tb", "address", "02:00:00:00:00:0b")
	for _, dev := range []string{"ta", "tb"} {
		ns.MustRun(t, "ip", "link", "set", dev, "up")
		ns.MustRun(t, "tc", "qdisc", "add", "dev", dev, "clsact")
	}
	ta, tb := ns.Ifindex(t, "ta"), ns.Ifindex(t, "tb")
	devA := EthernetDevice(uint32(ta), [6]byte{0x02, 0, 0, 0, 0, 0x0a})
	devB := EthernetDevice(uint32(tb), [6]byte{0x02, 0, 0, 0, 0, 0x0b})

	var egProg, inProg *ebpf.Program
	var egMap, inMap *ebpf.Map
	require.NoError(t, ns.Do(func() error {
		egProg, egMap = loadRecorder(t, 0) // TC_ACT_OK: on to the peer
		inProg, inMap = loadRecorder(t, 2) // TC_ACT_SHOT: nothing reaches the stack
		return nil
	}))
	attachClsBPF(t, ns, ta, uapi.TC_H_MIN_EGRESS, egProg)
	attachClsBPF(t, ns, tb, uapi.TC_H_MIN_INGRESS, inProg)
	sock := ns.PacketSocket(t, "ta")

	wait := func(m *ebpf.Map, want uint32) (skbView, error) { return waitRecord(t, m, want) }

	frames := kernelFrames(devB.Addr)
	egRuns, inRuns := uint32(0), uint32(0)
	for _, kf := range frames {
		t.Run(kf.name, func(t *testing.T) {
			require.NoError(t, sock.Send(kf.frame, 0))
			egRuns++
			inRuns++
			gotEg, err := wait(egMap, egRuns)
			require.NoError(t, err, "egress")
			gotIn, err := wait(inMap, inRuns)
			require.NoError(t, err, "ingress")

			var p Packet
			require.NoError(t, p.Transmit(kf.frame, devA))
			want := view(&p)
			if kf.ieee8023 {
				// AF_PACKET sets skb->protocol to what the sender names
				// (here the length field); the stack never sends such
				// frames with a length as protocol.
				want.Protocol = gotEg.Protocol
			}
			assert.Equal(t, want, gotEg, "egress")

			require.NoError(t, p.Receive(kf.frame, devB))
			assert.Equal(t, view(&p), gotIn, "ingress")
		})
	}
	t.Logf("%d frames compared at clsact egress and ingress", len(frames))

	// Short frames: the receive path drops a tagged frame with fewer than
	// 6 bytes after the Ethernet header before tc sees it (skb_vlan_untag's
	// pskb_may_pull), and Receive refuses it; shorter than 64 bytes, the
	// recorder's copy of the head fails, so only the fields are compared.
	short := []struct {
		name  string
		frame []byte
	}{
		{"tagged_18", frame(devB.Addr, []uint16{0x8100, 5})},
		{"tagged_19", frame(devB.Addr, []uint16{0x8100, 5}, 0x08)},
		{"tagged_20", frame(devB.Addr, []uint16{0x8100, 5, 0x0800})},
		{"qinq_20", frame(devB.Addr, []uint16{0x88a8, 5, 0x8100})},
		{"arp_14", frame(BroadcastMAC, []uint16{0x0806})},
		{"llc_15", frame(devB.Addr, []uint16{0x0001}, 0xff)},
	}
	for _, sf := range short {
		t.Run(sf.name, func(t *testing.T) {
			require.NoError(t, sock.Send(sf.frame, 0))
			egRuns++
			gotEg, err := wait(egMap, egRuns)
			require.NoError(t, err, "egress")
			var p Packet
			require.NoError(t, p.Transmit(sf.frame, devA))
			want := view(&p)
			want.Head, gotEg.Head = [64]byte{}, [64]byte{}
			if sf.frame[12] < 0x06 {
				want.Protocol = gotEg.Protocol // named by the AF_PACKET sender
			}
			assert.Equal(t, want, gotEg, "egress")

			rerr := p.Receive(sf.frame, devB)
			if rerr != nil {
				// Dropped before tc: the ingress recorder must not run.
				// The next frame would show a stray run; wait briefly.
				time.Sleep(20 * time.Millisecond)
				n, _ := readRecord(t, inMap)
				assert.Equal(t, inRuns, n, "the kernel dropped it before tc too: %v", rerr)
				return
			}
			inRuns++
			gotIn, err := wait(inMap, inRuns)
			require.NoError(t, err, "ingress: the kernel's tc saw a frame the model accepts")
			want = view(&p)
			want.Head, gotIn.Head = [64]byte{}, [64]byte{}
			assert.Equal(t, want, gotIn, "ingress")
		})
	}
}

// attachClsBPF adds prog as a direct-action cls_bpf filter at the clsact
// hook (TC_H_MIN_INGRESS or TC_H_MIN_EGRESS) of the device, over netlink.
func attachClsBPF(t *testing.T, ns *kerneltest.NetNS, ifindex int32, hook uint32, prog *ebpf.Program) {
	t.Helper()
	opts := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, uint32(prog.FD()))
	opts = nlattr.AppendString(opts, uapi.TCA_BPF_NAME, "recorder")
	opts = nlattr.AppendUint32(opts, uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
	attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
	attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
	_, err := ns.Rtnl(t).Do(kerneltest.TCFilterRequest{
		Type:  uapi.RTM_NEWTFILTER,
		Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL,
		Tcmsg: kerneltest.Tcmsg{
			Family:  unix.AF_UNSPEC,
			Ifindex: ifindex,
			Handle:  1,
			Parent:  uapi.TC_H_CLSACT&uapi.TC_H_MAJ_MASK | hook,
			Info:    kerneltest.FilterInfo(1, unix.ETH_P_ALL),
		},
		Attrs: attrs,
	})
	require.NoError(t, err, "attach cls_bpf")
}

// waitRecord waits until the recorder has run want times and returns what
// it saw last.
func waitRecord(t *testing.T, m *ebpf.Map, want uint32) (skbView, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, v := readRecord(t, m)
		if n == want {
			return v, nil
		}
		if n > want {
			return v, fmt.Errorf("recorder ran %d times, want %d: unexpected traffic", n, want)
		}
		if time.Now().After(deadline) {
			return v, errors.New("recorder did not run")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestKernelTUN writes IP packets into a TUN device (IFF_TUN|IFF_NO_PI) and
// compares what a cls_bpf recorder at its clsact ingress saw with
// ReceiveL3; a packet of another IP version must be refused by both.
func TestKernelTUN(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	var fd int
	var prog *ebpf.Program
	var m *ebpf.Map
	require.NoError(t, ns.Do(func() error {
		var err error
		if fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq("ctun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		prog, m = loadRecorder(t, 2) // TC_ACT_SHOT: nothing reaches the stack
		return nil
	}))
	t.Cleanup(func() { unix.Close(fd) })
	ns.MustRun(t, "ip", "link", "set", "ctun0", "up")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "ctun0", "clsact")
	ifindex := ns.Ifindex(t, "ctun0")
	attachClsBPF(t, ns, ifindex, uapi.TC_H_MIN_INGRESS, prog)
	dev := Device{Ifindex: uint32(ifindex), Type: ARPHRDNone}

	ipv4 := append([]byte{0x45, 0, 0, 80, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, filled(60, 0x20)...)
	ipv4opts := append([]byte{0x46, 0, 0, 84, 0, 1, 0, 0, 1, 6, 0, 0, 10, 0, 0, 1, 224, 0, 0, 1, 1, 1, 1, 0}, filled(60, 0)...)
	ipv6 := append([]byte{0x60, 0, 0, 0, 0, 40, 17, 64}, filled(72, 0x30)...)
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"ipv4_udp", ipv4},
		{"ipv4_options_multicast", ipv4opts},
		{"ipv6_udp", ipv6},
		{"ipv4_bad_header_still_seen", append([]byte{0x4f, 0xff}, filled(78, 0)...)},
	}
	runs := uint32(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unix.Write(fd, tt.pkt)
			require.NoError(t, err)
			runs++
			got, err := waitRecord(t, m, runs)
			require.NoError(t, err)

			var p Packet
			require.NoError(t, p.ReceiveL3(tt.pkt, dev))
			p.QueueMapping = 1 // tun records its receive queue 0 as 1
			assert.Equal(t, view(&p), got)
		})
	}
	t.Run("ip_version_5_refused", func(t *testing.T) {
		pkt := append([]byte{0x50}, filled(79, 0)...)
		_, err := unix.Write(fd, pkt)
		assert.ErrorIs(t, err, unix.EINVAL, "the tun driver")
		var p Packet
		assert.ErrorIs(t, p.ReceiveL3(pkt, dev), syscall.EINVAL, "the model")
		n, _ := readRecord(t, m)
		assert.Equal(t, runs, n, "the recorder never saw it")
	})
	t.Logf("%d packets compared at TUN clsact ingress", len(tests))
}
