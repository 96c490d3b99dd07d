//go:build linux

package ebpf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// testRunCase is one generated BPF_PROG_TEST_RUN.
type testRunCase struct {
	data    []byte
	dataOut int // -1: nil
	ctxIn   []byte
	ctxOut  int // -1: nil
	repeat  uint32
	flags   uint32
	cpu     uint32
}

func (c testRunCase) String() string {
	return fmt.Sprintf("data %d out %d ctx %d/%d repeat %d flags %d cpu %d",
		len(c.data), c.dataOut, len(c.ctxIn), c.ctxOut, c.repeat, c.flags, c.cpu)
}

// genFrame makes a frame of a random protocol and length, sometimes
// shorter than the protocol's header.
func genFrame(r *rand.Rand) []byte {
	dsts := [][6]byte{
		{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x5e, 0, 0, 1},
		{0x02, 0, 0, 0, 0, 0x11}, {0x02, 0, 0, 0, 0, 0x22},
	}
	type proto struct {
		et  uint16
		min int
	}
	protos := []proto{{0x0800, 34}, {0x86dd, 54}, {0x0806, 14}, {0x8100, 18}, {0x0001, 14}, {0x88cc, 14}}
	p := protos[r.IntN(len(protos))]
	n := p.min + r.IntN(80)
	switch r.IntN(8) {
	case 0:
		n = p.min - 1 - r.IntN(3)
	case 1:
		n = r.IntN(20)
	case 2:
		n = ebpf.TestRunMaxData - 1 + r.IntN(3)
	}
	n = max(n, 0)
	f := make([]byte, n)
	for i := range f {
		f[i] = byte(r.Uint32())
	}
	if n >= 14 {
		d := dsts[r.IntN(len(dsts))]
		copy(f, d[:])
		binary.BigEndian.PutUint16(f[12:], p.et)
	}
	return f
}

// genCtx makes a __sk_buff for ctx_in: mostly fields a test run accepts,
// sometimes a byte it does not, an out-of-range value or an odd length.
func genCtx(r *rand.Rand, frameLen int, veth uint32) []byte {
	c := make([]byte, ebpf.SkbContextSize)
	le := binary.LittleEndian
	if r.IntN(2) == 0 {
		le.PutUint32(c[uapi.SKB_OFF_MARK:], r.Uint32())
	}
	if r.IntN(2) == 0 {
		le.PutUint32(c[uapi.SKB_OFF_PRIORITY:], r.Uint32())
	}
	if r.IntN(3) == 0 {
		le.PutUint32(c[uapi.SKB_OFF_INGRESS_IFINDEX:], r.Uint32N(5))
	}
	switch r.IntN(6) {
	case 0:
		le.PutUint32(c[uapi.SKB_OFF_IFINDEX:], 1)
	case 1:
		le.PutUint32(c[uapi.SKB_OFF_IFINDEX:], veth)
	case 2:
		le.PutUint32(c[uapi.SKB_OFF_IFINDEX:], 77)
	}
	for i := range 5 {
		if r.IntN(2) == 0 {
			le.PutUint32(c[uapi.SKB_OFF_CB+4*i:], r.Uint32())
		}
	}
	if r.IntN(3) == 0 {
		le.PutUint64(c[uapi.SKB_OFF_TSTAMP:], r.Uint64())
	}
	switch r.IntN(6) {
	case 0:
		le.PutUint32(c[uapi.SKB_OFF_WIRE_LEN:], uint32(frameLen))
	case 1:
		le.PutUint32(c[uapi.SKB_OFF_WIRE_LEN:], uint32(frameLen)+r.Uint32N(2000))
	case 2:
		le.PutUint32(c[uapi.SKB_OFF_WIRE_LEN:], uint32(max(frameLen-1, 0)))
	case 3:
		le.PutUint32(c[uapi.SKB_OFF_WIRE_LEN:], 65536+r.Uint32N(2))
	}
	switch r.IntN(5) {
	case 0:
		le.PutUint32(c[uapi.SKB_OFF_GSO_SEGS:], r.Uint32N(65537))
	case 1:
		le.PutUint32(c[uapi.SKB_OFF_GSO_SEGS:], 65535+r.Uint32N(2))
	}
	if r.IntN(3) == 0 {
		le.PutUint32(c[uapi.SKB_OFF_GSO_SIZE:], r.Uint32())
	}
	if r.IntN(3) == 0 {
		le.PutUint64(c[uapi.SKB_OFF_HWTSTAMP:], r.Uint64())
	}
	if r.IntN(8) == 0 {
		c[r.IntN(len(c))] = byte(1 + r.IntN(255))
	}
	switch r.IntN(10) {
	case 0:
		c = c[:r.IntN(len(c))]
	case 1:
		c = append(c, make([]byte, 1+r.IntN(16))...)
	case 2:
		c = append(c, make([]byte, 1+r.IntN(16))...)
		c[len(c)-1] = 1
	}
	return c
}

func genCase(r *rand.Rand, veth uint32) testRunCase {
	c := testRunCase{data: genFrame(r), dataOut: -1, ctxOut: -1}
	switch r.IntN(5) {
	case 0:
	case 1:
		c.dataOut = len(c.data)
	case 2:
		c.dataOut = max(len(c.data)-1-r.IntN(4), 1)
	default:
		c.dataOut = len(c.data) + 64
	}
	if r.IntN(3) != 0 {
		c.ctxIn = genCtx(r, len(c.data), veth)
	}
	switch r.IntN(6) {
	case 0:
	case 1:
		c.ctxOut = 1 + r.IntN(ebpf.SkbContextSize-1)
	default:
		c.ctxOut = ebpf.SkbContextSize
	}
	switch r.IntN(6) {
	case 0:
		c.repeat = 1 + r.Uint32N(5)
	case 1:
		c.repeat = 0
	default:
		c.repeat = 1
	}
	switch r.IntN(30) {
	case 0:
		c.flags = 1 + r.Uint32N(2)
	case 1:
		c.cpu = 1
	}
	return c
}

// testRunResult is one side's outcome of a case.
type testRunResult struct {
	errno   syscall.Errno
	ret     uint32
	dataOut []byte
	ctxOut  []byte
}

func errnoOf(t *testing.T, err error) syscall.Errno {
	t.Helper()
	if err == nil {
		return 0
	}
	var e syscall.Errno
	require.True(t, errors.As(err, &e), "no errno in %v", err)
	return e
}

// TestTestRunAgainstKernel runs generated BPF_PROG_TEST_RUN cases, valid
// and invalid (short and long data, IPv4/IPv6 frames under their
// minimum, ctx_in with forbidden bytes, odd lengths, bad wire_len and
// gso_segs, unknown ifindex, short data_out and ctx_out, repeat, flags,
// cpu), through the kernel's BPF_PROG_TEST_RUN (cilium/ebpf Program.Run)
// in a network namespace holding lo and a veth of a known address, and
// through Program.TestRun with the same device table: the errno, return
// value, data_out and ctx_out must agree byte for byte.
//
// Known differences left out of the programs: the kernel hands a test
// run a dummy socket (sk non-NULL) where the library has none, and without
// any ctx the kernel's wire_len reads 0 while the library's reads the
// frame length.
func TestTestRunAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "address", "02:00:00:00:00:11", "type", "veth", "peer", "name", "veth1")
	veth := ns.Ifindex(t, "veth0")
	devices := map[uint32]ebpf.TestDevice{
		uint32(veth): {Addr: [6]byte{2, 0, 0, 0, 0, 0x11}, Broadcast: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}

	type pair struct {
		name string
		k    *cebpf.Program
		l    *ebpf.Program
	}
	var progs []pair
	for name, insns := range testRunPrograms {
		var ki asm.Instructions
		rd := bytes.NewReader(rawCode(insns))
		for rd.Len() > 0 {
			var in asm.Instruction
			require.NoError(t, in.Unmarshal(rd, binary.LittleEndian, "linux"), name)
			ki = append(ki, in)
		}
		kp, err := cebpf.NewProgram(&cebpf.ProgramSpec{Name: name, Type: cebpf.SchedCLS, License: "GPL", Instructions: ki})
		require.NoError(t, err, name)
		t.Cleanup(func() { kp.Close() })
		lp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: name, Type: ebpf.SchedCLS, License: "GPL", Instructions: insns}, ebpf.ProgramOptions{})
		require.NoError(t, err, name)
		progs = append(progs, pair{name, kp, lp})
	}

	n := 3000
	if testing.Short() {
		n = 300
	}
	r := rand.New(rand.NewPCG(7, 17))
	errnos := map[syscall.Errno]int{}
	for i := range n {
		pr := progs[r.IntN(len(progs))]
		c := genCase(r, uint32(veth))
		run := func(do func(o *cebpf.RunOptions) (uint32, error)) testRunResult {
			o := cebpf.RunOptions{Data: c.data, Repeat: c.repeat, Flags: c.flags, CPU: c.cpu}
			if c.dataOut >= 0 {
				o.DataOut = make([]byte, c.dataOut)
			}
			if c.ctxIn != nil {
				o.Context = c.ctxIn
			}
			var ctxOut []byte
			if c.ctxOut >= 0 {
				ctxOut = make([]byte, c.ctxOut)
				o.ContextOut = ctxOut
			}
			full := o.DataOut[:cap(o.DataOut)]
			ret, err := do(&o)
			res := testRunResult{errno: errnoOf(t, err), ctxOut: ctxOut}
			if err == nil {
				res.ret = ret
				res.dataOut = o.DataOut
			} else if res.errno == syscall.ENOSPC {
				res.dataOut = full
			}
			return res
		}
		var kr testRunResult
		require.NoError(t, ns.Do(func() error {
			kr = run(pr.k.Run)
			return nil
		}))
		lr := run(func(o *cebpf.RunOptions) (uint32, error) {
			lo := ebpf.RunOptions{Data: o.Data, DataOut: o.DataOut, Context: o.Context, ContextOut: o.ContextOut,
				Repeat: o.Repeat, Flags: o.Flags, CPU: o.CPU, Devices: devices}
			ret, err := pr.l.TestRun(&lo)
			o.DataOut = lo.DataOut
			return ret, err
		})
		errnos[kr.errno]++
		require.Equal(t, kr, lr, "case %d: %s: %s", i, pr.name, c)
	}
	t.Logf("%d cases, errnos %v", n, errnos)
}
