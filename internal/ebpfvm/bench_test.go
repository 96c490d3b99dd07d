package ebpfvm_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The three filters of the classic issue, written in eBPF twice (legacy
// LD_ABS/LD_IND loads, and direct packet access with bounds checks), and
// by hand in Go. Each returns 0 for no match, else 1 or a class id.

const (
	drop = -1 // placeholder offset: patched to the drop label
)

// patchDrop points every jump whose Off is drop at the last two
// instructions (r0 = 0; exit).
func patchDrop(p []I) []I {
	p = append(p, mov64K(0, 0), exit())
	target := len(p) - 2
	for i := range p[:len(p)-2] {
		cls := p[i].Op & 0x07
		if (cls == uapi.BPF_JMP || cls == uapi.BPF_JMP32) && p[i].Off == drop && p[i].Op != uapi.BPF_JMP|uapi.BPF_EXIT && p[i].Op != uapi.BPF_JMP|uapi.BPF_CALL {
			p[i].Off = int16(target - i - 1)
		}
	}
	return p
}

// ipTCPHeader is the common prefix of the LD_ABS filters: IPv4, TCP, not a
// fragment, R7 = IP header length.
func ipTCPHeaderAbs() []I {
	return []I{
		mov64X(6, 1),          // r6 = r1
		ldAbs(uapi.BPF_H, 12), // r0 = ldh [12]
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x800, drop),   // if r0 != 0x800 goto drop
		ldAbs(uapi.BPF_B, 23),                              // r0 = ldb [23]
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 6, drop),       // if r0 != 6 goto drop
		ldAbs(uapi.BPF_H, 20),                              // r0 = ldh [20]
		jmpK(uapi.BPF_JMP, uapi.BPF_JSET, 0, 0x1fff, drop), // if r0 & 0x1fff goto drop
		ldAbs(uapi.BPF_B, 14),                              // r0 = ldb [14]
		aluK(uapi.BPF_ALU, uapi.BPF_AND, 0, 0xf),           // w0 &= 0xf
		aluK(uapi.BPF_ALU, uapi.BPF_LSH, 0, 2),             // w0 <<= 2
		mov64X(7, 0),                                       // r7 = r0
	}
}

func tcpPort80Abs() []I {
	p := ipTCPHeaderAbs()
	p = append(p,
		ldInd(uapi.BPF_H, 7, 16),                      // r0 = ldh [r7 + 16]
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 80, drop), // if r0 != 80 goto drop
		mov64K(0, 1), // r0 = 1
		exit(),       // exit
	)
	return patchDrop(p)
}

func synNet10Abs() []I {
	p := ipTCPHeaderAbs()
	p = append(p,
		ldInd(uapi.BPF_B, 7, 27),                      // r0 = ldb [r7 + 27] (tcp flags)
		jmpK(uapi.BPF_JMP, uapi.BPF_JSET, 0, 0x02, 1), // if r0 & SYN goto +1
		ja(drop),              // goto drop
		ldAbs(uapi.BPF_W, 26), // r0 = ld [26] (saddr)
		aluK(uapi.BPF_ALU, uapi.BPF_AND, 0, -0x1000000),       // w0 &= 0xff000000
		jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 0, 0x0a000000, 3),    // if r0 == 10.0.0.0 goto match
		ldAbs(uapi.BPF_W, 30),                                 // r0 = ld [30] (daddr)
		aluK(uapi.BPF_ALU, uapi.BPF_AND, 0, -0x1000000),       // w0 &= 0xff000000
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x0a000000, drop), // if r0 != 10.0.0.0 goto drop
		mov64K(0, 1), // match: r0 = 1
		exit(),       // exit
	)
	return patchDrop(p)
}

// ports14 are the classifier's ports; port i maps to class 1:(i+1). The
// benchmark packet goes to port 80, the 14th.
var ports14 = []int32{21, 22, 23, 25, 53, 110, 143, 389, 443, 993, 995, 3306, 5432, 80}

func portClassAbs() []I {
	p := ipTCPHeaderAbs()
	p = append(p, ldInd(uapi.BPF_H, 7, 16)) // r0 = ldh [r7 + 16]
	for i, port := range ports14 {
		p = append(p,
			jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, port, 2), // if r0 != port goto next
			mov64K(0, int32(0x10001+i)),                  // r0 = 1:(i+1)
			exit(),                                       // exit
		)
	}
	return patchDrop(p)
}

// ipTCPHeaderDirect is the direct-access prefix: R5 = data, R2 = data +
// IP header length, R3 = data_end; IPv4, TCP, not a fragment, and need
// bytes from the end of the Ethernet header on (data + IHL + need) present.
func ipTCPHeaderDirect(need int32) []I {
	return []I{
		ldx(uapi.BPF_W, 2, 1, 76),                          // r2 = skb->data
		mov64X(5, 2),                                       // r5 = r2
		ldx(uapi.BPF_W, 3, 1, 80),                          // r3 = skb->data_end
		mov64X(4, 2),                                       // r4 = r2
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 34),          // r4 += 34
		jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, drop),       // if r4 > r3 goto drop
		ldx(uapi.BPF_H, 0, 2, 12),                          // r0 = *(u16 *)(r2 + 12)
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x0008, drop),  // if r0 != htons(0x800) goto drop
		ldx(uapi.BPF_B, 0, 2, 23),                          // r0 = *(u8 *)(r2 + 23)
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 6, drop),       // if r0 != 6 goto drop
		ldx(uapi.BPF_H, 0, 2, 20),                          // r0 = *(u16 *)(r2 + 20)
		jmpK(uapi.BPF_JMP, uapi.BPF_JSET, 0, 0xff1f, drop), // if r0 & htons(0x1fff) goto drop
		ldx(uapi.BPF_B, 1, 2, 14),                          // r1 = *(u8 *)(r2 + 14)
		aluK(uapi.BPF_ALU, uapi.BPF_AND, 1, 0xf),           // w1 &= 0xf
		aluK(uapi.BPF_ALU, uapi.BPF_LSH, 1, 2),             // w1 <<= 2
		aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 2, 1),           // r2 += r1
		mov64X(4, 2),                                       // r4 = r2
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, need),        // r4 += need
		jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, drop),       // if r4 > r3 goto drop
	}
}

func tcpPort80Direct() []I {
	p := ipTCPHeaderDirect(18)
	p = append(p,
		ldx(uapi.BPF_H, 0, 2, 16),                         // r0 = *(u16 *)(r2 + 16)
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x5000, drop), // if r0 != htons(80) goto drop
		mov64K(0, 1), // r0 = 1
		exit(),       // exit
	)
	return patchDrop(p)
}

func synNet10Direct() []I {
	p := ipTCPHeaderDirect(28)
	p = append(p,
		ldx(uapi.BPF_B, 0, 2, 27),                     // r0 = *(u8 *)(r2 + 27) (tcp flags)
		jmpK(uapi.BPF_JMP, uapi.BPF_JSET, 0, 0x02, 1), // if r0 & SYN goto +1
		ja(drop),                  // goto drop
		ldx(uapi.BPF_B, 0, 5, 26), // r0 = *(u8 *)(r5 + 26) (saddr[0])
		jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 0, 10, 2),    // if r0 == 10 goto match
		ldx(uapi.BPF_B, 0, 5, 30),                     // r0 = *(u8 *)(r5 + 30) (daddr[0])
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 10, drop), // if r0 != 10 goto drop
		mov64K(0, 1), // match: r0 = 1
		exit(),       // exit
	)
	return patchDrop(p)
}

func portClassDirect() []I {
	p := ipTCPHeaderDirect(18)
	p = append(p,
		ldx(uapi.BPF_H, 0, 2, 16),                              // r0 = *(u16 *)(r2 + 16)
		aluK(uapi.BPF_ALU, uapi.BPF_END|uapi.BPF_TO_BE, 0, 16), // r0 = be16 r0
	)
	for i, port := range ports14 {
		p = append(p,
			jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, port, 2), // if r0 != port goto next
			mov64K(0, int32(0x10001+i)),                  // r0 = 1:(i+1)
			exit(),                                       // exit
		)
	}
	return patchDrop(p)
}

// Hand-written Go equivalents.

// goIPTCP returns the TCP header when f is IPv4/TCP, not a fragment, and
// holds need bytes of it.
func goIPTCP(f []byte, need int) (tcp []byte, ok bool) {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x800 || f[23] != 6 || binary.BigEndian.Uint16(f[20:])&0x1fff != 0 {
		return nil, false
	}
	ihl := int(f[14]&0xf) * 4
	if len(f) < 14+ihl+need {
		return nil, false
	}
	return f[14+ihl:], true
}

func goTCPPort80(f []byte) uint64 {
	if tcp, ok := goIPTCP(f, 4); ok && binary.BigEndian.Uint16(tcp[2:]) == 80 {
		return 1
	}
	return 0
}

func goSynNet10(f []byte) uint64 {
	if tcp, ok := goIPTCP(f, 14); ok && tcp[13]&0x02 != 0 && (f[26] == 10 || f[30] == 10) {
		return 1
	}
	return 0
}

func goPortClass(f []byte) uint64 {
	tcp, ok := goIPTCP(f, 4)
	if !ok {
		return 0
	}
	port := int32(binary.BigEndian.Uint16(tcp[2:]))
	for i, p := range ports14 {
		if p == port {
			return uint64(0x10001 + i)
		}
	}
	return 0
}

type filterCase struct {
	name   string
	abs    []I
	direct []I
	gofn   func([]byte) uint64
	want   uint64
}

func filterCases() []filterCase {
	return []filterCase{
		{name: "tcp80", abs: tcpPort80Abs(), direct: tcpPort80Direct(), gofn: goTCPPort80, want: 1},
		{name: "syn_net10", abs: synNet10Abs(), direct: synNet10Direct(), gofn: goSynNet10, want: 1},
		{name: "ports14", abs: portClassAbs(), direct: portClassDirect(), gofn: goPortClass, want: 0x1000e},
	}
}

// TestFilters checks the benchmark filters against their Go versions on
// matching and non-matching frames.
func TestFilters(t *testing.T) {
	frames := map[string][]byte{"syn80": frame64()}
	other := frame64()
	other[37] = 81 // dst port 81
	frames["port81"] = other
	notSyn := frame64()
	notSyn[47] = 0x10
	frames["ack"] = notSyn
	net11 := frame64()
	net11[26] = 11
	frames["net11"] = net11
	frag := frame64()
	frag[21] = 1
	frames["fragment"] = frag
	frames["short"] = frame64()[:40]
	for _, fc := range filterCases() {
		for _, form := range []struct {
			name string
			prog []I
		}{{"ldabs", fc.abs}, {"direct", fc.direct}} {
			p, err := ebpfvm.Load(form.prog, ebpfvm.Options{})
			require.NoError(t, err, "%s/%s", fc.name, form.name)
			for fname, f := range frames {
				t.Run(fc.name+"/"+form.name+"/"+fname, func(t *testing.T) {
					got, err := p.Run(newPacket(t, f))
					require.NoError(t, err)
					assert.Equal(t, fc.gofn(f), got)
				})
			}
		}
		assert.Equal(t, fc.want, fc.gofn(frame64()))
	}
}

func BenchmarkFilter(b *testing.B) {
	frame := frame64()
	for _, fc := range filterCases() {
		for _, form := range []struct {
			name string
			prog []I
		}{{"ldabs", fc.abs}, {"direct", fc.direct}} {
			b.Run(fc.name+"/"+form.name, func(b *testing.B) {
				p, err := ebpfvm.Load(form.prog, ebpfvm.Options{})
				require.NoError(b, err)
				m := p.NewMachine()
				pkt := newPacket(b, frame)
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				for b.Loop() {
					if r, _ := m.Run(pkt); r != fc.want {
						b.Fatalf("got %#x", r)
					}
				}
			})
		}
		b.Run(fc.name+"/go", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if fc.gofn(frame) != fc.want {
					b.Fatal("mismatch")
				}
			}
		})
	}
}

// aluProgram: 64 rounds of an 8-operation hash over the packet length.
func aluProgram() []I {
	return []I{
		ldx(uapi.BPF_W, 0, 1, 0), // r0 = skb->len
		mov64K(2, 64),            // r2 = 64
		mov64K(3, 0x12345),       // r3 = 0x12345
		aluK(uapi.BPF_ALU64, uapi.BPF_MUL, 0, 0x01000193), // loop: r0 *= 0x01000193
		aluX(uapi.BPF_ALU64, uapi.BPF_XOR, 0, 3),          // r0 ^= r3
		mov64X(4, 0),                                      // r4 = r0
		aluK(uapi.BPF_ALU64, uapi.BPF_RSH, 4, 29),         // r4 >>= 29
		aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 4),          // r0 += r4
		aluK(uapi.BPF_ALU, uapi.BPF_ADD, 3, 7),            // w3 += 7
		aluX(uapi.BPF_ALU64, uapi.BPF_SUB, 0, 2),          // r0 -= r2
		aluK(uapi.BPF_ALU64, uapi.BPF_SUB, 2, 1),          // r2 -= 1
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 2, 0, -9),        // if r2 != 0 goto loop
		exit(), // exit
	}
}

func goALU(n uint64) uint64 {
	r0, r3 := n, uint64(0x12345)
	for r2 := uint64(64); r2 != 0; r2-- {
		r0 *= 0x01000193
		r0 ^= r3
		r0 += r0 >> 29
		r3 = uint64(uint32(r3) + 7)
		r0 -= r2
	}
	return r0
}

// memProgram: 16 rounds of reading packet words, spilling them to the
// stack, reading them back and summing.
func memProgram() []I {
	return []I{
		ldx(uapi.BPF_W, 2, 1, 76),                   // r2 = skb->data
		ldx(uapi.BPF_W, 3, 1, 80),                   // r3 = skb->data_end
		mov64X(4, 2),                                // r4 = r2
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 64),   // r4 += 64
		mov64K(0, 0),                                // r0 = 0
		jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 13),  // if r4 > r3 goto out
		mov64K(5, 16),                               // r5 = 16
		ldx(uapi.BPF_W, 4, 2, 0),                    // loop: r4 = *(u32 *)(r2 + 0)
		stx(uapi.BPF_W, 10, 4, -4),                  // *(u32 *)(r10 - 4) = r4
		ldx(uapi.BPF_DW, 1, 2, 0),                   // r1 = *(u64 *)(r2 + 0)
		stx(uapi.BPF_DW, 10, 1, -16),                // *(u64 *)(r10 - 16) = r1
		ldx(uapi.BPF_W, 4, 10, -4),                  // r4 = *(u32 *)(r10 - 4)
		aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 4),    // r0 += r4
		ldx(uapi.BPF_DW, 1, 10, -16),                // r1 = *(u64 *)(r10 - 16)
		aluX(uapi.BPF_ALU64, uapi.BPF_XOR, 0, 1),    // r0 ^= r1
		st(uapi.BPF_B, 2, 63, 1),                    // *(u8 *)(r2 + 63) = 1
		aluK(uapi.BPF_ALU64, uapi.BPF_SUB, 5, 1),    // r5 -= 1
		jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 5, 0, -11), // if r5 != 0 goto loop
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 0),    // r0 += 0
		exit(),                                      // out: exit
	}
}

func goMem(f []byte) uint64 {
	if len(f) < 64 {
		return 0
	}
	var stack [16]byte
	var r0 uint64
	for range 16 {
		binary.LittleEndian.PutUint32(stack[12:], binary.LittleEndian.Uint32(f))
		binary.LittleEndian.PutUint64(stack[0:], binary.LittleEndian.Uint64(f))
		r0 += uint64(binary.LittleEndian.Uint32(stack[12:]))
		r0 ^= binary.LittleEndian.Uint64(stack[0:])
		f[63] = 1
	}
	return r0
}

func TestHeavyPrograms(t *testing.T) {
	p, err := ebpfvm.Load(aluProgram(), ebpfvm.Options{})
	require.NoError(t, err)
	got, err := p.Run(newPacket(t, frame64()))
	require.NoError(t, err)
	assert.Equal(t, goALU(64), got)
	p, err = ebpfvm.Load(memProgram(), ebpfvm.Options{})
	require.NoError(t, err)
	got, err = p.Run(newPacket(t, frame64()))
	require.NoError(t, err)
	assert.Equal(t, goMem(frame64()), got)
}

func BenchmarkALU(b *testing.B) {
	p, err := ebpfvm.Load(aluProgram(), ebpfvm.Options{})
	require.NoError(b, err)
	m := p.NewMachine()
	pkt := newPacket(b, frame64())
	want := goALU(64)
	b.Run("vm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, _ := m.Run(pkt); r != want {
				b.Fatal("mismatch")
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		n := uint64(len(frame64()))
		for b.Loop() {
			if goALU(n) != want {
				b.Fatal("mismatch")
			}
		}
	})
}

func BenchmarkMemory(b *testing.B) {
	p, err := ebpfvm.Load(memProgram(), ebpfvm.Options{})
	require.NoError(b, err)
	m := p.NewMachine()
	pkt := newPacket(b, frame64())
	want := goMem(frame64())
	b.Run("vm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, _ := m.Run(pkt); r != want {
				b.Fatal("mismatch")
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		f := frame64()
		for b.Loop() {
			if goMem(f) != want {
				b.Fatal("mismatch")
			}
		}
	})
}

// TestFiltersKernel runs the benchmark programs through the kernel too.
func TestFiltersKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	progs := map[string][]I{"alu": aluProgram(), "mem": memProgram()}
	for _, fc := range filterCases() {
		progs[fc.name+"/ldabs"], progs[fc.name+"/direct"] = fc.abs, fc.direct
	}
	for name, prog := range progs {
		t.Run(name, func(t *testing.T) {
			kp, err := kerneltest.LoadSchedCLSLog(ebpfvm.Encode(prog))
			require.NoError(t, err)
			defer kp.Close()
			p, err := ebpfvm.Load(prog, ebpfvm.Options{})
			require.NoError(t, err)
			for _, f := range [][]byte{frame64(), frame64()[:40]} {
				kres, err := kp.Run(f)
				require.NoError(t, err)
				pkt := newPacket(t, f)
				got, err := p.Run(pkt)
				require.NoError(t, err)
				assert.Equal(t, kres.Ret, uint32(got))
				assert.Equal(t, kres.Data, pkt.Bytes())
			}
		})
	}
}
