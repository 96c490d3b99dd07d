package tchelpers_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// fuzzHelpers are the helper ids FuzzHelperCall picks from.
var fuzzHelpers = []asm.BuiltinFunc{
	asm.FnMapLookupElem, asm.FnMapUpdateElem, asm.FnMapDeleteElem, asm.FnMapPushElem,
	asm.FnMapPopElem, asm.FnMapPeekElem, asm.FnMapLookupPercpuElem, asm.FnKtimeGetNs,
	asm.FnGetPrandomU32, asm.FnGetSmpProcessorId, asm.FnSkbLoadBytes, asm.FnSkbLoadBytesRelative,
	asm.FnSkbStoreBytes, asm.FnL3CsumReplace, asm.FnL4CsumReplace, asm.FnCsumDiff,
	asm.FnCsumUpdate, asm.FnCsumLevel, asm.FnSkbPullData, asm.FnSetHash, asm.FnSetHashInvalid,
	asm.FnGetCgroupClassid, asm.FnGetRouteRealm, asm.FnRedirect, asm.FnRedirectPeer,
	asm.FnRedirectNeigh, asm.FnTailCall, asm.FnSkbVlanPush, asm.FnSkbVlanPop,
	asm.FnSkbChangeTail, asm.FnSkbChangeHead, asm.FnSkbChangeType,
}

// fuzzProgram builds a program from in: two helper calls, each argument
// an immediate, a stack pointer, the context, a packet pointer or a map
// handle; after the calls it reads and writes through the packet
// pointers it reloads, so stale or moved packets are exercised.
func fuzzProgram(in []byte) asm.Instructions {
	next := func(n int) []byte {
		if len(in) < n {
			in = append(in, make([]byte, n-len(in))...)
		}
		b := in[:n]
		in = in[n:]
		return b
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
	}
	regs := []asm.Register{asm.R1, asm.R2, asm.R3, asm.R4, asm.R5}
	for call := 0; call < 2; call++ {
		fn := fuzzHelpers[int(next(1)[0])%len(fuzzHelpers)]
		for i, r := range regs {
			sel := next(1)[0] % 6
			v := int64(binary.LittleEndian.Uint64(next(8)))
			switch sel {
			case 0, 1:
				insns = append(insns, asm.LoadImm(r, v, asm.DWord)) // rN = imm
			case 2:
				insns = append(insns, asm.Mov.Reg(r, asm.RFP), asm.Add.Imm(r, -int32(uint8(v)%64+1))) // rN = fp - k
			case 3:
				insns = append(insns, asm.Mov.Reg(r, asm.R6)) // rN = ctx
			case 4:
				insns = append(insns, asm.LoadMem(r, asm.R6, 76, asm.Word), asm.Add.Imm(r, int32(uint8(v)))) // rN = data + k
			default:
				insns = append(insns, asm.LoadMapPtr(r, 10+int(uint8(v))%3)) // rN = map
			}
			_ = i
		}
		insns = append(insns, fn.Call()) // r0 = helper(...)
	}
	return append(insns,
		asm.LoadMem(asm.R2, asm.R6, 76, asm.Word),  // r2 = data
		asm.LoadMem(asm.R3, asm.R6, 80, asm.Word),  // r3 = data_end
		asm.Mov.Reg(asm.R4, asm.R2),                // r4 = data
		asm.Add.Imm(asm.R4, 16),                    // r4 = data + 16
		asm.JGT.Reg(asm.R4, asm.R3, "out"),         // if data + 16 > data_end goto out
		asm.LoadMem(asm.R5, asm.R2, 8, asm.DWord),  // r5 = *(u64 *)(data + 8)
		asm.StoreMem(asm.R2, 0, asm.R5, asm.DWord), // *(u64 *)data = r5
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),   // r0 = 0
		asm.Return(),                               // exit
	)
}

// FuzzHelperCall calls helpers with arbitrary arguments: every run ends
// with a result or an error, never a panic or an access outside the
// program's regions, and the packet stays consistent.
func FuzzHelperCall(f *testing.F) {
	f.Add([]byte{0}, []byte{})
	f.Add([]byte{12, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0}, tcpFrame(rand.New(rand.NewPCG(1, 1))))
	f.Add([]byte{28, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18}, tcpFrame(rand.New(rand.NewPCG(1, 1))))
	f.Add([]byte{0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 0, 0, 0, 0, 0, 0, 0}, []byte{1, 2, 3})
	f.Add([]byte{30, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0}, tcpFrame(rand.New(rand.NewPCG(1, 1))))
	f.Fuzz(func(t *testing.T, code, frame []byte) {
		env, err := tchelpers.Registry(tchelpers.Options{Slots: 2})
		if err != nil {
			t.Fatal(err)
		}
		arr, _ := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4}, maps.Options{Slots: 2})
		q, _ := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 4}, maps.Options{Slots: 2})
		pa, _ := maps.New(&maps.Spec{Type: maps.BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2}, maps.Options{Slots: 2})
		insns := fuzzProgram(code)
		p, err := ebpfvm.Load(vmInsns(t, insns), ebpfvm.Options{Helpers: env.Helpers(), Linker: linker{arr, q, pa}})
		if err != nil {
			return // the verifier refused it: fine
		}
		pa.(maps.ObjectMap).UpdateObject([]byte{0, 0, 0, 0}, vmProg{p}, 0)
		var pk packet.Packet
		if len(frame) < 14 {
			frame = append(frame, make([]byte, 14-len(frame))...)
		}
		if pk.SetFrame(frame) != nil {
			return
		}
		_, _ = p.Run(&pk)
		if pk.LinearLen() > pk.Len() || pk.Len() < 0 {
			t.Fatalf("inconsistent packet: linear %d of %d", pk.LinearLen(), pk.Len())
		}
	})
}
