//go:build linux

package tcx_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// orderProg returns a program that appends tag to the trace in map[0]
// (trace = trace*8 + tag) and returns ret.
func orderProg(t *testing.T, m *cebpf.Map, tag, ret int32) *cebpf.Program {
	p, err := cebpf.NewProgram(&cebpf.ProgramSpec{
		Name: fmt.Sprintf("order%d", tag), Type: cebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0, asm.Word),     // *(u32 *)(r10 - 4) = 0
			asm.LoadMapPtr(asm.R1, m.FD()),             // r1 = map
			asm.Mov.Reg(asm.R2, asm.R10),               // r2 = r10
			asm.Add.Imm(asm.R2, -4),                    // r2 += -4
			asm.FnMapLookupElem.Call(),                 // call bpf_map_lookup_elem
			asm.JEq.Imm(asm.R0, 0, "out"),              // if r0 == 0 goto out
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),  // r1 = *(u64 *)(r0 + 0)
			asm.Mul.Imm(asm.R1, 8),                     // r1 *= 8
			asm.Add.Imm(asm.R1, tag),                   // r1 += tag
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord), // *(u64 *)(r0 + 0) = r1
			asm.Mov.Imm(asm.R0, ret).WithSymbol("out"), // out: r0 = ret
			asm.Return(), // exit
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// TestOrderAgainstKernel attaches programs in generated orders (first,
// last, before and after others) to the kernel's tcx ingress of a veth
// and to a List, sends a frame through the veth and runs the List on
// it: each program appends its tag to a trace, so the kernel's trace
// and the library's must be equal, including the cut a program
// returning a value other than TCX_NEXT makes.
func TestOrderAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "ip", "link", "set", "veth0", "up")
	ns.MustRun(t, "ip", "link", "set", "veth1", "up")
	ks := &kernelSide{ns: ns, ifindex: uint32(ns.Ifindex(t, "veth1")), typ: unix.BPF_TCX_INGRESS}
	sock := ns.PacketSocket(t, "veth0")
	m, err := cebpf.NewMap(&cebpf.MapSpec{Type: cebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	require.NoError(t, err)
	defer m.Close()

	// Tags 1..6 return TCX_NEXT; tag 7 returns 1, which ends the list.
	var trace uint64
	var kprogs []*cebpf.Program
	var lprogs []*fakeProg
	for tag := int32(1); tag <= 7; tag++ {
		ret := int32(-1)
		if tag == 7 {
			ret = 1
		}
		kp := orderProg(t, m, tag, ret)
		info, err := kp.Info()
		require.NoError(t, err)
		id, _ := info.ID()
		kprogs = append(kprogs, kp)
		lprogs = append(lprogs, &fakeProg{id: uint32(id), ret: uint32(ret), run: func(*packet.Packet) { trace = trace*8 + uint64(tag) }})
	}

	rounds := 60
	if testing.Short() {
		rounds = 15
	}
	r := rand.New(rand.NewPCG(5, 8))
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	pkt := packet.New(60)
	for round := range rounds {
		var list tcx.List
		attached := 0
		for _, i := range r.Perm(len(kprogs))[:1+r.IntN(len(kprogs))] {
			flags, rel := uint32(0), uint32(0)
			switch r.IntN(4) {
			case 0:
				flags = tcx.FlagBefore
			case 1:
				flags = tcx.FlagAfter
			case 2:
				if attached > 0 {
					q, _ := list.Query()
					flags = tcx.FlagBefore | tcx.FlagID
					if r.IntN(2) == 0 {
						flags = tcx.FlagAfter | tcx.FlagID
					}
					rel = q.Programs[r.IntN(len(q.Programs))].ProgramID
				}
			}
			require.Zero(t, ks.attach(kprogs[i].FD(), flags, 0, rel, 0))
			require.NoError(t, list.Attach(lprogs[i], tcx.AttachOptions{Flags: flags, Relative: rel}))
			attached++
		}
		kq, _ := ks.query()
		lq, _ := list.Query()
		require.Equal(t, kq, lq)

		require.NoError(t, m.Put(uint32(0), uint64(0)))
		require.NoError(t, sock.Send(frame, 0))
		// Delivery through the veth's backlog is asynchronous; the first
		// program always leaves a non-zero trace.
		var ktrace uint64
		for range 1000 {
			require.NoError(t, m.Lookup(uint32(0), &ktrace))
			if ktrace != 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}

		trace = 0
		require.NoError(t, pkt.SetFrame(frame))
		v := list.Run(pkt)
		require.Equal(t, tcx.Next, v)
		require.Equal(t, ktrace, trace, "round %d: order %+v", round, lq.Programs)

		for range attached {
			require.Zero(t, ks.detach(0, tcx.FlagBefore, 0, 0))
		}
	}
}
