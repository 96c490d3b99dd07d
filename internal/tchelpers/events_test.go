package tchelpers_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/maps"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// stackString emits stores of s (NUL-padded to a multiple of 8) at fp-len
// and returns the instructions and the offset.
func stackString(s string) (asm.Instructions, int16) {
	b := []byte(s)
	b = append(b, make([]byte, 8-len(b)%8)...)
	off := -int16(len(b))
	var insns asm.Instructions
	for i := 0; i < len(b); i += 8 {
		insns = append(insns,
			asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(b[i:])), asm.DWord), // r1 = 8 bytes of s
			asm.StoreMem(asm.RFP, off+int16(i), asm.R1, asm.DWord),                   // store them
		)
	}
	return insns, off
}

// printkProgram calls trace_printk(format, len(format)+1, a1, a2, a3).
func printkProgram(format string, args [3]int64) asm.Instructions {
	insns, off := stackString(format)
	return append(insns,
		asm.Mov.Reg(asm.R1, asm.RFP),              // r1 = fp
		asm.Add.Imm(asm.R1, int32(off)),           // r1 = &format
		asm.Mov.Imm(asm.R2, int32(len(format)+1)), // r2 = size
		asm.LoadImm(asm.R3, args[0], asm.DWord),   // r3 = arg1
		asm.LoadImm(asm.R4, args[1], asm.DWord),   // r4 = arg2
		asm.LoadImm(asm.R5, args[2], asm.DWord),   // r5 = arg3
		asm.FnTracePrintk.Call(),                  // r0 = trace_printk(...)
		asm.Return(),                              // exit
	)
}

func TestTracePrintk(t *testing.T) {
	tests := []struct {
		format string
		args   [3]int64
		want   string
		ret    int64
	}{
		{"hello\n", [3]int64{}, "hello\n", 6},
		{"%d %u %x", [3]int64{-5, -5, 255}, "-5 4294967291 ff", 16},
		{"%ld %llu %lx", [3]int64{-5, -5, -1}, "-5 18446744073709551611 ffffffffffffffff", 40},
		{"[%5d|%-4x|%05X]", [3]int64{42, 10, 0xab}, "[   42|a   |000AB]", 18},
		{"%c%c%%", [3]int64{'o', 'k', 0}, "ok%", 3},
		{"%px", [3]int64{0x1234}, "0000000000001234", 16},
		{"%d %d %d %d", [3]int64{}, "", -int64(syscall.EINVAL)},
		{"%f", [3]int64{}, "", -int64(syscall.EINVAL)},
		{"%hd", [3]int64{}, "", -int64(syscall.EINVAL)},
		{"bad\x01", [3]int64{}, "", -int64(syscall.EINVAL)},
		{"%p", [3]int64{}, "", -int64(syscall.EINVAL)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.format), func(t *testing.T) {
			var out bytes.Buffer
			env, err := tchelpers.Registry(tchelpers.Options{Trace: &out})
			require.NoError(t, err)
			p := load(t, env, nil, printkProgram(tt.format, tt.args))
			r0, err := p.Run(frame(64))
			require.NoError(t, err)
			assert.Equal(t, tt.ret, int64(r0))
			assert.Equal(t, tt.want, out.String())
		})
	}
}

// TestKernelTracePrintk compares trace_printk's result (the length of the
// formatted text, or -EINVAL) with the kernel's on generated formats.
func TestKernelTracePrintk(t *testing.T) {
	kerneltest.RequireBPF(t)
	r := rand.New(rand.NewPCG(9, 9))
	pieces := []string{"%d", "%i", "%u", "%x", "%X", "%ld", "%lld", "%lu", "%llx", "%c", "%%", "%5d", "%-3x", "%08X", "% d", "%+d", "ab", " ", "\n", "%px", "%q", "%hd"}
	env, err := tchelpers.Registry(tchelpers.Options{})
	require.NoError(t, err)
	for i := 0; i < 40; i++ {
		var f string
		for n := 1 + r.IntN(4); n > 0; n-- {
			f += pieces[r.IntN(len(pieces))]
		}
		args := [3]int64{int64(r.Uint64()), int64(r.Int32()), int64(r.IntN(200))}
		insns := printkProgram(f, args)
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: insns})
		require.NoError(t, err, "%q", f)
		kret, err := kp.Run(&ebpf.RunOptions{Data: tcpFrame(r)})
		kp.Close()
		require.NoError(t, err)
		p := load(t, env, nil, insns)
		r0, err := p.Run(frame(64))
		require.NoError(t, err)
		assert.Equal(t, kret, uint32(r0), "%q %v", f, args)
	}
}

func TestRingbufHelpers(t *testing.T) {
	rm, err := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096}, maps.Options{Slots: 1})
	require.NoError(t, err)
	rb := rm.(*maps.RingBuf)
	p := load(t, newEnv(t, 1), linker{rm}, asm.Instructions{
		asm.Mov.Imm(asm.R7, 0x41424344),                    // r7 = "DCBA"
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.Word),        // fp-8 = r7
		asm.LoadMapPtr(asm.R1, 10),                         // r1 = ring
		asm.Mov.Reg(asm.R2, asm.RFP),                       // r2 = fp
		asm.Add.Imm(asm.R2, -8),                            // r2 = fp-8
		asm.Mov.Imm(asm.R3, 4),                             // r3 = 4
		asm.Mov.Imm(asm.R4, 0),                             // r4 = flags
		asm.FnRingbufOutput.Call(),                         // output
		asm.LoadMapPtr(asm.R1, 10),                         // r1 = ring
		asm.Mov.Imm(asm.R2, 8),                             // r2 = 8 bytes
		asm.Mov.Imm(asm.R3, 0),                             // r3 = flags
		asm.FnRingbufReserve.Call(),                        // r0 = reserve
		asm.JEq.Imm(asm.R0, 0, "out"),                      // if r0 == 0 goto out
		asm.LoadImm(asm.R7, 0x1122334455667788, asm.DWord), // r7 = value
		asm.StoreMem(asm.R0, 0, asm.R7, asm.DWord),         // *(u64 *)r0 = r7
		asm.Mov.Reg(asm.R1, asm.R0),                        // r1 = record
		asm.Mov.Imm(asm.R2, 0),                             // r2 = flags
		asm.FnRingbufSubmit.Call(),                         // submit
		asm.LoadMapPtr(asm.R1, 10).WithSymbol("out"),       // r1 = ring
		asm.Mov.Imm(asm.R2, 0),                             // r2 = BPF_RB_AVAIL_DATA
		asm.FnRingbufQuery.Call(),                          // r0 = bytes available
		asm.Return(),                                       // exit
	})
	r0, err := p.Run(frame(64))
	require.NoError(t, err)
	assert.Equal(t, uint64(16+16), r0, "two records with their headers")
	rec, ok := rb.Consume(nil)
	require.True(t, ok)
	assert.Equal(t, []byte{0x44, 0x43, 0x42, 0x41}, rec)
	rec, ok = rb.Consume(nil)
	require.True(t, ok)
	assert.Equal(t, []byte{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, rec)
	_, ok = rb.Consume(nil)
	assert.False(t, ok)
}

func TestPerfEventOutput(t *testing.T) {
	pm, err := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2}, maps.Options{Slots: 2})
	require.NoError(t, err)
	pb := maps.NewPerfBuffer(1, 4096, nil)
	require.Zero(t, pm.(maps.ObjectMap).UpdateObject([]byte{1, 0, 0, 0}, pb, 0))
	prog := func(flags int64) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Imm(asm.R7, 0x01020304),             // r7 = data
			asm.StoreMem(asm.RFP, -8, asm.R7, asm.Word), // fp-8 = r7
			asm.LoadMapPtr(asm.R2, 10),                  // r2 = perf array
			asm.LoadImm(asm.R3, flags, asm.DWord),       // r3 = flags
			asm.Mov.Reg(asm.R4, asm.RFP),                // r4 = fp
			asm.Add.Imm(asm.R4, -8),                     // r4 = fp-8
			asm.Mov.Imm(asm.R5, 4),                      // r5 = 4
			asm.FnPerfEventOutput.Call(),                // r0 = output
			asm.Return(),                                // exit
		}
	}
	tests := []struct {
		name  string
		flags int64
		want  int64
	}{
		{"current slot with 6 packet bytes", 0xffffffff | 6<<32, 0},
		{"index 1", 1, 0},
		{"index 0 is empty", 0, -int64(syscall.ENOENT)},
		{"index beyond", 2, -int64(syscall.E2BIG)},
		{"packet bytes beyond the packet", 0xffffffff | 100<<32, -int64(syscall.EFAULT)},
		{"unknown flag bits", 1 << 60, -int64(syscall.EINVAL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load(t, newEnv(t, 2), linker{pm}, prog(tt.flags))
			pk := frame(64)
			pk.Slot = 1
			r0, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.want, int64(r0))
		})
	}
	raw, _, ok := pb.Next()
	require.True(t, ok)
	assert.Equal(t, []byte{4, 3, 2, 1}, raw[:4])
	assert.Equal(t, frame(64).Bytes()[:6], raw[4:10], "the packet bytes follow the data")
}

func TestGetHashRecalc(t *testing.T) {
	prog := asm.Instructions{
		asm.FnGetHashRecalc.Call(), // r0 = hash
		asm.Return(),               // exit
	}
	p := load(t, newEnv(t, 1), nil, prog)
	a, b := frame(64), frame(64)
	ra, err := p.Run(a)
	require.NoError(t, err)
	rb, err := p.Run(b)
	require.NoError(t, err)
	assert.NotZero(t, ra)
	assert.Equal(t, ra, rb, "same flow, same hash")
	a.Hash, a.HashKind = 77, 1
	ra, err = p.Run(a)
	require.NoError(t, err)
	assert.Equal(t, uint64(77), ra, "an existing hash is kept")
}

func TestSpinLock(t *testing.T) {
	arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 4)
	prog := append(lookupKey(10, 0), asm.Instructions{
		asm.JEq.Imm(asm.R0, 0, "out"),              // if r0 == 0 goto out
		asm.Mov.Reg(asm.R6, asm.R0),                // r6 = value
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = &lock
		asm.FnSpinLock.Call(),                      // lock
		asm.LoadMem(asm.R1, asm.R6, 8, asm.DWord),  // r1 = counter
		asm.Add.Imm(asm.R1, 1),                     // r1++
		asm.StoreMem(asm.R6, 8, asm.R1, asm.DWord), // counter = r1
		asm.Mov.Reg(asm.R1, asm.R6),                // r1 = &lock
		asm.FnSpinUnlock.Call(),                    // unlock
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),   // r0 = 0
		asm.Return(),                               // exit
	}...)
	p := load(t, newEnv(t, 4), linker{arr}, prog)
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			pk := frame(64)
			pk.Slot = uint32(w)
			for i := 0; i < 300; i++ {
				if _, err := p.Run(pk); err != nil {
					panic(err)
				}
			}
			done <- struct{}{}
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	v := make([]byte, 16)
	require.Zero(t, arr.SysLookup([]byte{0, 0, 0, 0}, v, 0))
	assert.Equal(t, uint64(1200), binary.LittleEndian.Uint64(v[8:]), "the lock serialises the plain increments")
}

var _ = ebpfvm.ErrHelper
