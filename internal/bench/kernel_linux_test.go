//go:build linux

package bench

import (
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// The kernel's own time for `ip and tcp dst port 80`: the eBPF program a
// tc user would write for it with direct packet access, JIT-compiled by
// the running kernel and timed by BPF_PROG_TEST_RUN over many repeats,
// next to an empty program whose time is test_run's own overhead.

// __sk_buff offsets of data and data_end.
const (
	skbData    = 76
	skbDataEnd = 80
)

// kernelTCPDst80 is `ip and tcp dst port 80` in eBPF with direct packet
// access: the same checks as GoTCPDst80, loads in network byte order read
// as little-endian halves.
func kernelTCPDst80() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),                            // r0 = 0
		asm.LoadMem(asm.R2, asm.R1, skbData, asm.Word),    // r2 = skb->data
		asm.LoadMem(asm.R3, asm.R1, skbDataEnd, asm.Word), // r3 = skb->data_end
		asm.Mov.Reg(asm.R4, asm.R2),                       // r4 = r2
		asm.Add.Imm(asm.R4, 34),                           // r4 += 34 (Ethernet + IPv4)
		asm.JGT.Reg(asm.R4, asm.R3, "out"),                // if r4 > r3 goto out
		asm.LoadMem(asm.R5, asm.R2, 12, asm.Half),         // r5 = ethertype
		asm.JNE.Imm(asm.R5, 0x0008, "out"),                // if r5 != htons(0x800) goto out
		asm.LoadMem(asm.R5, asm.R2, 23, asm.Byte),         // r5 = protocol
		asm.JNE.Imm(asm.R5, 6, "out"),                     // if r5 != 6 goto out
		asm.LoadMem(asm.R5, asm.R2, 20, asm.Half),         // r5 = flags and fragment offset
		asm.JSet.Imm(asm.R5, -0xe1, "out"),                // if r5 & htons(0x1fff) goto out
		asm.LoadMem(asm.R5, asm.R2, 14, asm.Byte),         // r5 = version and IHL
		asm.And.Imm(asm.R5, 0xf),                          // r5 &= 0xf
		asm.LSh.Imm(asm.R5, 2),                            // r5 <<= 2
		asm.Add.Reg(asm.R2, asm.R5),                       // r2 += r5
		asm.Mov.Reg(asm.R4, asm.R2),                       // r4 = r2
		asm.Add.Imm(asm.R4, 18),                           // r4 += 18 (Ethernet + ports)
		asm.JGT.Reg(asm.R4, asm.R3, "out"),                // if r4 > r3 goto out
		asm.LoadMem(asm.R5, asm.R2, 16, asm.Half),         // r5 = destination port
		asm.JNE.Imm(asm.R5, 0x5000, "out"),                // if r5 != htons(80) goto out
		asm.Mov.Imm(asm.R0, 262144),                       // r0 = 262144
		asm.Return().WithSymbol("out"),                    // out: exit
	}
}

// kernelEmpty is the baseline: r0 = 0; exit.
func kernelEmpty() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, 0), // r0 = 0
		asm.Return(),           // exit
	}
}

func loadKernel(tb testing.TB, insns asm.Instructions) *ebpf.Program {
	tb.Helper()
	kerneltest.RequireBPF(tb)
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, Instructions: insns, License: "GPL"})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// TestKernelTCPDst80 holds the eBPF program to the hand-written Go
// function on matching and rejected frames.
func TestKernelTCPDst80(t *testing.T) {
	p := loadKernel(t, kernelTCPDst80())
	frames := [][]byte{SYN(64, 80), SYN(1500, 80), SYN(64, 81), SYN(64, 80)[:40]}
	frag := SYN(64, 80)
	frag[21] = 1
	frames = append(frames, frag)
	for i, f := range frames {
		ret, err := p.Run(&ebpf.RunOptions{Data: f})
		require.NoError(t, err)
		assert.Equal(t, GoTCPDst80(f), ret, "frame %d", i)
	}
}

// kernelRepeat is the number of runs the kernel times per call.
const kernelRepeat = 100000

// BenchmarkKernelJIT reports kernel-ns/run, the kernel's mean time per run
// over kernelRepeat runs, for the empty program and for tcp_dst_port_80,
// and for the filter also net-ns/run: its time minus the empty program's,
// the two measured alternately. ns/op is the time of one whole
// BPF_PROG_TEST_RUN call and means nothing per packet.
func BenchmarkKernelJIT(b *testing.B) {
	empty := loadKernel(b, kernelEmpty())
	filter := loadKernel(b, kernelTCPDst80())
	for _, size := range Sizes {
		frame := SYN(size, 80)
		b.Run("empty/"+strconv.Itoa(size), func(b *testing.B) {
			var sum time.Duration
			runs := 0
			for b.Loop() {
				_, d, err := empty.Benchmark(frame, kernelRepeat, nil)
				require.NoError(b, err)
				sum += d
				runs++
			}
			b.ReportMetric(float64(sum)/float64(runs), "kernel-ns/run")
		})
		b.Run("tcp_dst_port_80/"+strconv.Itoa(size), func(b *testing.B) {
			var sum, base time.Duration
			runs := 0
			for b.Loop() {
				_, d, err := filter.Benchmark(frame, kernelRepeat, nil)
				require.NoError(b, err)
				_, e, err := empty.Benchmark(frame, kernelRepeat, nil)
				require.NoError(b, err)
				sum += d
				base += e
				runs++
			}
			b.ReportMetric(float64(sum)/float64(runs), "kernel-ns/run")
			b.ReportMetric(float64(sum-base)/float64(runs), "net-ns/run")
		})
	}
}
