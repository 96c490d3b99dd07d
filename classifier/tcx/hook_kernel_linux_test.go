//go:build linux

package tcx_test

import (
	"fmt"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// counterProg returns a program that adds 1 to map[0] and returns ret.
func counterProg(t *testing.T, m *cebpf.Map, name string, ret int32) *cebpf.Program {
	p, err := cebpf.NewProgram(&cebpf.ProgramSpec{
		Name: name, Type: cebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0, asm.Word),     // *(u32 *)(r10 - 4) = 0
			asm.LoadMapPtr(asm.R1, m.FD()),             // r1 = map
			asm.Mov.Reg(asm.R2, asm.R10),               // r2 = r10
			asm.Add.Imm(asm.R2, -4),                    // r2 += -4
			asm.FnMapLookupElem.Call(),                 // call bpf_map_lookup_elem
			asm.JEq.Imm(asm.R0, 0, "out"),              // if r0 == 0 goto out
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),  // r1 = *(u64 *)(r0 + 0)
			asm.Add.Imm(asm.R1, 1),                     // r1 += 1
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord), // *(u64 *)(r0 + 0) = r1
			asm.Mov.Imm(asm.R0, ret).WithSymbol("out"), // out: r0 = ret
			asm.Return(), // exit
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// TestHookAgainstKernel attaches a tcx program returning each verdict
// (and values that are none) and a direct-action cls_bpf filter on the
// clsact ingress of the same veth: the filter must run in the kernel
// exactly when Hook.Run says the chain ran, i.e. when tcx ends in
// TCX_NEXT, as sch_handle_ingress orders them.
func TestHookAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "ip", "link", "set", "veth0", "up")
	ns.MustRun(t, "ip", "link", "set", "veth1", "up")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth1", "clsact"); err != nil {
		kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
	}
	ifindex := ns.Ifindex(t, "veth1")
	ks := &kernelSide{ns: ns, ifindex: uint32(ifindex), typ: unix.BPF_TCX_INGRESS}
	sock := ns.PacketSocket(t, "veth0")
	tcxHits, err := cebpf.NewMap(&cebpf.MapSpec{Type: cebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	require.NoError(t, err)
	defer tcxHits.Close()
	chainHits, err := cebpf.NewMap(&cebpf.MapSpec{Type: cebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	require.NoError(t, err)
	defer chainHits.Close()

	filter := counterProg(t, chainHits, "chain", 0) // TC_ACT_OK
	rt := ns.Rtnl(t)
	opts := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, uint32(filter.FD()))
	opts = nlattr.AppendString(opts, uapi.TCA_BPF_NAME, "chain")
	opts = nlattr.AppendUint32(opts, uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
	attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
	attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
	tcm := kerneltest.Tcmsg{Ifindex: ifindex, Handle: 1, Parent: 0xFFFFFFF2, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)}
	_, err = rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
	require.NoError(t, err)

	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	read := func(m *cebpf.Map) uint64 {
		var v uint64
		require.NoError(t, m.Lookup(uint32(0), &v))
		return v
	}
	for _, ret := range []int32{-1, 0, 1, 2, 3, 4, 6, 7, 8, -2, 0x10000000} {
		t.Run(fmt.Sprint(ret), func(t *testing.T) {
			prog := counterProg(t, tcxHits, "verdict", ret)
			require.Zero(t, ks.attach(prog.FD(), 0, 0, 0, 0))
			defer func() { require.Zero(t, ks.detach(prog.FD(), 0, 0, 0)) }()
			require.NoError(t, tcxHits.Put(uint32(0), uint64(0)))
			require.NoError(t, chainHits.Put(uint32(0), uint64(0)))
			require.NoError(t, sock.Send(frame, 0))
			for try := 0; try < 1000 && read(tcxHits) == 0; try++ {
				time.Sleep(time.Millisecond)
			}
			require.Equal(t, uint64(1), read(tcxHits))
			// The chain runs in the same softirq pass, right after tcx; wait
			// up to 200ms for its count before taking it as not run.
			kernelChain := false
			for try := 0; try < 200 && !kernelChain; try++ {
				kernelChain = read(chainHits) == 1
				if !kernelChain {
					time.Sleep(time.Millisecond)
				}
			}

			chain := &fakeChain{}
			h := &tcx.Hook{Chain: chain}
			require.NoError(t, h.TCX.Attach(&fakeProg{id: 1, ret: uint32(ret)}, tcx.AttachOptions{}))
			pkt := packet.New(60)
			require.NoError(t, pkt.SetFrame(frame))
			res := h.Run(pkt)
			require.Equal(t, kernelChain, res.ChainRan, "tcx returned %d", ret)
			require.Equal(t, kernelChain, chain.calls == 1)
		})
	}
}
