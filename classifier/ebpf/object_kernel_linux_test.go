//go:build linux

package ebpf_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// __sk_buff offsets of the fields BPF_PROG_TEST_RUN takes in and gives
// back for SCHED_CLS.
const (
	skbMark     = 8
	skbPriority = 32
	skbIfindex  = 40
	skbCB       = 48
	skbTstamp   = 152
	skbSize     = 192
)

// objectCase is one test object: the program the corpus runs through,
// how its maps are seeded and its prog arrays filled, on both sides.
type objectCase struct {
	object string
	prog   string
	seed   func(put func(mapName string, key, value []byte))
	jumps  map[string]map[uint32]string // prog array -> slot -> program
	vars   map[string]any               // global variables set before loading
}

func u16le(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32le(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

var objectCases = []objectCase{
	{object: "globals", prog: "globals"},
	{object: "port", prog: "port_classifier", seed: func(put func(string, []byte, []byte)) {
		for i, port := range []uint16{80, 443, 53} {
			put("ports", u16le(port), append(u32le(0x10001+uint32(i)), make([]byte, 12)...))
		}
	}},
	{object: "lpm", prog: "lpm_acl", seed: func(put func(string, []byte, []byte)) {
		put("acl", append(u32le(8), 10, 0, 0, 0), u32le(0))
		put("acl", append(u32le(24), 10, 1, 2, 0), u32le(7))
		put("acl", append(u32le(32), 10, 1, 2, 3), u32le(0))
		put("acl", append(u32le(16), 192, 168, 0, 0), u32le(9))
	}},
	{object: "tailcall", prog: "tail_entry", jumps: map[string]map[uint32]string{
		"jumps": {1: "tail_tcp", 2: "tail_other", 3: "tail_last"},
	}},
	{object: "progarray", prog: "dispatch"},
	{object: "nat", prog: "nat"},
	{object: "nat", prog: "nat", vars: map[string]any{"new_addr": uint32(0xc0a80101), "new_port": uint16(53)}},
	{object: "sections", prog: "act"},
	{object: "sections", prog: "tcx_in"},
	{object: "vlan", prog: "vlan"},
	{object: "events", prog: "events_out"},
	{object: "elfmap", prog: "count"},
	{object: "trace", prog: "trace"},
	{object: "mapinmap", prog: "per_tenant"},
}

// corpusTCP is an Ethernet + IPv4 + TCP frame from src to 192.168.7.1,
// port dport, with n bytes of payload.
func corpusTCP(dport uint16, src [4]byte, n int) []byte {
	f := make([]byte, 54+n)
	copy(f, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	copy(f[14:], []byte{0x45, 0, 0, byte(40 + n), 0, 1, 0x40, 0, 64, 6, 0, 0})
	copy(f[26:], src[:])
	copy(f[30:], []byte{192, 168, 7, 1})
	binary.BigEndian.PutUint16(f[34:], 40000)
	binary.BigEndian.PutUint16(f[36:], dport)
	f[46] = 0x50
	for i := range n {
		f[54+i] = byte(i * 7)
	}
	return f
}

// corpus is the packet corpus every object runs on.
func corpus() [][]byte {
	tcp := corpusTCP
	udp := func(dport uint16) []byte {
		f := tcp(dport, [4]byte{10, 1, 2, 3}, 0)[:42+8]
		f[23] = 17
		binary.BigEndian.PutUint16(f[38:], 16)
		return f
	}
	var out [][]byte
	out = append(out,
		tcp(80, [4]byte{10, 1, 2, 3}, 0),
		tcp(443, [4]byte{10, 1, 2, 9}, 26),
		tcp(22, [4]byte{10, 9, 9, 9}, 3),
		tcp(8080, [4]byte{192, 168, 3, 4}, 100),
		tcp(80, [4]byte{172, 16, 0, 1}, 1),
		udp(53),
		udp(5353),
	)
	icmp := tcp(0, [4]byte{10, 1, 2, 3}, 10)
	icmp[23] = 1
	out = append(out, icmp)
	opts := tcp(80, [4]byte{10, 1, 2, 3}, 4)
	opts[14] = 0x46 // IHL 6
	out = append(out, opts)
	arp := make([]byte, 42)
	copy(arp, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 6, 7, 8, 9, 10, 11, 0x08, 0x06})
	out = append(out, arp)
	out = append(out, tcp(80, [4]byte{10, 1, 2, 3}, 0)[:40]) // truncated TCP header
	v6 := make([]byte, 74)
	copy(v6, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60})
	out = append(out, v6)
	// Random IPv4 frames: TCP and UDP to a few ports from a few sources,
	// random lengths and payloads.
	r := rand.New(rand.NewPCG(7, 11))
	for range 24 {
		src := [4]byte{10, byte(r.IntN(3)), 2, byte(r.IntN(12))}
		if r.IntN(4) == 0 {
			src = [4]byte{192, 168, byte(r.IntN(256)), byte(r.IntN(256))}
		}
		ports := []uint16{80, 443, 53, 22, 8080, uint16(r.Uint32())}
		f := tcp(ports[r.IntN(len(ports))], src, r.IntN(120))
		for i := 54; i < len(f); i++ {
			f[i] = byte(r.Uint32())
		}
		if r.IntN(3) == 0 {
			f[23] = 17 // UDP
		}
		out = append(out, f)
	}
	return out
}

// ctxFor is the __sk_buff passed in with frame i.
func ctxFor(i int) (mark, prio uint32, cb [5]uint32) {
	mark, prio = uint32(i*7+1), uint32(i)
	for c := range cb {
		cb[c] = uint32(i*10 + c)
	}
	return
}

// testRunPacket is the packet BPF_PROG_TEST_RUN builds from a frame on
// the loopback device (net/bpf/test_run.c): pkt_type from the destination
// MAC against lo's all-zero address, egress (tc_at_ingress unset).
func testRunPacket(t *testing.T, frame []byte) *packet.Packet {
	var p packet.Packet
	require.NoError(t, p.SetFrame(frame))
	switch {
	case frame[0]|frame[1]|frame[2]|frame[3]|frame[4]|frame[5] == 0:
		p.PktType = packet.Host
	case frame[0]&1 != 0:
		p.PktType = packet.Multicast
	default:
		p.PktType = packet.OtherHost
	}
	p.Direction = packet.Egress
	return &p
}

// kernelObject loads an object's programs into the kernel with
// cilium/ebpf, with iproute2's map definition tail and pinning dropped
// (the kernel knows neither).
func kernelObject(t *testing.T, path string) *cebpf.Collection { return kernelObjectVars(t, path, nil) }

// kernelObjectB is kernelObject for benchmarks.
func kernelObjectB(t testing.TB, path string) *cebpf.Collection {
	return kernelObjectVars(t, path, nil)
}

// kernelObjectVars is kernelObject with global variables set first.
func kernelObjectVars(t testing.TB, path string, vars map[string]any) *cebpf.Collection {
	spec, err := cebpf.LoadCollectionSpec(path)
	require.NoError(t, err)
	for name, v := range vars {
		require.Contains(t, spec.Variables, name)
		require.NoError(t, spec.Variables[name].Set(v))
	}
	for _, m := range spec.Maps {
		m.Extra, m.Pinning = nil, cebpf.PinNone
	}
	for _, p := range spec.Programs {
		p.Type = cebpf.SchedCLS
	}
	col, err := cebpf.NewCollection(spec)
	require.NoError(t, err)
	t.Cleanup(col.Close)
	return col
}

// dumpKernelMap returns a map's contents as sorted "key=value" hex lines.
func dumpKernelMap(t *testing.T, m *cebpf.Map) []string {
	var out []string
	var k, v []byte
	it := m.Iterate()
	for it.Next(&k, &v) {
		out = append(out, hex.EncodeToString(k)+"="+hex.EncodeToString(v))
	}
	require.NoError(t, it.Err())
	sort.Strings(out)
	return out
}

func dumpLibMap(t *testing.T, m *ebpf.Map) []string {
	var out []string
	var k, v []byte
	it := m.Iterate()
	for it.Next(&k, &v) {
		out = append(out, hex.EncodeToString(k)+"="+hex.EncodeToString(v))
	}
	require.NoError(t, it.Err())
	sort.Strings(out)
	return out
}

// dumpable reports whether a map's contents can be compared through the
// bpf(2) view on both sides.
func dumpable(typ cebpf.MapType) bool {
	switch typ {
	case cebpf.Hash, cebpf.Array, cebpf.LPMTrie, cebpf.LRUHash:
		return true
	}
	return false
}

// skipUnserved skips a case whose program needs what the library does
// not serve yet: a helper the default registry lacks, or a __sk_buff
// field the VM's context does not yet serve.
func skipUnserved(t *testing.T, err error) {
	var mh *ebpf.MissingHelperError
	if errors.As(err, &mh) {
		t.Skipf("the default helper registry lacks %s (%d): %v", mh.Name, mh.ID, err)
	}
	if err != nil && strings.Contains(err.Error(), "invalid bpf_context access") {
		t.Skipf("the VM's __sk_buff does not serve a field the program reads yet: %v", err)
	}
}

// TestObjectsAgainstKernel runs every test object through
// BPF_PROG_TEST_RUN and through the library on the same corpus with the
// same context in, and compares return values, output packets, the
// context out and the maps' contents afterwards, and the program tags.
func TestObjectsAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	for _, tc := range objectCases {
		name := tc.object + "/" + tc.prog
		if tc.vars != nil {
			name += "/variables"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.object+".o")
			spec, err := ebpf.LoadObjectFile(path)
			require.NoError(t, err)
			for name, v := range tc.vars {
				require.NoError(t, spec.SetVariable(name, v))
			}
			lib, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
			skipUnserved(t, err)
			require.NoError(t, err)
			kern := kernelObjectVars(t, path, tc.vars)

			for name, kp := range kern.Programs {
				info, err := kp.Info()
				require.NoError(t, err)
				tag := lib.Programs[name].Tag()
				assert.Equal(t, info.Tag, hex.EncodeToString(tag[:]), "tag of %s", name)
			}

			if tc.seed != nil {
				tc.seed(func(name string, k, v []byte) {
					require.NoError(t, kern.Maps[name].Put(k, v))
					require.NoError(t, lib.Maps[name].Put(k, v))
				})
			}
			for arr, slots := range tc.jumps {
				for slot, prog := range slots {
					require.NoError(t, kern.Maps[arr].Put(slot, kern.Programs[prog]))
					require.NoError(t, lib.Maps[arr].Put(slot, ebpf.TailCallTarget(lib.Programs[prog])))
				}
			}

			ev := newEventReaders(t, kern, lib)

			kprog, lprog := kern.Programs[tc.prog], lib.Programs[tc.prog]
			require.NotNil(t, kprog)
			require.NotNil(t, lprog)
			for i, frame := range corpus() {
				mark, prio, cb := ctxFor(i)
				var ctxIn, ctxOut [skbSize]byte
				binary.LittleEndian.PutUint32(ctxIn[skbMark:], mark)
				binary.LittleEndian.PutUint32(ctxIn[skbPriority:], prio)
				binary.LittleEndian.PutUint32(ctxIn[skbIfindex:], 1)
				for c := range cb {
					binary.LittleEndian.PutUint32(ctxIn[skbCB+4*c:], cb[c])
				}
				opts := cebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256), Context: ctxIn[:], ContextOut: ctxOut[:]}
				kret, err := kprog.Run(&opts)
				require.NoError(t, err, "frame %d", i)

				pkt := testRunPacket(t, frame)
				pkt.Mark, pkt.Priority, pkt.CB, pkt.Ifindex = mark, prio, cb, 1
				lret, err := lprog.RunChecked(pkt)
				if err != nil && strings.Contains(err.Error(), "not supported by this map type from programs") {
					t.Skipf("the helpers do not serve this map type from programs yet: %v", err)
				}
				require.NoError(t, err)

				what := fmt.Sprintf("frame %d %x", i, frame)
				assert.Equal(t, kret, lret, "retval, %s", what)
				assert.Equal(t, hex.EncodeToString(opts.DataOut), hex.EncodeToString(pkt.Bytes()), "packet out, %s", what)
				assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbMark:]), pkt.Mark, "mark out, %s", what)
				assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbPriority:]), pkt.Priority, "priority out, %s", what)
				for c := range 5 {
					assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbCB+4*c:]), pkt.CB[c], "cb[%d] out, %s", c, what)
				}
				assert.Equal(t, binary.LittleEndian.Uint64(ctxOut[skbTstamp:]), pkt.Tstamp, "tstamp out, %s", what)
			}

			ev.compare(t)
			for name, km := range kern.Maps {
				if !dumpable(km.Type()) {
					continue
				}
				assert.Equal(t, dumpKernelMap(t, km), dumpLibMap(t, lib.Maps[name]), "map %s after the corpus", name)
			}
		})
	}
}

// eventReaders read what programs emit to ring buffers and perf event
// arrays, on both sides.
type eventReaders struct {
	names  []string
	kring  []*ringbuf.Reader
	lring  []*ebpf.RingBufReader
	pnames []string
	kperf  []*perf.Reader
	lperf  []*ebpf.PerfReader
}

func newEventReaders(t *testing.T, kern *cebpf.Collection, lib *ebpf.Collection) *eventReaders {
	ev := &eventReaders{}
	for name, km := range kern.Maps {
		switch km.Type() {
		case cebpf.RingBuf:
			kr, err := ringbuf.NewReader(km)
			require.NoError(t, err)
			t.Cleanup(func() { kr.Close() })
			lr, err := ebpf.NewRingBufReader(lib.Maps[name])
			require.NoError(t, err)
			t.Cleanup(func() { lr.Close() })
			ev.names, ev.kring, ev.lring = append(ev.names, name), append(ev.kring, kr), append(ev.lring, lr)
		case cebpf.PerfEventArray:
			kr, err := perf.NewReader(km, 4096)
			require.NoError(t, err)
			t.Cleanup(func() { kr.Close() })
			lr, err := ebpf.NewPerfReader(lib.Maps[name], 4096)
			require.NoError(t, err)
			t.Cleanup(func() { lr.Close() })
			ev.pnames, ev.kperf, ev.lperf = append(ev.pnames, name), append(ev.kperf, kr), append(ev.lperf, lr)
		}
	}
	return ev
}

// compare drains every reader and compares the records, in order.
func (ev *eventReaders) compare(t *testing.T) {
	for i, name := range ev.names {
		var krec, lrec []string
		ev.kring[i].SetDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			r, err := ev.kring[i].Read()
			if err != nil {
				break
			}
			krec = append(krec, hex.EncodeToString(r.RawSample))
		}
		ev.lring[i].SetDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			r, err := ev.lring[i].Read()
			if err != nil {
				break
			}
			lrec = append(lrec, hex.EncodeToString(r.RawSample))
		}
		assert.NotEmpty(t, krec, "ring buffer %s: no records", name)
		assert.Equal(t, krec, lrec, "ring buffer %s records", name)
	}
	for i, name := range ev.pnames {
		var krec, lrec []string
		ev.kperf[i].SetDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			r, err := ev.kperf[i].Read()
			if err != nil {
				break
			}
			krec = append(krec, hex.EncodeToString(r.RawSample))
		}
		ev.lperf[i].SetDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			r, err := ev.lperf[i].Read()
			if err != nil {
				break
			}
			lrec = append(lrec, hex.EncodeToString(r.RawSample))
		}
		assert.NotEmpty(t, krec, "perf event array %s: no samples", name)
		assert.Equal(t, krec, lrec, "perf event array %s samples", name)
	}
}

// TestLicenseAgainstKernel loads the event producer, which calls the
// GPL-only bpf_perf_event_output, and the tracer (bpf_trace_printk) under
// several licenses: the kernel and the library must accept and refuse the
// same ones with the same errno.
func TestLicenseAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	for _, c := range []struct{ object, prog, license string }{
		{"events", "events_out", "GPL"},
		{"events", "events_out", "Dual BSD/GPL"},
		{"events", "events_out", "GPL v2"},
		{"events", "events_out", "MIT"},
		{"events", "events_out", "Proprietary"},
		{"events", "events_out", ""},
		{"trace", "trace", "GPL"},
		{"trace", "trace", "BSD"},
		{"globals", "globals", "BSD"},
	} {
		path := filepath.Join("testdata", c.object+".o")
		license := c.license
		t.Run(c.object+"/"+license, func(t *testing.T) {
			kspec, err := cebpf.LoadCollectionSpec(path)
			require.NoError(t, err)
			kspec.Programs[c.prog].License = license
			kcol, kerr := cebpf.NewCollection(kspec)
			if kerr == nil {
				kcol.Close()
			}
			spec, err := ebpf.LoadObjectFile(path)
			require.NoError(t, err)
			spec.Programs[c.prog].License = license
			_, lerr := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
			if kerr == nil {
				assert.NoError(t, lerr)
				return
			}
			var errno syscall.Errno
			require.ErrorAs(t, kerr, &errno, "kernel: %v", kerr)
			assert.ErrorIs(t, lerr, errno, "kernel: %v", kerr)
		})
	}
}
