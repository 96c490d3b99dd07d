package tchelpers_test

import (
	"bytes"
	"encoding/binary"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/atomicmem"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// linker serves maps by file descriptor: fd i+10 is maps[i].
type linker []maps.Map

func (l linker) Map(kind uint8, ref int32) (any, error) {
	if ref < 10 || int(ref-10) >= len(l) {
		return nil, syscall.EBADF
	}
	return l[ref-10], nil
}

func (l linker) MapValue(kind uint8, ref int32) ([]byte, bool, error) {
	return nil, false, syscall.EINVAL
}

// vmInsns converts cilium/ebpf instructions to the VM's.
func vmInsns(t testing.TB, insns asm.Instructions) []ebpfvm.Instruction {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, insns.Marshal(&buf, binary.LittleEndian))
	out, err := ebpfvm.Decode(buf.Bytes())
	require.NoError(t, err)
	return out
}

// load loads insns with env's helpers and the maps of l.
func load(t testing.TB, env *tchelpers.Env, l linker, insns asm.Instructions) *ebpfvm.Program {
	t.Helper()
	p, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers(), Linker: l})
	require.NoError(t, err)
	return p
}

func newEnv(t testing.TB, slots int) *tchelpers.Env {
	t.Helper()
	env, err := tchelpers.Registry(tchelpers.Options{Slots: slots, Seed: 1, Now: func(c tchelpers.Clock) uint64 { return 1000 + uint64(c) }})
	require.NoError(t, err)
	return env
}

func newMap(t testing.TB, typ maps.Type, ks, vs, n uint32, slots int) maps.Map {
	t.Helper()
	m, err := maps.New(&maps.Spec{Type: typ, KeySize: ks, ValueSize: vs, MaxEntries: n}, maps.Options{Slots: slots})
	require.NoError(t, err)
	return m
}

func frame(n int) *packet.Packet {
	f := make([]byte, n)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	for i := 15; i < n; i++ {
		f[i] = byte(i * 7)
	}
	var p packet.Packet
	if err := p.SetFrame(f); err != nil {
		panic(err)
	}
	return &p
}

// lookupKey emits r0 = lookup(map fd, key) with the 4-byte key k on the
// stack at fp-4.
func lookupKey(fd int, k int32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R7, int32(int64(k))),        // r7 = int64(k)
		asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word), // store r7
		asm.LoadMapPtr(asm.R1, fd),                  // r1 = map
		asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
		asm.Add.Imm(asm.R2, -4),                     // r2 -= 4
		asm.FnMapLookupElem.Call(),                  // r0 = lookup(r1, r2)
	}
}

func TestMapHelpers(t *testing.T) {
	arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 8, 4, 1)
	hash := newMap(t, maps.BPF_MAP_TYPE_HASH, 4, 8, 2, 1)
	queue := newMap(t, maps.BPF_MAP_TYPE_QUEUE, 0, 8, 2, 1)
	pcpu := newMap(t, maps.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 2)
	l := linker{arr, hash, queue, pcpu}
	env := newEnv(t, 2)
	update := func(fd int, k int32, v int64, flags int64) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(int64(k))),          // r7 = int64(k)
			asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word),   // store r7
			asm.Mov.Imm(asm.R7, int32(v)),                 // r7 = v
			asm.StoreMem(asm.RFP, -16, asm.R7, asm.DWord), // store r7
			asm.LoadMapPtr(asm.R1, fd),                    // r1 = map
			asm.Mov.Reg(asm.R2, asm.RFP),                  // r2 = fp
			asm.Add.Imm(asm.R2, -4),                       // r2 = &key
			asm.Mov.Reg(asm.R3, asm.RFP),                  // r3 = fp
			asm.Add.Imm(asm.R3, -16),                      // r3 = &value
			asm.Mov.Imm(asm.R4, int32(flags)),             // r4 = flags
			asm.FnMapUpdateElem.Call(),                    // r0 = update
		}
	}
	ret := asm.Instructions{asm.Return()}
	cat := func(parts ...asm.Instructions) asm.Instructions {
		var out asm.Instructions
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		prog asm.Instructions
		want int64
	}{
		{"lookup hit writes value", cat(lookupKey(10, 1), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "miss"),             // if r0 == 0 goto miss
			asm.Mov.Imm(asm.R3, 42),                    // r3 = 42
			asm.StoreMem(asm.R0, 0, asm.R3, asm.DWord), // *r0[0] = r3
			asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord),  // r0 = *(u64 *)r0
			asm.Return(), // exit
			asm.Mov.Imm(asm.R0, -1).WithSymbol("miss"), // r0 = -1
		}, ret), 42},
		{"lookup out of range is NULL", cat(lookupKey(10, 4), ret), 0},
		{"hash miss is NULL", cat(lookupKey(11, 7), ret), 0},
		{"hash update any", cat(update(11, 7, 99, 0), ret), 0},
		{"hash update noexist on existing", cat(update(11, 7, 99, 1), ret), -int64(syscall.EEXIST)},
		{"hash update exist on missing", cat(update(11, 8, 99, 2), ret), -int64(syscall.ENOENT)},
		{"hash update bad flags", cat(update(11, 8, 99, 9), ret), -int64(syscall.EINVAL)},
		{"hash lookup after update", cat(lookupKey(11, 7), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "miss"),            // if r0 == 0 goto miss
			asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord), // r0 = *(u64 *)r0
			asm.Return(), // exit
			asm.Mov.Imm(asm.R0, -1).WithSymbol("miss"), // r0 = -1
		}, ret), 99},
		{"array delete is EINVAL", asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(0)),               // r7 = 0
			asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word), // store r7
			asm.LoadMapPtr(asm.R1, 10),                  // r1 = array
			asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
			asm.Add.Imm(asm.R2, -4),                     // r2 = &key
			asm.FnMapDeleteElem.Call(),                  // r0 = delete
			asm.Return(),                                // exit
		}, -int64(syscall.EINVAL)},
		{"hash delete missing is ENOENT", asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(3)),               // r7 = 3
			asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word), // store r7
			asm.LoadMapPtr(asm.R1, 11),                  // r1 = hash
			asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
			asm.Add.Imm(asm.R2, -4),                     // r2 = &key
			asm.FnMapDeleteElem.Call(),                  // r0 = delete
			asm.Return(),                                // exit
		}, -int64(syscall.ENOENT)},
		{"queue pop empty is ENOENT", asm.Instructions{
			asm.LoadMapPtr(asm.R1, 12),   // r1 = queue
			asm.Mov.Reg(asm.R2, asm.RFP), // r2 = fp
			asm.Add.Imm(asm.R2, -8),      // r2 = fp-8
			asm.FnMapPopElem.Call(),      // r0 = pop
			asm.Return(),                 // exit
		}, -int64(syscall.ENOENT)},
		{"queue push then peek", asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(77)),               // r7 = 77
			asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord), // store r7
			asm.LoadMapPtr(asm.R1, 12),                   // r1 = queue
			asm.Mov.Reg(asm.R2, asm.RFP),                 // r2 = fp
			asm.Add.Imm(asm.R2, -8),                      // r2 = &value
			asm.Mov.Imm(asm.R3, 0),                       // r3 = flags
			asm.FnMapPushElem.Call(),                     // push
			asm.Mov.Imm(asm.R7, int32(0)),                // r7 = 0
			asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord), // store r7
			asm.LoadMapPtr(asm.R1, 12),                   // r1 = queue
			asm.Mov.Reg(asm.R2, asm.RFP),                 // r2 = fp
			asm.Add.Imm(asm.R2, -8),                      // r2 = &value
			asm.FnMapPeekElem.Call(),                     // r0 = peek
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord),  // r0 = value
			asm.Return(),                                 // exit
		}, 77},
		{"percpu lookup of slot 1", asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(0)),               // r7 = 0
			asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word), // store r7
			asm.LoadMapPtr(asm.R1, 13),                  // r1 = percpu array
			asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
			asm.Add.Imm(asm.R2, -4),                     // r2 = &key
			asm.Mov.Imm(asm.R3, 1),                      // r3 = cpu 1
			asm.FnMapLookupPercpuElem.Call(),            // r0 = lookup
			asm.JEq.Imm(asm.R0, 0, "miss"),              // if r0 == 0 goto miss
			asm.Mov.Imm(asm.R3, 5),                      // r3 = 5
			asm.StoreMem(asm.R0, 0, asm.R3, asm.DWord),  // *r0[0] = r3
			asm.Mov.Imm(asm.R0, 1),                      // r0 = 1
			asm.Return(),                                // exit
			asm.Mov.Imm(asm.R0, -1).WithSymbol("miss"),  // r0 = -1
			asm.Return(),                                // exit
		}, 1},
		{"percpu lookup beyond the slots is NULL", asm.Instructions{
			asm.Mov.Imm(asm.R7, int32(0)),               // r7 = 0
			asm.StoreMem(asm.RFP, -4, asm.R7, asm.Word), // store r7
			asm.LoadMapPtr(asm.R1, 13),                  // r1 = percpu array
			asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
			asm.Add.Imm(asm.R2, -4),                     // r2 = &key
			asm.Mov.Imm(asm.R3, 2),                      // r3 = cpu 2
			asm.FnMapLookupPercpuElem.Call(),            // r0 = lookup
			asm.Return(),                                // exit
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load(t, env, l, tt.prog)
			r0, err := p.Run(frame(64))
			require.NoError(t, err)
			assert.Equal(t, tt.want, int64(r0))
		})
	}
	v := make([]byte, 8)
	require.Zero(t, arr.SysLookup([]byte{1, 0, 0, 0}, v, 0))
	assert.Equal(t, uint64(42), binary.LittleEndian.Uint64(v), "the program's store reached the array")
	pv := make([]byte, pcpu.SysValueSize())
	require.Zero(t, pcpu.SysLookup([]byte{0, 0, 0, 0}, pv, 0))
	assert.Equal(t, uint64(5), binary.LittleEndian.Uint64(pv[8:]), "slot 1's value")
}

// A read-only map gives read-only pointers: a store through one faults.
func TestMapLookupReadOnly(t *testing.T) {
	ro, err := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: maps.BPF_F_RDONLY_PROG}, maps.Options{Slots: 1})
	require.NoError(t, err)
	p := load(t, newEnv(t, 1), linker{ro}, append(lookupKey(10, 0), asm.Instructions{
		asm.JEq.Imm(asm.R0, 0, "out"),              // if r0 == 0 goto out
		asm.Mov.Imm(asm.R3, 1),                     // r3 = 1
		asm.StoreMem(asm.R0, 0, asm.R3, asm.DWord), // *r0[0] = r3
		asm.Return().WithSymbol("out"),             // exit
	}...))
	_, err = p.Run(frame(64))
	require.ErrorIs(t, err, ebpfvm.ErrMemAccess)
}

// counterProg adds 1 atomically at offset 0 of array value 0 and stores
// the slot at offset 8 plainly.
func counterProg() asm.Instructions {
	return append(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}, append(lookupKey(10, 0), asm.Instructions{
		asm.JEq.Imm(asm.R0, 0, "out"),              // if r0 == 0 goto out
		asm.Mov.Imm(asm.R1, 1),                     // r1 = 1
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),   // lock *(u64 *)r0 += r1
		asm.Mov.Imm(asm.R3, 7),                     // r3 = 7
		asm.StoreMem(asm.R0, 8, asm.R3, asm.DWord), // *r0[8] = r3
		asm.Mov.Imm(asm.R3, 9),                     // r3 = 9
		asm.StoreMem(asm.R0, 12, asm.R3, asm.Half), // *r0[12] = r3
		asm.LoadMem(asm.R2, asm.R0, 8, asm.Byte),   // r2 = *(u8 *)(r0+8)
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),   // r0 = 0
		asm.Return(),                               // exit
	}...)...)
}

// Concurrent runs add to a shared value while Go reads it: clean under
// -race, and no update is lost.
func TestMapValueRace(t *testing.T) {
	const workers, runs = 4, 500
	arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 16, 1, workers)
	p := load(t, newEnv(t, workers), linker{arr}, counterProg())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		v := make([]byte, 16)
		for {
			select {
			case <-stop:
				return
			default:
				_ = arr.SysLookup([]byte{0, 0, 0, 0}, v, 0)
				_ = arr.SysUpdate([]byte{0, 0, 0, 0}, v, 0)
			}
		}
	}()
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m := p.NewMachine()
			pk := frame(64)
			pk.Slot = uint32(w)
			for i := 0; i < runs; i++ {
				if _, err := m.Run(pk); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	v := arr.Lookup([]byte{0, 0, 0, 0}, 0)
	// The Go writer may write back a stale counter; the program's own adds
	// are atomic, so the counter is at least what no writer overwrote and
	// never torn: its value is at most workers*runs.
	assert.LessOrEqual(t, atomicmem.Load64(v, 0), uint64(workers*runs))
	assert.Equal(t, uint64(7), atomicmem.Load64(v, 8)&0xffff)
}

// Without a Go writer, concurrent atomic adds lose nothing.
func TestMapValueAtomicAdds(t *testing.T) {
	const workers, runs = 4, 500
	arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 16, 1, workers)
	p := load(t, newEnv(t, workers), linker{arr}, counterProg())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pk := frame(64)
			pk.Slot = uint32(w)
			for i := 0; i < runs; i++ {
				_, _ = p.Run(pk)
			}
		}(w)
	}
	wg.Wait()
	v := arr.Lookup([]byte{0, 0, 0, 0}, 0)
	assert.Equal(t, uint64(workers*runs), atomicmem.Load64(v, 0))
	assert.Equal(t, uint16(9), atomicmem.Load16(v, 12))
}

func TestMapLookupAllocs(t *testing.T) {
	arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 1)
	p := load(t, newEnv(t, 1), linker{arr}, counterProg())
	m := p.NewMachine()
	pk := frame(64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := m.Run(pk); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkMapLookup(b *testing.B) {
	arr := newMap(b, maps.BPF_MAP_TYPE_ARRAY, 4, 16, 1, 1)
	p := load(b, newEnv(b, 1), linker{arr}, counterProg())
	m := p.NewMachine()
	pk := frame(64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Run(pk); err != nil {
			b.Fatal(err)
		}
	}
}

// A program calling a helper the registry lacks fails to load, naming it.
func TestMissingHelperNamed(t *testing.T) {
	env := newEnv(t, 1)
	_, err := ebpfvm.Load(vmInsns(t, asm.Instructions{
		asm.FnSkbUnderCgroup.Call(), // r0 = skb_under_cgroup(...)
		asm.Return(),                // exit
	}), ebpfvm.Options{Helpers: env.Helpers()})
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.Contains(t, err.Error(), "bpf_skb_under_cgroup#33")
	_, err = ebpfvm.Load([]ebpfvm.Instruction{
		{Op: 0x85, Imm: 5000}, // call 5000
		{Op: 0x95},            // exit
	}, ebpfvm.Options{Helpers: env.Helpers()})
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.Contains(t, err.Error(), "unknown#5000")
}

// A lookup in an array of maps yields the inner map, which the program
// looks up in turn.
func TestMapInMapLookup(t *testing.T) {
	innerSpec := &maps.Spec{Type: maps.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1}
	outer, err := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 2, Inner: innerSpec}, maps.Options{Slots: 1})
	require.NoError(t, err)
	inner, err := maps.New(innerSpec, maps.Options{Slots: 1})
	require.NoError(t, err)
	require.Zero(t, outer.(maps.ObjectMap).UpdateObject([]byte{1, 0, 0, 0}, inner, 0))
	prog := func(slot int32) asm.Instructions {
		return append(lookupKey(10, slot), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "miss"),              // if r0 == NULL goto miss
			asm.Mov.Reg(asm.R1, asm.R0),                 // r1 = inner map
			asm.Mov.Reg(asm.R2, asm.RFP),                // r2 = fp
			asm.Add.Imm(asm.R2, -8),                     // r2 = fp-8
			asm.Mov.Imm(asm.R3, 0),                      // r3 = 0
			asm.StoreMem(asm.RFP, -8, asm.R3, asm.Word), // key 0
			asm.FnMapLookupElem.Call(),                  // r0 = lookup(inner, 0)
			asm.JEq.Imm(asm.R0, 0, "miss"),              // if r0 == NULL goto miss
			asm.Mov.Imm(asm.R3, 5),                      // r3 = 5
			asm.StoreMem(asm.R0, 0, asm.R3, asm.DWord),  // *value = 5
			asm.Mov.Imm(asm.R0, 1),                      // r0 = 1
			asm.Return(),                                // exit
			asm.Mov.Imm(asm.R0, 0).WithSymbol("miss"),   // r0 = 0
			asm.Return(),                                // exit
		}...)
	}
	for _, tt := range []struct {
		slot int32
		want uint64
	}{{1, 1}, {0, 0}, {2, 0}} {
		p := load(t, newEnv(t, 1), linker{outer}, prog(tt.slot))
		r0, err := p.Run(frame(64))
		require.NoError(t, err)
		assert.Equal(t, tt.want, r0, "outer slot %d", tt.slot)
	}
	v := make([]byte, 8)
	require.Zero(t, inner.SysLookup([]byte{0, 0, 0, 0}, v, 0))
	assert.Equal(t, uint64(5), binary.LittleEndian.Uint64(v))
}
