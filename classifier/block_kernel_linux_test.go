//go:build linux

package classifier

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// blockBed is a clsact qdisc on veth0 in a private namespace (its ingress
// block is the kernel side) and a Block configured as that block.
type blockBed struct {
	ns      *kerneltest.NetNS
	rt      *kerneltest.Rtnl
	ifindex int32
	peer    uint32 // veth1's ifindex, the mirred target
	kp      *kernelPrograms
	table   *action.Table
	b       *Block
}

const clsactIngress = 0xFFFFFFF2

// upForwarder knows the namespace's devices for mirred; it forwards
// nothing (the library side only needs the verdicts).
type upForwarder struct{ devs map[uint32]string }

func (f upForwarder) Device(ifindex uint32) (action.DeviceState, bool) {
	name, ok := f.devs[ifindex]
	return action.DeviceState{Up: true, MACHeaderXmit: true, Name: name}, ok
}

func (f upForwarder) Forward(*packet.Packet, action.Forward) error { return nil }

func newBlockBed(t *testing.T) *blockBed {
	t.Helper()
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth0", "clsact"); err != nil {
		kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
	}
	bed := &blockBed{ns: ns, rt: ns.Rtnl(t), ifindex: ns.Ifindex(t, "veth0"), peer: uint32(ns.Ifindex(t, "veth1"))}
	bed.kp = loadKernelPrograms(t)
	bed.table = action.NewTable(action.Config{Forwarder: upForwarder{devs: map[uint32]string{bed.peer: "veth1", uint32(bed.ifindex): "veth0"}}})
	bed.b = NewBlock(BlockConfig{
		Config:  Config{Programs: bed.kp, Actions: NewActionParser(bed.table)},
		Ifindex: bed.ifindex,
		Parent:  clsactIngress,
	})
	return bed
}

// kernel sends one request to the kernel; lib the same to the Block.
func (bed *blockBed) kernel(typ, flags uint16, tcm TCMsg, attrs []byte) ([]kerneltest.TCMessage, error) {
	return bed.rt.Do(kerneltest.TCFilterRequest{Type: typ, Flags: flags, Tcmsg: kerneltest.Tcmsg{
		Ifindex: bed.ifindex, Handle: tcm.Handle, Parent: clsactIngress, Info: tcm.Info,
	}, Attrs: attrs})
}

func (bed *blockBed) lib(typ, flags uint16, tcm TCMsg, attrs []byte) ([]Message, error) {
	// As rtnetlink carries it: kerneltest.Rtnl.Do sets NLM_F_REQUEST too.
	tcm.Ifindex, tcm.Parent = bed.ifindex, clsactIngress
	return bed.b.Request(Message{Type: typ, Flags: flags | uapi.NLM_F_REQUEST, TCMsg: tcm, Attrs: attrs})
}

// stripActions normalizes the TCA_BPF_ACT nest in the TCA_OPTIONS of a
// message's attributes to what two live systems must agree on: each
// action's kind, statistics, flags and in_hw_count, and its options with
// the times (TCA_MIRRED_TM) dropped and the index of tc_gen zeroed. (The
// kernel frees a deleted filter's actions after an RCU
// grace period, so for a while it hands out other indexes than a table
// that frees them at once.)
func stripActions(attrs []byte) []byte {
	var out []byte
	nlattr.Walk(attrs, func(a nlattr.Attr) bool {
		if a.Type != uapi.TCA_OPTIONS {
			out = nlattr.Append(out, a.Type|a.Flags, a.Data)
			return true
		}
		var inner []byte
		nlattr.Walk(a.Data, func(o nlattr.Attr) bool {
			if o.Type == uapi.TCA_BPF_ACT {
				inner = nlattr.Append(inner, o.Type, normalizeActions(o.Data))
			} else {
				inner = nlattr.Append(inner, o.Type|o.Flags, o.Data)
			}
			return true
		})
		out = nlattr.Append(out, a.Type|a.Flags, inner)
		return true
	})
	return out
}

func normalizeActions(list []byte) []byte {
	var out []byte
	nlattr.Walk(list, func(act nlattr.Attr) bool {
		var one []byte
		nlattr.Walk(act.Data, func(f nlattr.Attr) bool {
			if f.Type != uapi.TCA_ACT_OPTIONS {
				one = nlattr.Append(one, f.Type|f.Flags, f.Data)
				return true
			}
			var opt []byte
			nlattr.Walk(f.Data, func(o nlattr.Attr) bool {
				switch o.Type {
				case uapi.TCA_MIRRED_TM:
				case uapi.TCA_MIRRED_PARMS:
					p := append([]byte(nil), o.Data...)
					if len(p) >= 4 {
						copy(p[0:4], []byte{0, 0, 0, 0}) // tc_gen index
					}
					opt = nlattr.Append(opt, o.Type|o.Flags, p)
				default:
					opt = nlattr.Append(opt, o.Type|o.Flags, o.Data)
				}
				return true
			})
			one = nlattr.Append(one, f.Type|f.Flags, opt)
			return true
		})
		out = nlattr.Append(out, act.Type|act.Flags, one)
		return true
	})
	return out
}

// gotoChain is the verdict "goto chain n".
func gotoChain(n uint32) action.Verdict {
	v, err := action.GotoChain(n)
	if err != nil {
		panic(err)
	}
	return v
}

func kernelMsgString(m kerneltest.TCMessage) string {
	return fmt.Sprintf("type=%d flags=%#x if=%d h=%#x parent=%#x info=%#x %s", m.Type, m.Flags, m.Tcmsg.Ifindex, m.Tcmsg.Handle, m.Tcmsg.Parent, m.Tcmsg.Info, hex.EncodeToString(stripActions(m.Attrs)))
}

func libMsgString(m Message) string {
	return fmt.Sprintf("type=%d flags=%#x if=%d h=%#x parent=%#x info=%#x %s", m.Type, m.Flags, m.TCMsg.Ifindex, m.TCMsg.Handle, m.TCMsg.Parent, m.TCMsg.Info, hex.EncodeToString(stripActions(m.Attrs)))
}

// dumps returns the kernel's and the library's dump, each message as a
// string; chain limits the dump to one chain when not nil.
func (bed *blockBed) dumps(t *testing.T, chain *uint32) (kd, ld []string) {
	t.Helper()
	return bed.dumpsInfo(t, chain, 0)
}

// dumpsInfo is dumps with a tcm_info that selects a priority and protocol.
func (bed *blockBed) dumpsInfo(t *testing.T, chain *uint32, info uint32) (kd, ld []string) {
	t.Helper()
	var attrs []byte
	if chain != nil {
		attrs = nlattr.AppendUint32(nil, uapi.TCA_CHAIN, *chain)
	}
	km, err := bed.rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_GETTFILTER, Flags: uapi.NLM_F_DUMP, Tcmsg: kerneltest.Tcmsg{Ifindex: bed.ifindex, Parent: clsactIngress, Info: info}, Attrs: attrs})
	require.NoError(t, err)
	for _, m := range km {
		kd = append(kd, kernelMsgString(m))
	}
	lm, err := bed.b.Request(Message{Type: uapi.RTM_GETTFILTER, Flags: uapi.NLM_F_REQUEST | uapi.NLM_F_DUMP, TCMsg: TCMsg{Ifindex: bed.ifindex, Parent: clsactIngress, Info: info}, Attrs: attrs})
	require.NoError(t, err)
	for _, m := range lm {
		ld = append(ld, libMsgString(m))
	}
	return kd, ld
}

// settle waits until the kernel has released the actions of deleted
// filters (it does so after an RCU grace period), so that the chains their
// "goto chain" held are gone as they are in the library.
func (bed *blockBed) settle(t *testing.T) {
	t.Helper()
	for try := 0; ; try++ {
		out, err := bed.ns.Run("tc", "actions", "list", "action", "mirred")
		require.NoError(t, err)
		if !strings.Contains(out, "mirred") {
			return
		}
		require.Less(t, try, 2000, "mirred actions of deleted filters never went: %s", out)
		time.Sleep(time.Millisecond)
	}
}

// blockGen makes random filter requests across chains, priorities and
// protocols.
type blockGen struct {
	r     *rand.Rand
	bed   *blockBed
	gotos bool // this sequence may use "goto chain" actions
	// added is the last accepted RTM_NEWTFILTER, to send again.
	added *blockRequest
}

type blockRequest struct {
	tcm   TCMsg
	attrs []byte
	what  string
}

func (g *blockGen) pick(n int) int             { return g.r.IntN(n) }
func (g *blockGen) chance(p float64) bool      { return g.r.Float64() < p }
func oneOf[T any](g *blockGen, choices ...T) T { return choices[g.pick(len(choices))] }

var genChains = []uint32{0, 0, 0, 1, 2, 5}

func (g *blockGen) chain() uint32 {
	if g.chance(0.02) {
		return MaxChain + 1
	}
	return genChains[g.pick(len(genChains))]
}

func (g *blockGen) tcm() TCMsg {
	prio := oneOf[uint16](g, 0, 0, 1, 2, 10, 10, 49152, 49151, 32768, 32768)
	proto := oneOf[uint16](g, uapi.ETH_P_ALL, uapi.ETH_P_ALL, uapi.ETH_P_IP, uapi.ETH_P_IPV6, 0)
	h := oneOf[uint32](g, 0, 1, 1, 1, 2, 7)
	return TCMsg{Handle: h, Info: Info(prio, proto)}
}

func (g *blockGen) kind() []byte {
	switch g.pick(40) {
	case 0, 1:
		return nil
	case 2:
		return nlattr.AppendString(nil, uapi.TCA_KIND, "nosuchcls")
	case 3:
		return nlattr.AppendString(nil, uapi.TCA_KIND, "averylongkindname")
	case 4:
		return nlattr.Append(nil, uapi.TCA_KIND, []byte("bpf\x00\x00"))
	}
	return nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
}

// mirred is one mirred action nest list with the given verdict.
func (g *blockGen) mirred(v action.Verdict) []byte {
	return action.EncodeSpecs([]action.Spec{&action.Mirred{
		Params:  action.Params{Verdict: v},
		Action:  action.EgressMirror,
		Ifindex: g.bed.peer,
	}})
}

func (g *blockGen) options() []byte {
	if g.chance(0.03) {
		return nil
	}
	o := opts{}
	if g.chance(0.4) {
		o = o.u32(uapi.TCA_BPF_CLASSID, oneOf[uint32](g, 0x10010, 0x10020, 0x20000))
	}
	if g.chance(0.6) {
		o = o.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops([4]uint32{0x06, 0, 0, oneOf[uint32](g, 0, 0xFFFFFFFF, 0x10020)})) // ret #k
	} else {
		o = o.u32(uapi.TCA_BPF_FD, g.bed.kp.cls[g.pick(len(g.bed.kp.cls))])
		if g.chance(0.5) {
			o = o.str(uapi.TCA_BPF_NAME, "prog.o:[classifier]")
		}
	}
	if g.chance(0.25) {
		verdicts := []action.Verdict{action.Pipe, action.OK, action.Unspec, action.Reclassify}
		if g.gotos {
			verdicts = append(verdicts, gotoChain(1), gotoChain(2), gotoChain(7))
		}
		o = o.raw(uapi.TCA_BPF_ACT, g.mirred(verdicts[g.pick(len(verdicts))]))
	}
	if g.chance(0.2) {
		o = o.u32(uapi.TCA_BPF_FLAGS, 1)
	}
	if g.chance(0.1) {
		o = o.u32(uapi.TCA_BPF_FLAGS_GEN, oneOf[uint32](g, SkipHW, SkipHW, SkipSW, 3))
	}
	return nlattr.Append(nil, uapi.TCA_OPTIONS, o)
}

func (g *blockGen) flags() uint16 {
	return oneOf[uint16](g,
		uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL,
		uapi.NLM_F_CREATE, uapi.NLM_F_CREATE, 0, uapi.NLM_F_REPLACE, uapi.NLM_F_EXCL)
}

// request makes one random request: its type, flags, header and
// attributes.
func (g *blockGen) request() (typ, flags uint16, tcm TCMsg, attrs []byte, what string) {
	if g.added != nil && g.chance(0.08) {
		// The same add again: EEXIST once its handle is known.
		return uapi.RTM_NEWTFILTER, uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, g.added.tcm, g.added.attrs, "again: " + g.added.what
	}
	tcm = g.tcm()
	chain := g.chain()
	if chain != 0 || g.chance(0.3) {
		attrs = nlattr.AppendUint32(attrs, uapi.TCA_CHAIN, chain)
	}
	switch n := g.pick(100); {
	case n < 78:
		typ, flags = uapi.RTM_NEWTFILTER, g.flags()
		attrs = append(attrs, g.kind()...)
		attrs = append(attrs, g.options()...)
	case n < 95:
		typ = uapi.RTM_DELTFILTER
		if g.chance(0.1) {
			tcm = TCMsg{} // flush the chain
		}
		if g.chance(0.8) {
			attrs = append(attrs, nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")...)
		}
	default:
		typ = uapi.RTM_GETTFILTER
		attrs = append(attrs, g.kind()...)
	}
	if g.chance(0.04) {
		// A top-level attribute rtm_tca_policy refuses, or ignores.
		bad := oneOf(g,
			nlattr.Append(nil, uapi.TCA_CHAIN, []byte{1, 0}),
			nlattr.Append(nil, uapi.TCA_KIND, nil),
			nlattr.Append(nil, uapi.TCA_RATE, []byte{1, 2, 3}),
			nlattr.Append(nil, uapi.TCA_DUMP_INVISIBLE, []byte{1}),
			nlattr.Append(nil, 30, []byte{1, 2, 3, 4}),
		)
		if g.chance(0.5) {
			attrs = append(bad, attrs...)
		} else {
			attrs = append(attrs, bad...)
		}
	}
	w := tcm.Where(chain)
	what = fmt.Sprintf("type %d flags %#x chain %d prio %d proto %#04x handle %#x attrs %x", typ, flags, w.Chain, w.Prio, w.Protocol, tcm.Handle, attrs)
	return
}

// TestKernelBlockRequestDifferential sends the same random sequences of
// RTM_NEWTFILTER, RTM_DELTFILTER and RTM_GETTFILTER requests, across
// chains 0, 1, 2 and 5, several priorities (automatic ones included) and
// protocols, to the kernel's clsact ingress block and to a Block. After
// every request the errno and cls_api's extack text must agree, as must
// each chain's dump (every message: header, handle, priority, protocol,
// TCA_KIND, TCA_CHAIN and TCA_OPTIONS with the mirred actions' nests,
// times and index aside) and, in
// sequences without "goto chain" actions, the whole dump in the kernel's
// chain order. (The kernel releases a deleted filter's actions after an
// RCU grace period, so a chain held only by a "goto chain" of such an
// action may keep its place in the kernel's chain list for a while.)
// Each sequence ends with a flush of every chain.
func TestKernelBlockRequestDifferential(t *testing.T) {
	bed := newBlockBed(t)
	seed := uint64(os.Getpid())
	g := &blockGen{r: rand.New(rand.NewPCG(seed, 6)), bed: bed}
	t.Logf("seed %d", seed)

	sequences := 300
	if testing.Short() {
		sequences = 60
	}
	outcomes := map[string]int{}
	requests := 0
	chains := []uint32{0, 1, 2, 5, 7}
	for seq := 0; seq < sequences; seq++ {
		g.gotos = g.chance(0.5)
		steps := 3 + g.pick(6)
		for step := 0; step < steps; step++ {
			typ, flags, tcm, attrs, what := g.request()
			km, kerr := bed.kernel(typ, flags, tcm, attrs)
			lm, lerr := bed.lib(typ, flags, tcm, attrs)
			requests++
			ko, lo := outcome(kerr, lerr), outcome(lerr, lerr)
			if os.Getenv("CLSBPF_TRACE") != "" {
				t.Logf("seq %d step %d: %s -> %s", seq, step, what, ko)
			}
			outcomes[strings.SplitN(ko, " \"", 2)[0]]++
			if ko != lo {
				t.Fatalf("sequence %d step %d: %s\nkernel:  %s\nlibrary: %s (%v)", seq, step, what, ko, lo, lerr)
			}
			if typ == uapi.RTM_NEWTFILTER && kerr == nil && tcm.Handle != 0 && tcm.Info>>16 != 0 {
				g.added = &blockRequest{tcm, attrs, what}
			}
			if typ == uapi.RTM_GETTFILTER && kerr == nil {
				require.Len(t, lm, 1)
				require.Len(t, km, 1)
				require.Equal(t, kernelMsgString(km[0]), libMsgString(lm[0]), "sequence %d step %d: %s: get reply", seq, step, what)
			}
			for _, c := range chains {
				kd, ld := bed.dumps(t, &c)
				if !slices.Equal(kd, ld) {
					t.Fatalf("sequence %d step %d: %s\nchain %d dumps differ\nkernel:  %s\nlibrary: %s", seq, step, what, c, strings.Join(kd, "\n         "), strings.Join(ld, "\n         "))
				}
			}
			info := oneOf(g, Info(10, 0), Info(0, uapi.ETH_P_IP), Info(49152, ProtocolAll), Info(1, uapi.ETH_P_IPV6))
			if kd, ld := bed.dumpsInfo(t, &chains[g.pick(len(chains))], info); !slices.Equal(kd, ld) {
				t.Fatalf("sequence %d step %d: %s\ndumps for tcm_info %#x differ\nkernel:  %s\nlibrary: %s", seq, step, what, info, strings.Join(kd, "\n         "), strings.Join(ld, "\n         "))
			}
			if !g.gotos {
				kd, ld := bed.dumps(t, nil)
				if !slices.Equal(kd, ld) {
					t.Fatalf("sequence %d step %d: %s\nfull dumps differ\nkernel:  %s\nlibrary: %s", seq, step, what, strings.Join(kd, "\n         "), strings.Join(ld, "\n         "))
				}
			}
		}
		for _, c := range chains {
			attrs := nlattr.AppendUint32(nil, uapi.TCA_CHAIN, c)
			_, kerr := bed.kernel(uapi.RTM_DELTFILTER, 0, TCMsg{}, attrs)
			_, lerr := bed.lib(uapi.RTM_DELTFILTER, 0, TCMsg{}, attrs)
			require.NoError(t, kerr)
			require.NoError(t, lerr)
		}
		bed.settle(t)
		g.added = nil
	}
	t.Logf("%d sequences, %d requests agreed with the kernel: %v", sequences, requests, outcomes)
	if !testing.Short() {
		for _, want := range []string{"ok", "invalid argument", "file exists", "no such file or directory", "no space left on device", "operation not supported", "numerical result out of range"} {
			require.NotZero(t, outcomes[want], "no request got %q", want)
		}
	}
}

// TestKernelBlockAutoPriority checks automatic priorities against the
// kernel: three adds with priority 0 get 49152, 49151 and 49150 (dumped
// in that order, lowest first); a classifier at 32768 (0x8000) then makes
// the next automatic add ENOSPC; an automatic add in another chain starts
// at 49152 again.
func TestKernelBlockAutoPriority(t *testing.T) {
	bed := newBlockBed(t)
	add := func(prio uint16, chain uint32) (string, string) {
		o := opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops([4]uint32{0x06, 0, 0, 0})) // ret #0
		attrs := nlattr.AppendUint32(nil, uapi.TCA_CHAIN, chain)
		attrs = nlattr.AppendString(attrs, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, o)
		tcm := TCMsg{Info: Info(prio, uapi.ETH_P_IP)}
		_, kerr := bed.kernel(uapi.RTM_NEWTFILTER, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, tcm, attrs)
		_, lerr := bed.lib(uapi.RTM_NEWTFILTER, uapi.NLM_F_CREATE|uapi.NLM_F_EXCL, tcm, attrs)
		return outcome(kerr, lerr), outcome(lerr, lerr)
	}
	prios := func() []uint16 {
		var out []uint16
		for _, p := range bed.b.Protos(0) {
			out = append(out, p.Where().Prio)
		}
		return out
	}
	for range 3 {
		ko, lo := add(0, 0)
		require.Equal(t, "ok", ko)
		require.Equal(t, ko, lo)
	}
	require.Equal(t, []uint16{49150, 49151, 49152}, prios())
	ko, lo := add(0x8000, 0)
	require.Equal(t, "ok", ko)
	require.Equal(t, ko, lo)
	ko, lo = add(0, 0)
	require.Equal(t, `no space left on device "Lowest ID from auto-alloc range already in use"`, ko)
	require.Equal(t, ko, lo)
	ko, lo = add(0, 3)
	require.Equal(t, "ok", ko)
	require.Equal(t, ko, lo)
	kd, ld := bed.dumps(t, nil)
	require.Equal(t, kd, ld)
	require.Len(t, kd, 10, "five classifiers, each a header and one filter")
}

// TestKernelBlockChainOrder checks the order chains dump in against the
// kernel: creation order, where a chain that a "goto chain" action created
// (and that is not dumped while only actions hold it) keeps its place once
// filters arrive, and a chain that went away comes back at the end.
func TestKernelBlockChainOrder(t *testing.T) {
	bed := newBlockBed(t)
	send := func(typ uint16, chain uint32, prio uint16, options []byte) {
		t.Helper()
		attrs := nlattr.AppendUint32(nil, uapi.TCA_CHAIN, chain)
		tcm := TCMsg{Info: Info(prio, uapi.ETH_P_ALL)}
		if prio == 0 {
			tcm.Info = 0 // a flush names no protocol
		}
		flags := uint16(0)
		if typ == uapi.RTM_NEWTFILTER {
			attrs = nlattr.AppendString(attrs, uapi.TCA_KIND, "bpf")
			attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, options)
			flags = uapi.NLM_F_CREATE | uapi.NLM_F_EXCL
		}
		_, kerr := bed.kernel(typ, flags, tcm, attrs)
		_, lerr := bed.lib(typ, flags, tcm, attrs)
		require.NoError(t, kerr)
		require.NoError(t, lerr)
	}
	plain := opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, ops([4]uint32{0x06, 0, 0, 0})) // ret #0
	g := &blockGen{bed: bed}
	withGoto := opts(plain).raw(uapi.TCA_BPF_ACT, g.mirred(gotoChain(5)))

	send(uapi.RTM_NEWTFILTER, 0, 1, withGoto) // chain 0, and chain 5 held by the action
	send(uapi.RTM_NEWTFILTER, 3, 1, plain)
	send(uapi.RTM_NEWTFILTER, 5, 1, plain)
	send(uapi.RTM_NEWTFILTER, 2, 1, plain)
	send(uapi.RTM_DELTFILTER, 3, 0, nil) // flush chain 3: it goes
	send(uapi.RTM_NEWTFILTER, 3, 1, plain)
	kd, ld := bed.dumps(t, nil)
	require.Equal(t, kd, ld)
	require.Equal(t, []uint32{0, 5, 2, 3}, bed.b.Chains())
}
