package ebpf_test

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

func testRunProgram(tb testing.TB, name string) *ebpf.Program {
	tb.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: name, Type: ebpf.SchedCLS, License: "GPL", Instructions: testRunPrograms[name]}, ebpf.ProgramOptions{})
	require.NoError(tb, err)
	return p
}

func frameTo(dst [6]byte, et uint16, n int) []byte {
	f := make([]byte, n)
	copy(f, dst[:])
	binary.BigEndian.PutUint16(f[12:], et)
	return f
}

// TestTestRunSpec checks the values §3.6 of the spec states for
// BPF_PROG_TEST_RUN on Linux 6.18.
func TestTestRunSpec(t *testing.T) {
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	veth := ebpf.TestDevice{Addr: [6]byte{2, 0, 0, 0, 0, 1}, Broadcast: bcast}
	ctxIfindex := func(ix uint32) []byte {
		c := make([]byte, ebpf.SkbContextSize)
		binary.LittleEndian.PutUint32(c[uapi.SKB_OFF_IFINDEX:], ix)
		return c
	}
	for _, tc := range []struct {
		name  string
		prog  string
		data  []byte
		ctx   []byte
		want  uint32
		errno syscall.Errno
	}{
		{"lo zero dst is host", "read_pkt_type", frameTo([6]byte{}, 0x0806, 14), nil, 0, 0},
		{"lo broadcast is multicast", "read_pkt_type", frameTo(bcast, 0x0806, 14), nil, 2, 0},
		{"lo ipv4 multicast", "read_pkt_type", frameTo([6]byte{1, 0, 0x5e, 0, 0, 1}, 0x0806, 14), nil, 2, 0},
		{"lo other unicast", "read_pkt_type", frameTo([6]byte{2}, 0x0806, 14), nil, 3, 0},
		{"veth own address", "read_pkt_type", frameTo(veth.Addr, 0x0806, 14), ctxIfindex(5), 0, 0},
		{"veth broadcast", "read_pkt_type", frameTo(bcast, 0x0806, 14), ctxIfindex(5), 1, 0},
		{"unknown ifindex", "read_pkt_type", frameTo(bcast, 0x0806, 14), ctxIfindex(6), 0, syscall.ENODEV},
		{"ipv4 protocol", "read_protocol", frameTo([6]byte{}, 0x0800, 34), nil, 0x0008, 0},
		{"ipv6 protocol", "read_protocol", frameTo([6]byte{}, 0x86dd, 54), nil, 0xdd86, 0},
		{"vlan protocol", "read_protocol", frameTo([6]byte{}, 0x8100, 18), nil, 0x0081, 0},
		{"802.3 length", "read_protocol", frameTo([6]byte{}, 0x0001, 20), nil, 0x0400, 0},
		{"ipv4 short", "read_protocol", frameTo([6]byte{}, 0x0800, 33), nil, 0, syscall.EINVAL},
		{"ipv6 short", "read_protocol", frameTo([6]byte{}, 0x86dd, 53), nil, 0, syscall.EINVAL},
		{"13 bytes", "read_protocol", make([]byte, 13), nil, 0, syscall.EINVAL},
		{"default ifindex", "read_ifindex", frameTo([6]byte{}, 0x0806, 14), nil, 1, 0},
		{"data_end - data", "data_len", frameTo([6]byte{}, 0x0806, 60), nil, 60, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testRunProgram(t, tc.prog)
			opts := &ebpf.RunOptions{Data: tc.data, Devices: map[uint32]ebpf.TestDevice{5: veth}}
			if tc.ctx != nil {
				opts.Context = tc.ctx
			}
			ret, err := p.TestRun(opts)
			if tc.errno != 0 {
				require.ErrorIs(t, err, tc.errno)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ret)
		})
	}
}

// TestTestRunContextOut checks ctx_out: gso_size echoed from ctx_in,
// the fields the program wrote but the kernel does not hand back left
// zero, mark counting the repeats.
func TestTestRunContextOut(t *testing.T) {
	p := testRunProgram(t, "write")
	in := ebpf.SkbContext{Mark: 10, GSOSize: 0x12345, WireLen: 100}
	var out ebpf.SkbContext
	frame := frameTo([6]byte{}, 0x0806, 60)
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, 100), Context: &in, ContextOut: &out, Repeat: 3}
	ret, err := p.TestRun(opts)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), ret)
	assert.Equal(t, uint32(13), out.Mark)
	assert.Equal(t, uint32(7), out.Priority)
	assert.Equal(t, uint32(0x12345), out.GSOSize)
	assert.Equal(t, uint32(100), out.WireLen)
	assert.Equal(t, uint32(1), out.Ifindex)
	assert.Zero(t, out.TCClassID)
	assert.Zero(t, out.TCIndex)
	assert.Zero(t, out.QueueMapping)
	assert.Equal(t, uint64(7), out.Tstamp)
	require.Len(t, opts.DataOut, 60)
	assert.Equal(t, byte(0x06^0x5a^0x5a^0x5a), opts.DataOut[13])

	short := make([]byte, 59)
	_, err = p.TestRun(&ebpf.RunOptions{Data: frame, DataOut: short})
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, frame[:12], short[:12])
}

// FuzzTestRun runs the field readers and the writer on arbitrary data
// and contexts: TestRun must return a value or an errno, never panic.
func FuzzTestRun(f *testing.F) {
	f.Add(frameTo([6]byte{}, 0x0800, 34), make([]byte, 192), uint8(0), uint32(1))
	f.Add(frameTo([6]byte{0xff}, 0x86dd, 60), []byte{8: 1}, uint8(1), uint32(0))
	f.Add([]byte{1, 2, 3}, []byte(nil), uint8(2), uint32(2))
	names := []string{"read_pkt_type", "write", "grow", "data_len", "read_gso_size"}
	progs := make([]*ebpf.Program, len(names))
	for i, n := range names {
		progs[i] = testRunProgram(f, n)
	}
	f.Fuzz(func(t *testing.T, data, ctx []byte, prog uint8, repeat uint32) {
		opts := &ebpf.RunOptions{Data: data, DataOut: make([]byte, len(data)+int(prog)), ContextOut: make([]byte, 192), Repeat: repeat % 4}
		if ctx != nil {
			opts.Context = ctx
		}
		_, err := progs[int(prog)%len(progs)].TestRun(opts)
		if err != nil {
			var errno syscall.Errno
			require.ErrorAs(t, err, &errno)
		}
	})
}

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

// BenchmarkTestRun runs the writer program through TestRun with data and
// context out, as a test would call it.
func BenchmarkTestRun(b *testing.B) {
	p := testRunProgram(b, "write")
	frame := frameTo([6]byte{}, 0x0800, 64)
	out := make([]byte, 128)
	ctxOut := make([]byte, ebpf.SkbContextSize)
	b.ReportAllocs()
	for b.Loop() {
		opts := ebpf.RunOptions{Data: frame, DataOut: out, ContextOut: ctxOut}
		if _, err := p.TestRun(&opts); err != nil {
			b.Fatal(err)
		}
	}
}
