package tctest

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Program is what Run runs: a *cbpf.Program or an *ebpf.Program.
type Program interface {
	Run(pkt *packet.Packet) uint32
}

// checkedProgram is a Program that reports run faults (an *ebpf.Program).
type checkedProgram interface {
	RunChecked(pkt *packet.Packet) (uint32, error)
}

// LoadObject reads the clang-compiled object at path and creates its maps
// and programs with default options, failing tb when the object is
// malformed or a program is refused.
func LoadObject(tb testing.TB, path string) *ebpf.Collection {
	tb.Helper()
	spec, err := ebpf.LoadObjectFile(path)
	if err != nil {
		tb.Fatalf("tctest: load %s: %v", path, err)
		return nil
	}
	coll, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{})
	if err != nil {
		tb.Fatalf("tctest: load %s: %v", path, err)
		return nil
	}
	return coll
}

// ProgramOf returns the program called name in coll, failing tb when there
// is none and naming the programs there are.
func ProgramOf(tb testing.TB, coll *ebpf.Collection, name string) *ebpf.Program {
	tb.Helper()
	if p := coll.Program(name); p != nil {
		return p
	}
	names := make([]string, 0, len(coll.Programs))
	for n := range coll.Programs {
		names = append(names, n)
	}
	tb.Fatalf("tctest: no program %q in the object (it has %q)", name, names)
	return nil
}

// MapOf returns the map called name in coll, failing tb when there is none.
func MapOf(tb testing.TB, coll *ebpf.Collection, name string) *ebpf.Map {
	tb.Helper()
	if m := coll.Map(name); m != nil {
		return m
	}
	tb.Fatalf("tctest: no map %q in the object", name)
	return nil
}

// Bytecode loads a classic program written as tc's bytecode argument
// ("4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0"), failing tb when it does
// not parse or the kernel's checker would refuse it.
func Bytecode(tb testing.TB, s string) *cbpf.Program {
	tb.Helper()
	raw, err := cbpf.ParseBytecode(s)
	if err != nil {
		tb.Fatalf("tctest: bytecode: %v", err)
		return nil
	}
	p, err := cbpf.LoadRaw(raw)
	if err != nil {
		tb.Fatalf("tctest: bytecode: %v", err)
		return nil
	}
	return p
}

// Serialize serializes a gopacket layer stack into a frame with lengths
// fixed and checksums computed: a TCP or UDP layer gets its pseudo-header
// from the IPv4 or IPv6 layer before it.
func Serialize(tb testing.TB, stack ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	var network gopacket.NetworkLayer
	for _, l := range stack {
		switch l := l.(type) {
		case *layers.IPv4:
			network = l
		case *layers.IPv6:
			network = l
		case *layers.TCP:
			if network != nil {
				if err := l.SetNetworkLayerForChecksum(network); err != nil {
					tb.Fatalf("tctest: serialize: %v", err)
					return nil
				}
			}
		case *layers.UDP:
			if network != nil {
				if err := l.SetNetworkLayerForChecksum(network); err != nil {
					tb.Fatalf("tctest: serialize: %v", err)
					return nil
				}
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, stack...); err != nil {
		tb.Fatalf("tctest: serialize: %v", err)
		return nil
	}
	return buf.Bytes()
}

// Packet builds the packet of a gopacket layer stack, serialized as
// Serialize does, as Frame does with its bytes.
func Packet(tb testing.TB, stack ...gopacket.SerializableLayer) *packet.Packet {
	tb.Helper()
	return Frame(tb, Serialize(tb, stack...))
}

// Frame builds a packet holding a copy of an Ethernet frame as
// BPF_PROG_TEST_RUN hands it to a SCHED_CLS program given no context
// (net/bpf/test_run.c): the frame from its MAC header on the loopback
// device (Ifindex 1, whose address is all zeros: PktType is Host for a
// frame to 00:00:00:00:00:00, Multicast for a group address, OtherHost
// otherwise), at egress (the hook test runs take), every other field zero.
// Set the exported fields of the result (Mark, Priority, CB, Ifindex,
// Direction, VLANPresent, VLANTCI, VLANProto, ...) for another context.
func Frame(tb testing.TB, frame []byte) *packet.Packet {
	tb.Helper()
	p := packet.New(len(frame))
	if err := p.SetFrame(frame); err != nil {
		tb.Fatalf("tctest: frame: %v", err)
		return nil
	}
	switch {
	case frame[0]&1 != 0:
		p.PktType = packet.Multicast
	case frame[0]|frame[1]|frame[2]|frame[3]|frame[4]|frame[5] == 0:
		p.PktType = packet.Host
	default:
		p.PktType = packet.OtherHost
	}
	p.Ifindex = loopbackIfindex
	p.Direction = packet.Egress
	return p
}

// loopbackIfindex is the loopback device's ifindex in every network
// namespace, the device BPF_PROG_TEST_RUN runs on by default.
const loopbackIfindex = 1

// Run runs prog on pkt and returns R0's low 32 bits: a verdict for a
// direct-action program, a classid in classic mode. A run fault of an eBPF
// program (which the kernel's verifier would have prevented) fails tb.
func Run(tb testing.TB, prog Program, pkt *packet.Packet) uint32 {
	tb.Helper()
	if c, ok := prog.(checkedProgram); ok {
		r, err := c.RunChecked(pkt)
		if err != nil {
			tb.Fatalf("tctest: run: %v", err)
		}
		return r
	}
	return prog.Run(pkt)
}

// TestRun runs prog as bpf(BPF_PROG_TEST_RUN) does, on the bytes and
// __sk_buff context of opts (ebpf.Program.TestRun, the shape of
// cilium/ebpf's Program.Run), failing tb with the kernel's errno when the
// kernel would refuse the run. Run on a packet from Frame gives the same
// results for a context-free run and takes any context besides.
func TestRun(tb testing.TB, prog *ebpf.Program, opts *ebpf.RunOptions) uint32 {
	tb.Helper()
	r, err := prog.TestRun(opts)
	if err != nil {
		tb.Fatalf("tctest: test run: %v", err)
	}
	return r
}

// Chain returns a cls_bpf instance holding the filters of specs, added in
// order as `tc filter add` adds them, failing tb when one is refused. Use
// DirectAction: true for a direct-action program, ClassID for classid mode;
// classifier.Chain.Classify then runs them as the kernel does.
func Chain(tb testing.TB, specs ...classifier.FilterSpec) *classifier.Chain {
	tb.Helper()
	c := classifier.New(classifier.Config{})
	for i, s := range specs {
		if _, err := c.Change(s, classifier.Create|classifier.Excl); err != nil {
			tb.Fatalf("tctest: filter %d: %v", i, err)
			return nil
		}
	}
	return c
}

// Block returns a filter block whose chain 0 holds the filters of specs,
// each at its own priority (1, 2, ...) for every protocol, failing tb when
// one is refused.
func Block(tb testing.TB, specs ...classifier.FilterSpec) *classifier.Block {
	tb.Helper()
	b := classifier.NewBlock(classifier.BlockConfig{})
	for i, s := range specs {
		w := classifier.Where{Prio: uint16(i + 1), Protocol: classifier.ProtocolAll}
		if _, _, err := b.Change(w, s, classifier.Create|classifier.Excl); err != nil {
			tb.Fatalf("tctest: filter %d: %v", i, err)
			return nil
		}
	}
	return b
}
