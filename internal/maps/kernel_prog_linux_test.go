//go:build linux

package maps

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"

	ciliumebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// The program-side differential test runs each operation as a tiny
// SCHED_CLS program in the kernel (BPF_PROG_TEST_RUN) that calls the map
// helper with constant arguments and returns what the helper returned, and
// runs the same operation through the program-side methods here. The test
// thread is pinned to one CPU, the lowest it may use, so that per-CPU maps
// use that CPU's values in the kernel and the slot of the same number here.

// progSeed varies the generated operations (CLSBPF_MAPS_DIFF_SEED).
var progSeed uint64 = 5

// progOp is one helper call.
type progOp struct {
	kind  string // "update", "delete", "lookup", "push", "pop", "peek"
	key   []byte
	value []byte
	flags uint64
}

const nullRet = 0xffffffff

// storeBytes writes b at fp+off byte by byte.
func storeBytes(off int16, b []byte) asm.Instructions {
	var insns asm.Instructions
	for i, c := range b {
		insns = append(insns, asm.StoreImm(asm.RFP, off+int16(i), int64(c), asm.Byte)) // *(u8 *)(fp + off + i) = c
	}
	return insns
}

// opProgram builds the program for op on map fd: it returns the helper's
// result, or for lookups 0xffffffff for NULL and else 0x100 | the first
// value byte; pop and peek return 0x100 | the first byte on success.
func opProgram(fd int, op progOp, vs int) asm.Instructions {
	const keyOff, valOff = -64, -32 // keys and values of these cases are at most 8 bytes
	insns := storeBytes(keyOff, op.key)
	val := op.value
	if val == nil {
		val = make([]byte, vs)
	}
	insns = append(insns, storeBytes(valOff, val)...)
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, fd),           // r1 = map
		asm.Mov.Reg(asm.R2, asm.RFP),         // r2 = fp
		asm.Add.Imm(asm.R2, keyOff),          // r2 = &key
		asm.Mov.Reg(asm.R3, asm.RFP),         // r3 = fp
		asm.Add.Imm(asm.R3, valOff),          // r3 = &value
		asm.Mov.Imm(asm.R4, int32(op.flags)), // r4 = flags
	)
	switch op.kind {
	case "update":
		insns = append(insns,
			asm.FnMapUpdateElem.Call(), // r0 = map_update_elem(map, &key, &value, flags)
			asm.Return(),               // exit
		)
	case "delete":
		insns = append(insns,
			asm.FnMapDeleteElem.Call(), // r0 = map_delete_elem(map, &key)
			asm.Return(),               // exit
		)
	case "push":
		insns = append(insns,
			asm.Mov.Reg(asm.R2, asm.R3),          // r2 = &value
			asm.Mov.Imm(asm.R3, int32(op.flags)), // r3 = flags
			asm.FnMapPushElem.Call(),             // r0 = map_push_elem(map, &value, flags)
			asm.Return(),                         // exit
		)
	case "pop", "peek":
		fn := asm.FnMapPopElem
		if op.kind == "peek" {
			fn = asm.FnMapPeekElem
		}
		insns = append(insns,
			asm.Mov.Reg(asm.R2, asm.R3),  // r2 = &value
			fn.Call(),                    // r0 = map_pop_elem or map_peek_elem(map, &value)
			asm.JEq.Imm(asm.R0, 0, "ok"), // if r0 == 0 goto ok
			asm.Return(),                 // exit
			asm.LoadMem(asm.R0, asm.RFP, valOff, asm.Byte).WithSymbol("ok"), // ok: r0 = *(u8 *)&value
			asm.Or.Imm(asm.R0, 0x100), // r0 |= 0x100
			asm.Return(),              // exit
		)
	case "lookup":
		insns = append(insns,
			asm.FnMapLookupElem.Call(),      // r0 = map_lookup_elem(map, &key)
			asm.JNE.Imm(asm.R0, 0, "found"), // if r0 != NULL goto found
			asm.Mov.Imm32(asm.R0, -1),       // w0 = 0xffffffff
			asm.Return(),                    // exit
			asm.LoadMem(asm.R0, asm.R0, 0, asm.Byte).WithSymbol("found"), // found: r0 = *(u8 *)r0
			asm.Or.Imm(asm.R0, 0x100),                                    // r0 |= 0x100
			asm.Return(),                                                 // exit
		)
	}
	return insns
}

// ourOp runs op on slot and returns what the kernel program returns.
func ourOp(m Map, op progOp, slot uint32) uint32 {
	neg := func(e syscall.Errno) uint32 { return uint32(-int32(e)) }
	switch op.kind {
	case "update":
		return neg(m.Update(op.key, op.value, op.flags, slot))
	case "delete":
		return neg(m.Delete(op.key))
	case "push":
		return neg(m.(QueueMap).Push(op.value, op.flags))
	case "pop", "peek":
		out := make([]byte, m.Info().Spec.ValueSize)
		var e syscall.Errno
		if op.kind == "pop" {
			e = m.(QueueMap).Pop(out)
		} else {
			e = m.(QueueMap).Peek(out)
		}
		if e != 0 {
			return neg(e)
		}
		return 0x100 | uint32(out[0])
	default:
		p := m.Lookup(op.key, slot)
		if p == nil {
			return nullRet
		}
		return 0x100 | uint32(p[0])
	}
}

// pinCPU runs the calling goroutine's thread on the lowest CPU it may use
// until the test ends, restores the thread's affinity then, and returns
// the CPU.
func pinCPU(t *testing.T) uint32 {
	runtime.LockOSThread()
	var old, set unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &old))
	cpu := 0
	for !old.IsSet(cpu) {
		cpu++
		require.Less(t, cpu, 1024, "no CPU in the affinity mask")
	}
	set.Set(cpu)
	require.NoError(t, unix.SchedSetaffinity(0, &set))
	t.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
	return uint32(cpu)
}

// TestKernelProgramSide compares generated program-side operations (the
// map helpers as programs call them) with the kernel's.
func TestKernelProgramSide(t *testing.T) {
	requireBPF(t)
	kerneltest.RequireRoot(t)
	cpus := possibleCPUs(t)
	cases := []struct {
		name string
		spec Spec
		key  func(r *rand.Rand) []byte
		ops  []string
	}{
		{"array", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3}, u32key(5), []string{"update", "lookup", "delete"}},
		{"percpu_array", Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3}, u32key(5), []string{"update", "lookup", "delete"}},
		{"hash", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: BPF_F_ZERO_SEED}, u32key(7), []string{"update", "lookup", "delete"}},
		{"hash_noprealloc", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 3, ValueSize: 2, MaxEntries: 3, Flags: BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED}, smallKey(3, 6), []string{"update", "lookup", "delete"}},
		{"percpu_hash", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: BPF_F_ZERO_SEED}, u32key(7), []string{"update", "lookup", "delete"}},
		{"lru_hash", Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1024, Flags: BPF_F_ZERO_SEED}, u32key(30), []string{"update", "lookup", "delete"}},
		{"lru_percpu_hash", Spec{Type: BPF_MAP_TYPE_LRU_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1024, Flags: BPF_F_ZERO_SEED}, u32key(30), []string{"update", "lookup", "delete"}},
		{"lpm", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 6, ValueSize: 1, MaxEntries: 6, Flags: BPF_F_NO_PREALLOC}, lpmKey(2), []string{"update", "lookup", "delete"}},
		{"queue", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 3}, nil, []string{"push", "pop", "peek"}},
		{"stack", Spec{Type: BPF_MAP_TYPE_STACK, ValueSize: 1, MaxEntries: 2}, nil, []string{"push", "pop", "peek"}},
	}
	flagsSet := []uint64{BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, BPF_F_LOCK | BPF_NOEXIST, 3, 8}
	opsPer := 60
	if n := diffOps(); n > 0 {
		opsPer = n
		progSeed = diffSeed
	}
	if testing.Short() {
		opsPer = 15
	}
	total := 0
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			slot := pinCPU(t) // each subtest runs on a goroutine of its own
			km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(tc.spec.Type), KeySize: tc.spec.KeySize,
				ValueSize: tc.spec.ValueSize, MaxEntries: tc.spec.MaxEntries, Flags: tc.spec.Flags})
			require.NoError(t, err)
			defer km.Close()
			our, err := New(&tc.spec, Options{Slots: cpus})
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(uint64(ci), progSeed))
			for i := 0; i < opsPer; i++ {
				op := progOp{kind: tc.ops[r.IntN(len(tc.ops))], flags: flagsSet[r.IntN(len(flagsSet))]}
				if op.kind == "update" && r.IntN(2) == 0 {
					op.flags = BPF_ANY
				}
				if tc.key != nil {
					op.key = tc.key(r)
				}
				if op.kind == "update" || op.kind == "push" {
					op.value = make([]byte, tc.spec.ValueSize)
					for j := range op.value {
						op.value[j] = byte(r.IntN(200) + 1)
					}
				}
				prog, err := ciliumebpf.NewProgram(&ciliumebpf.ProgramSpec{
					Type: ciliumebpf.SchedCLS, License: "GPL",
					Instructions: opProgram(km.FD(), op, int(tc.spec.ValueSize)),
				})
				require.NoError(t, err, "load %+v", op)
				ret, err := prog.Run(&ciliumebpf.RunOptions{Data: make([]byte, 64)})
				prog.Close()
				require.NoError(t, err)
				got := ourOp(our, op, slot)
				require.Equal(t, fmt.Sprintf("%#x", ret), fmt.Sprintf("%#x", got), "op %d: %s key %x value %x flags %d", i, op.kind, op.key, op.value, op.flags)
				total++
			}
			// The syscall view afterwards: every key, every slot's value.
			compareContents(t, diffCase{spec: tc.spec}, km, our)
		})
	}
	t.Logf("%d program-side operations compared", total)
}

// TestKernelLookupPercpuElem compares bpf_map_lookup_percpu_elem on
// per-CPU arrays and hashes: each CPU's value, and NULL for CPUs that do
// not exist and keys that are not there.
func TestKernelLookupPercpuElem(t *testing.T) {
	requireBPF(t)
	cpus := possibleCPUs(t)
	for _, s := range []Spec{
		{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3},
		{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 3},
		{Type: BPF_MAP_TYPE_LRU_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 64},
	} {
		t.Run(s.Type.String(), func(t *testing.T) {
			km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(s.Type), KeySize: s.KeySize,
				ValueSize: s.ValueSize, MaxEntries: s.MaxEntries})
			require.NoError(t, err)
			defer km.Close()
			our, err := New(&s, Options{Slots: cpus})
			require.NoError(t, err)
			for k := uint32(0); k < 2; k++ {
				v := make([]byte, our.SysValueSize())
				for c := 0; c < cpus; c++ {
					v[c*8] = byte(10*k + uint32(c) + 1)
				}
				require.Zero(t, kernelOp(cmdMapUpdateElem, km.FD(), k32(k), v, 0))
				require.Zero(t, our.SysUpdate(k32(k), v, 0))
			}
			for k := uint32(0); k < 4; k++ {
				for cpu := 0; cpu <= cpus+1; cpu++ {
					insns := append(storeBytes(-8, k32(k)),
						asm.LoadMapPtr(asm.R1, km.FD()),                              // r1 = map
						asm.Mov.Reg(asm.R2, asm.RFP),                                 // r2 = fp
						asm.Add.Imm(asm.R2, -8),                                      // r2 = &key
						asm.Mov.Imm(asm.R3, int32(cpu)),                              // r3 = cpu
						asm.FnMapLookupPercpuElem.Call(),                             // r0 = map_lookup_percpu_elem(map, &key, cpu)
						asm.JNE.Imm(asm.R0, 0, "found"),                              // if r0 != NULL goto found
						asm.Mov.Imm32(asm.R0, -1),                                    // w0 = 0xffffffff
						asm.Return(),                                                 // exit
						asm.LoadMem(asm.R0, asm.R0, 0, asm.Byte).WithSymbol("found"), // found: r0 = *(u8 *)r0
						asm.Return(),                                                 // exit
					)
					prog, err := ciliumebpf.NewProgram(&ciliumebpf.ProgramSpec{Type: ciliumebpf.SchedCLS, License: "GPL", Instructions: insns})
					require.NoError(t, err)
					ret, err := prog.Run(&ciliumebpf.RunOptions{Data: make([]byte, 64)})
					prog.Close()
					require.NoError(t, err)
					want := uint32(nullRet)
					if p := our.(PercpuLookup).LookupSlot(k32(k), uint32(cpu)); p != nil {
						want = uint32(p[0])
					}
					require.Equal(t, ret, want, "key %d cpu %d", k, cpu)
				}
			}
		})
	}
}
