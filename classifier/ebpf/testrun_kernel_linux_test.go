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

// ins builds one instruction slot.
func ins(op, dst, src uint8, off int16, imm int32) ebpf.Instruction {
	return ebpf.Instruction{Op: op, Dst: dst, Src: src, Off: off, Imm: imm}
}

// readField returns a program that returns the __sk_buff field at off
// (size 4 or 8; an 8-byte field returns its low half).
func readField(off int16, size int) []ebpf.Instruction {
	op := uint8(0x61) // ldxw
	if size == 8 {
		op = 0x79 // ldxdw
	}
	return []ebpf.Instruction{
		ins(op, 0, 1, off, 0), // r0 = *(uN *)(r1 + off)
		ins(0x95, 0, 0, 0, 0), // exit
	}
}

// testRunPrograms are the programs of the test-run differential: readers
// of every field the kernel hands a test-run program (but wire_len and
// sk, see TestTestRunAgainstKernel), a writer of the writable fields and
// the packet, and one that grows the packet.
var testRunPrograms = func() map[string][]ebpf.Instruction {
	progs := map[string][]ebpf.Instruction{}
	for name, f := range map[string]struct {
		off  int16
		size int
	}{
		"len":             {uapi.SKB_OFF_LEN, 4},
		"pkt_type":        {uapi.SKB_OFF_PKT_TYPE, 4},
		"mark":            {uapi.SKB_OFF_MARK, 4},
		"queue_mapping":   {uapi.SKB_OFF_QUEUE_MAPPING, 4},
		"protocol":        {uapi.SKB_OFF_PROTOCOL, 4},
		"vlan_present":    {uapi.SKB_OFF_VLAN_PRESENT, 4},
		"priority":        {uapi.SKB_OFF_PRIORITY, 4},
		"ingress_ifindex": {uapi.SKB_OFF_INGRESS_IFINDEX, 4},
		"ifindex":         {uapi.SKB_OFF_IFINDEX, 4},
		"tc_index":        {uapi.SKB_OFF_TC_INDEX, 4},
		"cb0":             {uapi.SKB_OFF_CB, 4},
		"cb4":             {uapi.SKB_OFF_CB + 16, 4},
		"hash":            {uapi.SKB_OFF_HASH, 4},
		"tc_classid":      {uapi.SKB_OFF_TC_CLASSID, 4},
		"napi_id":         {uapi.SKB_OFF_NAPI_ID, 4},
		"gso_segs":        {uapi.SKB_OFF_GSO_SEGS, 4},
		"gso_size":        {uapi.SKB_OFF_GSO_SIZE, 4},
		"tstamp":          {uapi.SKB_OFF_TSTAMP, 8},
		"hwtstamp":        {uapi.SKB_OFF_HWTSTAMP, 8},
	} {
		progs["read_"+name] = readField(f.off, f.size)
	}
	progs["data_len"] = []ebpf.Instruction{
		ins(0x61, 2, 1, uapi.SKB_OFF_DATA, 0),     // r2 = skb->data
		ins(0x61, 0, 1, uapi.SKB_OFF_DATA_END, 0), // r0 = skb->data_end
		ins(0x1f, 0, 2, 0, 0),                     // r0 -= r2
		ins(0x95, 0, 0, 0, 0),                     // exit
	}
	progs["write"] = []ebpf.Instruction{
		ins(0x61, 2, 1, uapi.SKB_OFF_MARK, 0),          // r2 = skb->mark
		ins(0x07, 2, 0, 0, 1),                          // r2 += 1
		ins(0x63, 1, 2, uapi.SKB_OFF_MARK, 0),          // skb->mark = r2
		ins(0xb7, 3, 0, 0, 7),                          // r3 = 7
		ins(0x63, 1, 3, uapi.SKB_OFF_PRIORITY, 0),      // skb->priority = r3
		ins(0x63, 1, 3, uapi.SKB_OFF_TC_CLASSID, 0),    // skb->tc_classid = r3
		ins(0x63, 1, 3, uapi.SKB_OFF_TC_INDEX, 0),      // skb->tc_index = r3
		ins(0x63, 1, 3, uapi.SKB_OFF_QUEUE_MAPPING, 0), // skb->queue_mapping = r3
		ins(0x63, 1, 2, uapi.SKB_OFF_CB+8, 0),          // skb->cb[2] = r2
		ins(0x7b, 1, 3, uapi.SKB_OFF_TSTAMP, 0),        // skb->tstamp = r3
		ins(0x61, 4, 1, uapi.SKB_OFF_DATA, 0),          // r4 = skb->data
		ins(0x61, 5, 1, uapi.SKB_OFF_DATA_END, 0),      // r5 = skb->data_end
		ins(0xbf, 6, 4, 0, 0),                          // r6 = r4
		ins(0x07, 6, 0, 0, 14),                         // r6 += 14
		ins(0x2d, 6, 5, 3, 0),                          // if r6 > r5 goto +3
		ins(0x71, 7, 4, 13, 0),                         // r7 = *(u8 *)(r4 + 13)
		ins(0xa7, 7, 0, 0, 0x5a),                       // r7 ^= 0x5a
		ins(0x73, 4, 7, 13, 0),                         // *(u8 *)(r4 + 13) = r7
		ins(0xb7, 0, 0, 0, 7),                          // r0 = 7
		ins(0x95, 0, 0, 0, 0),                          // exit
	}
	progs["grow"] = []ebpf.Instruction{
		ins(0x61, 2, 1, uapi.SKB_OFF_LEN, 0), // r2 = skb->len
		ins(0x07, 2, 0, 0, 10),               // r2 += 10
		ins(0xb7, 3, 0, 0, 0),                // r3 = 0
		ins(0x85, 0, 0, 0, 38),               // call bpf_skb_change_tail
		ins(0x95, 0, 0, 0, 0),                // exit
	}
	return progs
}()

func rawCode(insns []ebpf.Instruction) []byte {
	var b []byte
	for _, in := range insns {
		b = append(b, in.Op, in.Dst&0xf|in.Src<<4)
		b = binary.LittleEndian.AppendUint16(b, uint16(in.Off))
		b = binary.LittleEndian.AppendUint32(b, uint32(in.Imm))
	}
	return b
}

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
