package tchelpers_test

import (
	"encoding/binary"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/maps"
)

// funcPtr loads the address of the function labelled sym into dst.
func funcPtr(dst asm.Register, sym string) asm.Instruction {
	return asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: dst, Src: asm.PseudoFunc}.WithReference(sym)
}

// withFunc marks ins as the start of a BTF function named name, as clang
// emits func_info for every function.
func withFunc(ins asm.Instruction, name string) asm.Instruction {
	linkage := btf.StaticFunc // callbacks must be static
	if name == "main" {
		linkage = btf.GlobalFunc
	}
	return btf.WithFuncMetadata(ins.WithSymbol(name), &btf.Func{Name: name, Type: &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, Linkage: linkage})
}

// loopProgram runs bpf_loop(n, cb, &ctx, flags) where cb adds its index
// to the u64 ctx on the stack and stops when the index equals stop; it
// returns the loop's result in cb[0] and ctx in cb[1], and R0 0.
func loopProgram(n, stop int32, flags int64) asm.Instructions {
	return asm.Instructions{
		withFunc(asm.Mov.Reg(asm.R6, asm.R1), "main"),             // r6 = ctx
		asm.Mov.Imm(asm.R1, 0),                                    // r1 = 0
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),              // sum = 0
		asm.Mov.Imm(asm.R1, n),                                    // r1 = n
		funcPtr(asm.R2, "cb"),                                     // r2 = cb
		asm.Mov.Reg(asm.R3, asm.RFP),                              // r3 = fp
		asm.Add.Imm(asm.R3, -8),                                   // r3 = &sum
		asm.LoadImm(asm.R4, flags, asm.DWord),                     // r4 = flags
		asm.FnLoop.Call(),                                         // r0 = bpf_loop(...)
		asm.StoreMem(asm.R6, 48, asm.R0, asm.Word),                // cb[0] = r0
		asm.LoadMem(asm.R1, asm.RFP, -8, asm.DWord),               // r1 = sum
		asm.StoreMem(asm.R6, 52, asm.R1, asm.Word),                // cb[1] = sum
		asm.Mov.Imm(asm.R0, 0),                                    // r0 = 0
		asm.Return(),                                              // exit
		withFunc(asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord), "cb"), // r3 = *ctx
		asm.Add.Reg(asm.R3, asm.R1),                               // r3 += index
		asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),                // *ctx = r3
		asm.Mov.Imm(asm.R0, 0),                                    // r0 = continue
		jneSkip(asm.R1, stop),                                     // if index != stop goto +1
		asm.Mov.Imm(asm.R0, 1),                                    // r0 = stop
		asm.Return(),                                              // exit
	}
}

func loadFuncs(t testing.TB, l linker, insns asm.Instructions) *ebpfvm.Program {
	t.Helper()
	p, err := ebpfvm.Load(vmInsns(t, resolveFuncRefs(insns)), ebpfvm.Options{Helpers: newEnv(t, 1).Helpers(), Linker: l, FuncInfo: true})
	require.NoError(t, err)
	return p
}

func TestBPFLoop(t *testing.T) {
	tests := []struct {
		name    string
		n, stop int32
		flags   int64
		ret     int64
		sum     uint32
	}{
		{"ten iterations", 10, -1, 0, 10, 45},
		{"stop at index 3", 10, 3, 0, 4, 6},
		{"zero iterations", 0, -1, 0, 0, 0},
		{"flags", 10, -1, 1, -int64(syscall.EINVAL), 0},
		{"too many", 1<<23 + 1, -1, 0, -int64(syscall.E2BIG), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadFuncs(t, nil, loopProgram(tt.n, tt.stop, tt.flags))
			pk := frame(64)
			_, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.ret, int64(int32(pk.CB[0])))
			assert.Equal(t, tt.sum, pk.CB[1])
		})
	}
}

// forEachProgram sums the values of the array or hash map at fd 10 with
// bpf_for_each_map_elem, doubling each value in place, stopping after a
// key equal to stop; count in cb[0], sum in cb[1].
func forEachProgram(stop int32) asm.Instructions {
	return asm.Instructions{
		withFunc(asm.Mov.Reg(asm.R6, asm.R1), "main"),             // r6 = ctx
		asm.Mov.Imm(asm.R1, 0),                                    // r1 = 0
		asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),              // sum = 0
		asm.LoadMapPtr(asm.R1, 10),                                // r1 = map
		funcPtr(asm.R2, "cb"),                                     // r2 = cb
		asm.Mov.Reg(asm.R3, asm.RFP),                              // r3 = fp
		asm.Add.Imm(asm.R3, -8),                                   // r3 = &sum
		asm.Mov.Imm(asm.R4, 0),                                    // r4 = flags
		asm.FnForEachMapElem.Call(),                               // r0 = for_each(...)
		asm.StoreMem(asm.R6, 48, asm.R0, asm.Word),                // cb[0] = r0
		asm.LoadMem(asm.R1, asm.RFP, -8, asm.DWord),               // r1 = sum
		asm.StoreMem(asm.R6, 52, asm.R1, asm.Word),                // cb[1] = sum
		asm.Mov.Imm(asm.R0, 0),                                    // r0 = 0
		asm.Return(),                                              // exit
		withFunc(asm.LoadMem(asm.R5, asm.R3, 0, asm.DWord), "cb"), // r5 = value
		asm.LoadMem(asm.R0, asm.R4, 0, asm.DWord),                 // r0 = sum
		asm.Add.Reg(asm.R0, asm.R5),                               // r0 += value
		asm.StoreMem(asm.R4, 0, asm.R0, asm.DWord),                // sum = r0
		asm.Add.Reg(asm.R5, asm.R5),                               // r5 *= 2
		asm.StoreMem(asm.R3, 0, asm.R5, asm.DWord),                // value = r5
		asm.LoadMem(asm.R1, asm.R2, 0, asm.Word),                  // r1 = key
		asm.Mov.Imm(asm.R0, 0),                                    // r0 = continue
		jneSkip(asm.R1, stop),                                     // if key != stop goto +1
		asm.Mov.Imm(asm.R0, 1),                                    // r0 = stop
		asm.Return(),                                              // exit
	}
}

func TestForEachMapElem(t *testing.T) {
	for _, stop := range []int32{-1, 2} {
		arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 8, 5, 1)
		for i := uint32(0); i < 5; i++ {
			v := binary.LittleEndian.AppendUint64(nil, uint64(i+1))
			require.Zero(t, arr.SysUpdate(binary.LittleEndian.AppendUint32(nil, i), v, 0))
		}
		p := loadFuncs(t, linker{arr}, forEachProgram(stop))
		pk := frame(64)
		_, err := p.Run(pk)
		require.NoError(t, err)
		wantN, wantSum := uint32(5), uint32(15)
		if stop == 2 {
			wantN, wantSum = 3, 6
		}
		assert.Equal(t, wantN, pk.CB[0])
		assert.Equal(t, wantSum, pk.CB[1])
		v := make([]byte, 8)
		require.Zero(t, arr.SysLookup([]byte{0, 0, 0, 0}, v, 0))
		assert.Equal(t, uint64(2), binary.LittleEndian.Uint64(v), "the callback doubled the value in place")
	}
}

// A callback walking a map larger than the region table releases its
// regions after each element.
func TestForEachLargeMap(t *testing.T) {
	h := newMap(t, maps.BPF_MAP_TYPE_HASH, 4, 8, 2000, 1)
	for i := uint32(0); i < 2000; i++ {
		require.Zero(t, h.SysUpdate(binary.LittleEndian.AppendUint32(nil, i), binary.LittleEndian.AppendUint64(nil, 1), 0))
	}
	p := loadFuncs(t, linker{h}, forEachProgram(-1))
	pk := frame(64)
	_, err := p.Run(pk)
	require.NoError(t, err)
	assert.Equal(t, uint32(2000), pk.CB[0])
	assert.Equal(t, uint32(2000), pk.CB[1])
}

// TestKernelCallbacks compares bpf_loop and bpf_for_each_map_elem with
// the kernel.
func TestKernelCallbacks(t *testing.T) {
	kerneltest.RequireBPF(t)
	for _, tc := range []struct{ n, stop int32 }{{10, -1}, {10, 3}, {0, -1}, {1000, 999}, {1 << 23, 5}, {1<<23 + 1, -1}} {
		insns := loopProgram(tc.n, tc.stop, 0)
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: resolveFuncRefs(insns)})
		require.NoError(t, err)
		f := tcpFrame(rand.New(rand.NewPCG(5, 5)))
		kres, err := runBig(kp, f)
		kp.Close()
		require.NoError(t, err)
		pk := testRunPacket(t, f)
		_, err = loadFuncs(t, nil, insns).Run(pk)
		require.NoError(t, err)
		assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48:]), pk.CB[0], "loop %v: result", tc)
		assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[52:]), pk.CB[1], "loop %v: sum", tc)
	}
	for _, stop := range []int32{-1, 0, 2, 4} {
		km, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 5})
		require.NoError(t, err)
		arr := newMap(t, maps.BPF_MAP_TYPE_ARRAY, 4, 8, 5, 1)
		for i := uint32(0); i < 5; i++ {
			require.NoError(t, km.Put(i, uint64(i*3+1)))
			require.Zero(t, arr.SysUpdate(binary.LittleEndian.AppendUint32(nil, i), binary.LittleEndian.AppendUint64(nil, uint64(i*3+1)), 0))
		}
		insns := forEachProgram(stop)
		kinsns := append(asm.Instructions{}, insns...)
		for i := range kinsns {
			if kinsns[i].IsLoadFromMap() {
				kinsns[i] = asm.LoadMapPtr(kinsns[i].Dst, km.FD())
			}
		}
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL", Instructions: resolveFuncRefs(kinsns)})
		require.NoError(t, err)
		f := tcpFrame(rand.New(rand.NewPCG(5, 5)))
		kres, err := runBig(kp, f)
		kp.Close()
		require.NoError(t, err)
		pk := testRunPacket(t, f)
		_, err = loadFuncs(t, linker{arr}, insns).Run(pk)
		require.NoError(t, err)
		assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48:]), pk.CB[0], "for_each stop %d: count", stop)
		assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[52:]), pk.CB[1], "for_each stop %d: sum", stop)
		for i := uint32(0); i < 5; i++ {
			var kv uint64
			require.NoError(t, km.Lookup(i, &kv))
			v := make([]byte, 8)
			require.Zero(t, arr.SysLookup(binary.LittleEndian.AppendUint32(nil, i), v, 0))
			assert.Equal(t, kv, binary.LittleEndian.Uint64(v), "for_each stop %d: value %d", stop, i)
		}
		km.Close()
	}
}

// resolveFuncRefs sets the immediates of function pointer loads to the
// distance to their target, as the kernel's loader does, and drops the
// references; Marshal resolves jumps and calls only.
func resolveFuncRefs(insns asm.Instructions) asm.Instructions {
	out := make(asm.Instructions, len(insns))
	offs := make(map[string]int64)
	var off int64
	for i, ins := range insns {
		out[i] = ins
		if sym := ins.Symbol(); sym != "" {
			offs[sym] = off
		}
		off += int64(ins.Size() / asm.InstructionSize)
	}
	off = 0
	for i, ins := range insns {
		if ins.IsLoadOfFunctionPointer() {
			rel := offs[ins.Reference()] - off - 1
			out[i] = asm.Instruction{OpCode: ins.OpCode, Dst: ins.Dst, Src: ins.Src, Constant: int64(uint32(int32(rel)))}
		}
		off += int64(ins.Size() / asm.InstructionSize)
	}
	return out
}

// jneSkip is "if r != imm goto +1" with a plain offset: a label inside a
// function would make cilium/ebpf start a new function there.
func jneSkip(r asm.Register, imm int32) asm.Instruction {
	return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JNE).SetSource(asm.ImmSource), Dst: r, Constant: int64(imm), Offset: 1}
}
