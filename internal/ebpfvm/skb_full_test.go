package ebpfvm_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// skbCtxIn is the __sk_buff the differential tests pass to
// BPF_PROG_TEST_RUN: every field it accepts set to a recognisable value.
func skbCtxIn() *[kerneltest.SkbCtxSize]byte {
	var c [kerneltest.SkbCtxSize]byte
	le := binary.LittleEndian
	le.PutUint32(c[uapi.SKB_OFF_MARK:], 0x11223344)
	le.PutUint32(c[uapi.SKB_OFF_PRIORITY:], 0xabcdef01)
	le.PutUint32(c[uapi.SKB_OFF_INGRESS_IFINDEX:], 0x55)
	le.PutUint32(c[uapi.SKB_OFF_IFINDEX:], 1)
	for i := 0; i < 5; i++ {
		le.PutUint32(c[uapi.SKB_OFF_CB+4*i:], 0x01020304*uint32(i+1))
	}
	le.PutUint64(c[uapi.SKB_OFF_TSTAMP:], 0x0102030405060708)
	le.PutUint32(c[uapi.SKB_OFF_WIRE_LEN:], 0x1f0)
	le.PutUint32(c[uapi.SKB_OFF_GSO_SEGS:], 0x1234)
	le.PutUint32(c[uapi.SKB_OFF_GSO_SIZE:], 0x2345)
	le.PutUint64(c[uapi.SKB_OFF_HWTSTAMP:], 0x1122334455667788)
	return &c
}

// testRunPacket builds the packet BPF_PROG_TEST_RUN builds from frame and
// ctx (net/bpf/test_run.c, on the loopback device, whose address and
// broadcast address are all zero): pkt_type from the destination MAC,
// the accepted ctx_in fields, egress (tc_at_ingress is not set).
func testRunPacket(t testing.TB, frame []byte, ctx *[kerneltest.SkbCtxSize]byte) *packet.Packet {
	t.Helper()
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
	p.Ifindex = 1
	if ctx != nil {
		le := binary.LittleEndian
		p.Mark = le.Uint32(ctx[uapi.SKB_OFF_MARK:])
		p.Priority = le.Uint32(ctx[uapi.SKB_OFF_PRIORITY:])
		p.IngressIfindex = le.Uint32(ctx[uapi.SKB_OFF_INGRESS_IFINDEX:])
		p.Ifindex = le.Uint32(ctx[uapi.SKB_OFF_IFINDEX:])
		for i := range p.CB {
			p.CB[i] = le.Uint32(ctx[uapi.SKB_OFF_CB+4*i:])
		}
		p.Tstamp = le.Uint64(ctx[uapi.SKB_OFF_TSTAMP:])
		p.WireLen = le.Uint32(ctx[uapi.SKB_OFF_WIRE_LEN:])
		p.GSOSegs = uint16(le.Uint32(ctx[uapi.SKB_OFF_GSO_SEGS:]))
		p.GSOSize = uint16(le.Uint32(ctx[uapi.SKB_OFF_GSO_SIZE:]))
		p.HWTstamp = le.Uint64(ctx[uapi.SKB_OFF_HWTSTAMP:])
	}
	return &p
}

// skbFrames are frames with different EtherTypes and destination kinds.
func skbFrames() [][]byte {
	v4 := frame64()
	bcast := frame64()
	copy(bcast, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	zero := frame64()
	copy(zero, make([]byte, 6))
	v6 := make([]byte, 74)
	copy(v6, []byte{0x33, 0x33, 0, 0, 0, 1, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60})
	v6[18], v6[19], v6[20], v6[21] = 0, 20, 17, 64
	arp := make([]byte, 42)
	copy(arp, []byte{1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1})
	return [][]byte{v4, bcast, zero, v6, arp}
}

// ctxReadProgram reads size bytes at off of the context into R0 and folds
// an 8-byte value into 32 bits.
func ctxReadProgram(off int16, size uint8) []I {
	return []I{
		mov64K(0, 0),         // r0 = 0
		ldx(size, 0, 1, off), // r0 = *(size *)(r1 + off)
		mov64X(2, 0),         // r2 = r0
		aluK(uapi.BPF_ALU64, uapi.BPF_RSH, 2, 32),                        // r2 >>= 32
		{Op: uapi.BPF_ALU64 | uapi.BPF_XOR | uapi.BPF_X, Dst: 0, Src: 2}, // r0 ^= r2
		exit(), // exit
	}
}

// TestSkbReadsLikeKernel reads every size at every offset of the context
// on several frames with every ctx_in field set, through
// BPF_PROG_TEST_RUN and the VM: both accept the same accesses and read the
// same values. Only data, data_end and data_meta (pointers) and sk (the
// kernel's dummy socket, NULL here) are not compared by value.
func TestSkbReadsLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	sizes := map[uint8]int16{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}
	ctx := skbCtxIn()
	var accepted, compared int
	for size, n := range sizes {
		for off := int16(0); off < uapi.SK_BUFF_CTX_SIZE; off += n {
			name := fmt.Sprintf("ldx/%d/%d", n, off)
			prog := ctxReadProgram(off, size)
			if off >= uapi.SKB_OFF_SK && off < uapi.SKB_OFF_SK+8 {
				// The kernel refuses arithmetic on the socket pointer.
				prog = []I{ldx(size, 0, 1, off), exit()} // r0 = skb->sk; exit
			}
			vp, verr := ebpfvm.Load(prog, ebpfvm.Options{})
			kp, kerr := kerneltest.LoadSchedCLS(ebpfvm.Encode(prog))
			if kerr != nil {
				assert.Error(t, verr, "%s: the VM accepts what the kernel refuses (%v)", name, kerr)
				continue
			}
			if !assert.NoError(t, verr, "%s: the kernel accepts", name) {
				kp.Close()
				continue
			}
			accepted++
			ptr := off >= uapi.SKB_OFF_DATA && off < uapi.SKB_OFF_DATA_END+4 ||
				off >= uapi.SKB_OFF_DATA_META && off < uapi.SKB_OFF_DATA_META+4 ||
				off >= uapi.SKB_OFF_SK && off < uapi.SKB_OFF_SK+8
			for fi, f := range skbFrames() {
				kres, err := kp.RunCtx(f, ctx)
				require.NoError(t, err, name)
				got, err := vp.Run(testRunPacket(t, f, ctx))
				require.NoError(t, err, name)
				if !ptr {
					assert.Equal(t, kres.Ret, uint32(got), "%s frame %d", name, fi)
					compared++
				}
			}
			kp.Close()
		}
	}
	t.Logf("%d accepted reads, %d values compared with the kernel", accepted, compared)
	assert.Greater(t, compared, 300)
}

// TestSkbAccessPermissionsLikeKernel tries every offset and size with
// STX, ST and atomic add: the VM accepts exactly what the kernel accepts.
func TestSkbAccessPermissionsLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	sizes := []uint8{uapi.BPF_B, uapi.BPF_H, uapi.BPF_W, uapi.BPF_DW}
	var same int
	for _, kind := range []string{"stx", "st", "atomic"} {
		for _, size := range sizes {
			for off := int16(-8); off < uapi.SK_BUFF_CTX_SIZE+8; off++ {
				prog := ctxAccessProgram(kind, off, size)
				_, verr := ebpfvm.Load(prog, ebpfvm.Options{})
				kp, kerr := kerneltest.LoadSchedCLS(ebpfvm.Encode(prog))
				if kerr == nil {
					kp.Close()
				}
				assert.Equal(t, kerr == nil, verr == nil, "%s/%d/%d: kernel %v, VM %v", kind, size, off, kerr, verr)
				same++
			}
		}
	}
	t.Logf("%d accesses decided as the kernel decides", same)
}

// TestSkbWritesLikeKernel writes the writable fields with STX and ST and
// reads them back: the value read, mark, priority, cb[] and tstamp in
// ctx_out match the kernel.
func TestSkbWritesLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	type wr struct {
		off  int16
		size uint8
		val  int64
	}
	var cases []wr
	for _, v := range []int64{0, 1, 0x5d, 0x7fff, 0xfffe, 0xffff, 0x10005, 0x12345, 0xabcde, 0x7fffffff, -1, -2, -0x10000, 0x1_0000_0005, 0xffffffff} {
		for _, off := range []int16{uapi.SKB_OFF_MARK, uapi.SKB_OFF_PRIORITY, uapi.SKB_OFF_TC_INDEX, uapi.SKB_OFF_TC_CLASSID, uapi.SKB_OFF_QUEUE_MAPPING} {
			cases = append(cases, wr{off, uapi.BPF_W, v})
		}
		cases = append(cases, wr{uapi.SKB_OFF_TSTAMP, uapi.BPF_DW, v}, wr{uapi.SKB_OFF_CB + 8, uapi.BPF_DW, v}, wr{uapi.SKB_OFF_CB + 3, uapi.BPF_B, v})
	}
	ctx := skbCtxIn()
	var runs int
	for _, c := range cases {
		for _, kind := range []string{"stx", "st"} {
			name := fmt.Sprintf("%s/%d/%d/%#x", kind, c.size, c.off, c.val)
			readBack := ldx(uapi.BPF_W, 0, 6, c.off&^3) // r0 = 4-byte field
			if c.size == uapi.BPF_DW {
				readBack = ldx(uapi.BPF_DW, 0, 6, c.off) // r0 = 8-byte field
			}
			prog := []I{
				mov64X(6, 1), // r6 = r1
				{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: 2, Imm: int32(c.val)}, // r2 = val (low)
				{Imm: int32(c.val >> 32)}, // (high)
			}
			if kind == "stx" {
				prog = append(prog, stx(c.size, 6, 2, c.off)) // *(size *)(r6 + off) = r2
			} else {
				if c.val != int64(int32(c.val)) {
					continue
				}
				prog = append(prog, st(c.size, 6, c.off, int32(c.val))) // *(size *)(r6 + off) = imm
			}
			prog = append(prog,
				readBack,     // r0 = field
				mov64X(2, 0), // r2 = r0
				aluK(uapi.BPF_ALU64, uapi.BPF_RSH, 2, 32),                         // r2 >>= 32
				I{Op: uapi.BPF_ALU64 | uapi.BPF_XOR | uapi.BPF_X, Dst: 0, Src: 2}, // r0 ^= r2
				exit(), // exit
			)
			vp, err := ebpfvm.Load(prog, ebpfvm.Options{})
			require.NoError(t, err, name)
			kp, err := kerneltest.LoadSchedCLS(ebpfvm.Encode(prog))
			require.NoError(t, err, name)
			f := frame64()
			kres, err := kp.RunCtx(f, ctx)
			kp.Close()
			require.NoError(t, err, name)
			pk := testRunPacket(t, f, ctx)
			got, err := vp.Run(pk)
			require.NoError(t, err, name)
			runs++
			assert.Equal(t, kres.Ret, uint32(got), "%s: read back", name)
			le := binary.LittleEndian
			assert.Equal(t, le.Uint32(kres.Ctx[uapi.SKB_OFF_MARK:]), pk.Mark, "%s: mark", name)
			assert.Equal(t, le.Uint32(kres.Ctx[uapi.SKB_OFF_PRIORITY:]), pk.Priority, "%s: priority", name)
			assert.Equal(t, le.Uint64(kres.Ctx[uapi.SKB_OFF_TSTAMP:]), pk.Tstamp, "%s: tstamp", name)
			for i := range pk.CB {
				assert.Equal(t, le.Uint32(kres.Ctx[uapi.SKB_OFF_CB+4*i:]), pk.CB[i], "%s: cb[%d]", name, i)
			}
		}
	}
	t.Logf("%d writes compared with the kernel", runs)
	assert.Greater(t, runs, 200)
}

// The tstamp rules of bpf_convert_tstamp_read and
// bpf_convert_tstamp_write, which BPF_PROG_TEST_RUN cannot show (its skb
// is not at ingress and has no delivery time).
func TestSkbTstampIngress(t *testing.T) {
	readTstamp := []I{
		ldx(uapi.BPF_DW, 0, 1, uapi.SKB_OFF_TSTAMP), // r0 = skb->tstamp
		exit(), // exit
	}
	readBoth := []I{
		ldx(uapi.BPF_B, 2, 1, uapi.SKB_OFF_TSTAMP_TYPE), // r2 = skb->tstamp_type
		ldx(uapi.BPF_DW, 0, 1, uapi.SKB_OFF_TSTAMP),     // r0 = skb->tstamp
		exit(), // exit
	}
	writeTstamp := []I{
		mov64K(2, 77), // r2 = 77
		stx(uapi.BPF_DW, 1, 2, uapi.SKB_OFF_TSTAMP), // skb->tstamp = r2
		mov64K(0, 0), // r0 = 0
		exit(),       // exit
	}
	tests := []struct {
		name     string
		prog     []I
		dir      packet.Direction
		typ      packet.TstampType
		want     uint64
		wantTs   uint64
		wantType packet.TstampType
	}{
		{"egress mono read", readTstamp, packet.Egress, packet.TstampMonotonic, 1000, 1000, packet.TstampMonotonic},
		{"ingress realtime read", readTstamp, packet.Ingress, packet.TstampRealtime, 1000, 1000, packet.TstampRealtime},
		{"ingress mono read hidden", readTstamp, packet.Ingress, packet.TstampMonotonic, 0, 1000, packet.TstampMonotonic},
		{"ingress tai read hidden", readTstamp, packet.Ingress, packet.TstampTAI, 0, 1000, packet.TstampTAI},
		{"ingress mono read with tstamp_type access", readBoth, packet.Ingress, packet.TstampMonotonic, 1000, 1000, packet.TstampMonotonic},
		{"ingress write clears the type", writeTstamp, packet.Ingress, packet.TstampMonotonic, 0, 77, packet.TstampRealtime},
		{"egress write keeps the type", writeTstamp, packet.Egress, packet.TstampMonotonic, 0, 77, packet.TstampMonotonic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ebpfvm.Load(tt.prog, ebpfvm.Options{})
			require.NoError(t, err)
			pk := testRunPacket(t, frame64(), nil)
			pk.Direction, pk.Tstamp, pk.TstampType = tt.dir, 1000, tt.typ
			got, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantTs, pk.Tstamp)
			assert.Equal(t, tt.wantType, pk.TstampType)
		})
	}
}
