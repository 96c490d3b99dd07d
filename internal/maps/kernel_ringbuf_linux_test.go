//go:build linux

package maps

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	ciliumebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/stretchr/testify/require"
)

// ringProgram builds a program that produces one record into the ring
// buffer fd: kind "output" (bpf_ringbuf_output of size bytes of fill),
// "submit" or "discard" (bpf_ringbuf_reserve, write the first and last
// byte, then commit), or "query" (bpf_ringbuf_query(flags)). It returns
// the helper's result; reserve failures return 0xffffffff.
func ringProgram(fd int, kind string, size int, fill byte, flags int32) asm.Instructions {
	var insns asm.Instructions
	switch kind {
	case "output":
		for off := 0; off < size; off++ {
			insns = append(insns, asm.StoreImm(asm.RFP, int16(off-512), int64(fill), asm.Byte)) // *(u8 *)(fp - 512 + off) = fill
		}
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, fd),       // r1 = ring
			asm.Mov.Reg(asm.R2, asm.RFP),     // r2 = fp
			asm.Add.Imm(asm.R2, -512),        // r2 = &data
			asm.Mov.Imm(asm.R3, int32(size)), // r3 = size
			asm.Mov.Imm(asm.R4, flags),       // r4 = flags
			asm.FnRingbufOutput.Call(),       // r0 = ringbuf_output(ring, &data, size, flags)
			asm.Return(),                     // exit
		)
	case "submit", "discard":
		fn := asm.FnRingbufSubmit
		if kind == "discard" {
			fn = asm.FnRingbufDiscard
		}
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, fd),       // r1 = ring
			asm.Mov.Imm(asm.R2, int32(size)), // r2 = size
			asm.Mov.Imm(asm.R3, 0),           // r3 = 0
			asm.FnRingbufReserve.Call(),      // r0 = ringbuf_reserve(ring, size, 0)
			asm.JNE.Imm(asm.R0, 0, "got"),    // if r0 != NULL goto got
			asm.Mov.Imm32(asm.R0, -1),        // w0 = 0xffffffff
			asm.Return(),                     // exit
			asm.StoreImm(asm.R0, 0, int64(fill), asm.Byte).WithSymbol("got"), // got: *(u8 *)r0 = fill
			asm.StoreImm(asm.R0, int16(size-1), int64(fill+1), asm.Byte),     // *(u8 *)(r0 + size - 1) = fill + 1
			asm.Mov.Reg(asm.R1, asm.R0),                                      // r1 = record
			asm.Mov.Imm(asm.R2, flags),                                       // r2 = flags
			fn.Call(),                                                        // ringbuf_submit or ringbuf_discard(record, flags)
			asm.Mov.Imm(asm.R0, 0),                                           // r0 = 0
			asm.Return(),                                                     // exit
		)
	case "query":
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, fd), // r1 = ring
			asm.Mov.Imm(asm.R2, flags), // r2 = flags
			asm.FnRingbufQuery.Call(),  // r0 = ringbuf_query(ring, flags)
			asm.Return(),               // exit
		)
	}
	return insns
}

// ourRing is ringProgram's operation on our ring buffer.
func ourRing(r *RingBuf, kind string, size int, fill byte, flags int32) uint32 {
	switch kind {
	case "output":
		data := make([]byte, size)
		for i := range data {
			data[i] = fill
		}
		return uint32(-int32(r.Output(data, uint64(flags))))
	case "submit", "discard":
		rec := r.Reserve(uint64(size))
		if rec == nil {
			return 0xffffffff
		}
		rec[0] = fill
		rec[size-1] = fill + 1
		r.Commit(rec, uint64(flags), kind == "discard")
		return 0
	default:
		return uint32(r.Query(uint64(flags)))
	}
}

// TestKernelRingBuf produces generated records into a kernel ring buffer
// (through programs run with BPF_PROG_TEST_RUN) and into ours, consumes
// them at random points with cilium/ebpf's ringbuf reader and with ours,
// and compares every helper result, every query and every record.
func TestKernelRingBuf(t *testing.T) {
	requireBPF(t)
	km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.RingBuf, MaxEntries: 4096})
	require.NoError(t, err)
	defer km.Close()
	rd, err := ringbuf.NewReader(km)
	require.NoError(t, err)
	defer rd.Close()
	m, err := New(&Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096}, Options{})
	require.NoError(t, err)
	our := m.(*RingBuf)

	r := rand.New(rand.NewPCG(3, 4))
	n := 400
	if testing.Short() {
		n = 100
	}
	if k := diffOps(); k > 0 {
		n = k
		r = rand.New(rand.NewPCG(diffSeed, 4))
	}
	kinds := []string{"output", "output", "submit", "discard", "query"}
	for i := 0; i < n; i++ {
		if r.IntN(4) == 0 {
			// Consume a few records on both sides.
			for j := r.IntN(4); j >= 0; j-- {
				rd.SetDeadline(time.Now())
				krec, kerr := rd.Read()
				orec, ok := our.Consume(nil)
				if errors.Is(kerr, os.ErrDeadlineExceeded) {
					require.False(t, ok, "step %d: kernel ring empty, ours has %x", i, orec)
					break
				}
				require.NoError(t, kerr)
				require.True(t, ok, "step %d: ours empty, kernel has %d bytes", i, len(krec.RawSample))
				require.Equal(t, krec.RawSample, orec, "step %d: record", i)
			}
			continue
		}
		kind := kinds[r.IntN(len(kinds))]
		size := 1 + r.IntN(500)
		if r.IntN(10) == 0 {
			size = 4000 + r.IntN(96)
		}
		if kind == "output" && size > 500 {
			size = 500 // the stack holds the data
		}
		flags := []int32{0, 0, 1, 2, 3}[r.IntN(5)]
		if kind == "query" {
			flags = int32(r.IntN(5))
		}
		fill := byte(r.IntN(250))
		prog, err := ciliumebpf.NewProgram(&ciliumebpf.ProgramSpec{Type: ciliumebpf.SchedCLS, License: "GPL",
			Instructions: ringProgram(km.FD(), kind, size, fill, flags)})
		require.NoError(t, err, "step %d: load %s %d", i, kind, size)
		ret, err := prog.Run(&ciliumebpf.RunOptions{Data: make([]byte, 64)})
		prog.Close()
		require.NoError(t, err)
		require.Equal(t, ret, ourRing(our, kind, size, fill, flags), "step %d: %s size %d flags %d", i, kind, size, flags)
	}
}
