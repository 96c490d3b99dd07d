//go:build linux

package classifier

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// kernelFilters is a kernel cls_bpf instance under test: one proto (prio
// 10, protocol all) on the clsact ingress hook of a veth in a private
// namespace.
type kernelFilters struct {
	rt      *kerneltest.Rtnl
	ifindex int32
	parent  uint32
}

const diffPrio = 10

func newKernelFilters(t *testing.T) *kernelFilters {
	t.Helper()
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth0", "clsact"); err != nil {
		kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
	}
	return &kernelFilters{rt: ns.Rtnl(t), ifindex: ns.Ifindex(t, "veth0"), parent: 0xFFFFFFF2}
}

func (k *kernelFilters) tcm(h uint32) kerneltest.Tcmsg {
	return kerneltest.Tcmsg{Ifindex: k.ifindex, Handle: h, Parent: k.parent, Info: kerneltest.FilterInfo(diffPrio, uapi.ETH_P_ALL)}
}

// change sends RTM_NEWTFILTER with TCA_KIND "bpf" and the given
// TCA_OPTIONS attribute bytes (header included; nil for none).
func (k *kernelFilters) change(h uint32, flags uint16, options []byte) error {
	attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
	attrs = append(attrs, options...)
	_, err := k.rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: flags, Tcmsg: k.tcm(h), Attrs: attrs})
	return err
}

func (k *kernelFilters) delete(h uint32) error {
	_, err := k.rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_DELTFILTER, Tcmsg: k.tcm(h), Attrs: nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")})
	return err
}

// dump returns "handle=options-hex" for every filter in dump order.
func (k *kernelFilters) dump(t *testing.T) []string {
	t.Helper()
	msgs, err := k.rt.DumpFilters(k.ifindex, k.parent)
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		if m.Tcmsg.Handle == 0 {
			continue // the per-proto header message
		}
		out = append(out, fmt.Sprintf("%#x=%s", m.Tcmsg.Handle, hex.EncodeToString(m.RawAttr(uapi.TCA_OPTIONS))))
	}
	return out
}

func libDump(t *testing.T, c *Chain) []string {
	t.Helper()
	var out []string
	for _, f := range c.Filters() {
		b, err := f.AppendOptions(nil)
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%#x=%s", f.Handle(), hex.EncodeToString(b)))
	}
	return out
}

// outcome reduces an answer to what must agree: the errno and, where the
// library names one, the extack text. (Where cls_bpf sets none, the kernel
// may still carry a parser warning such as "bytes leftover after parsing
// attributes"; that is not cls_bpf's answer.)
func outcome(err error, lib error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "unexpected: " + err.Error()
	}
	msg := ""
	var re *kerneltest.RtnlError
	var le *Error
	if errors.As(lib, &le) && le.Extack != "" {
		msg = le.Extack
		if errors.As(err, &re) {
			msg = re.Message
		}
	}
	return fmt.Sprintf("%v %q", errno, msg)
}

// kernelPrograms loads eBPF programs into the kernel and gives the library
// a table over the same descriptors: SCHED_CLS programs with their real ID
// and tag, a SOCKET_FILTER program (EINVAL), a non-BPF file (EINVAL) and
// closed descriptors (EBADF).
type kernelPrograms struct {
	cls    []uint32
	other  []uint32
	closed uint32
	table  fakeTable
}

func loadKernelPrograms(t *testing.T) *kernelPrograms {
	t.Helper()
	kp := &kernelPrograms{table: fakeTable{}}
	for i, ret := range []int32{-1, 0, 2} {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         fmt.Sprintf("diff%d", i),
			Type:         ebpf.SchedCLS,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, ret), asm.Return()},
		})
		if err != nil {
			kerneltest.Skip(t, "load SCHED_CLS program: "+err.Error())
		}
		t.Cleanup(func() { p.Close() })
		info, err := p.Info()
		require.NoError(t, err)
		id, ok := info.ID()
		require.True(t, ok)
		tag, err := hex.DecodeString(info.Tag)
		require.NoError(t, err)
		fp := &fakeEBPF{id: uint32(id), run: func(*packet.Packet) uint32 { return uint32(ret) }}
		copy(fp.tag[:], tag)
		fd := uint32(p.FD())
		kp.cls = append(kp.cls, fd)
		kp.table[fd] = fp
	}
	sf, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	require.NoError(t, err)
	t.Cleanup(func() { sf.Close() })
	null, err := os.Open(os.DevNull)
	require.NoError(t, err)
	t.Cleanup(func() { null.Close() })
	kp.other = []uint32{uint32(sf.FD()), uint32(null.Fd())}
	kp.closed = 1 << 20
	return kp
}

// Program resolves descriptors as bpf_prog_get_type_dev does for the
// descriptors this test made.
func (kp *kernelPrograms) Program(fd uint32, skipSW bool) (ExtendedProgram, error) {
	if p, ok := kp.table[fd]; ok {
		return p, nil
	}
	// Any other open descriptor of this process is not a SCHED_CLS
	// program (the socket filter, /dev/null, stdin, the netlink socket).
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
		return nil, fmt.Errorf("fd %d is not a SCHED_CLS program: %w", fd, syscall.EINVAL)
	}
	return nil, fmt.Errorf("fd %d: %w", fd, syscall.EBADF)
}

// gen makes random, often malformed, RTM_NEWTFILTER requests.
type gen struct {
	r  *rand.Rand
	kp *kernelPrograms
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// attr is one TCA_BPF_* attribute before encoding.
type attr struct {
	typ  uint16
	data []byte
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// classicOps returns a program as sock_filter bytes: mostly valid ones of
// a few shapes, sometimes random instructions the checker must judge.
func (g *gen) classicOps() []byte {
	var ins [][4]uint32 // code, jt, jf, k
	switch g.pick(6) {
	case 0:
		ins = [][4]uint32{{0x06, 0, 0, g.r.Uint32()}} // ret #k
	case 1:
		ins = [][4]uint32{
			{0x28, 0, 0, 12},                      // ldh [12]
			{0x15, 0, 1, 0x0800},                  // jeq #0x800, L2, L3
			{0x06, 0, 0, 0xFFFFFFFF},              // L2: ret #-1
			{0x06, 0, 0, uint32(g.pick(0x30000))}, // L3: ret #k
		}
	case 2:
		ins = [][4]uint32{
			{0x00, 0, 0, g.r.Uint32()}, // ld #k
			{0x16, 0, 0, 0},            // ret a
		}
	case 3:
		ins = [][4]uint32{
			{0x80, 0, 0, 0},       // ld len
			{0x25, 0, 1, 60},      // jgt #60, L2, L3
			{0x06, 0, 0, 0x10020}, // L2: ret #0x10020
			{0x06, 0, 0, 0},       // L3: ret #0
		}
	default:
		// Random instructions from the classic set with random operands.
		codes := []uint32{0x00, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x60, 0x61, 0x80, 0x81, 0x87, 0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0x0c, 0x05, 0x15, 0x25, 0x35, 0x45, 0x02, 0x03, 0x06, 0x16, 0x07, 0xb1, 0xff}
		n := 1 + g.pick(6)
		for i := 0; i < n; i++ {
			k := g.r.Uint32()
			if g.chance(0.7) {
				k = uint32(g.pick(40))
			}
			ins = append(ins, [4]uint32{codes[g.pick(len(codes))], uint32(g.pick(3)), uint32(g.pick(3)), k})
		}
		if g.chance(0.8) {
			ins = append(ins, [4]uint32{0x06, 0, 0, uint32(g.pick(3)) - 1})
		}
	}
	var b []byte
	for _, in := range ins {
		b = binary.LittleEndian.AppendUint16(b, uint16(in[0]))
		b = append(b, byte(in[1]), byte(in[2]))
		b = binary.LittleEndian.AppendUint32(b, in[3])
	}
	return b
}

// options builds a TCA_OPTIONS attribute (header included), or nil.
func (g *gen) options() []byte {
	if g.chance(0.03) {
		return nil
	}
	var as []attr
	if g.chance(0.6) {
		as = append(as, attr{uapi.TCA_BPF_CLASSID, u32([]uint32{0x10010, 0x10020, 0x12345, 0x20000, g.r.Uint32()}[g.pick(5)])})
	}
	if g.chance(0.6) {
		ops := g.classicOps()
		as = append(as, attr{uapi.TCA_BPF_OPS_LEN, u16(uint16(len(ops) / 8))}, attr{uapi.TCA_BPF_OPS, ops})
	} else {
		var fd uint32
		switch g.pick(10) {
		case 0:
			fd = g.kp.other[g.pick(len(g.kp.other))]
		case 1:
			fd = g.kp.closed
		default:
			fd = g.kp.cls[g.pick(len(g.kp.cls))]
		}
		as = append(as, attr{uapi.TCA_BPF_FD, u32(fd)})
		if g.chance(0.5) {
			as = append(as, attr{uapi.TCA_BPF_NAME, []byte(fmt.Sprintf("prog%d.o:[classifier]\x00", g.pick(100)))})
		}
	}
	if g.chance(0.3) {
		as = append(as, attr{uapi.TCA_BPF_FLAGS, u32(1)})
	}
	if g.chance(0.2) {
		gen := uint32(SkipHW)
		if g.chance(0.25) {
			gen = SkipSW // EOPNOTSUPP: nothing here can offload
		}
		as = append(as, attr{uapi.TCA_BPF_FLAGS_GEN, u32(gen)})
	}
	g.r.Shuffle(len(as), func(i, j int) { as[i], as[j] = as[j], as[i] })

	for m := g.pick(4); m > 0; m-- {
		as = g.mutate(as)
	}
	var inner []byte
	for _, a := range as {
		inner = nlattr.Append(inner, a.typ, a.data)
	}
	if g.chance(0.05) {
		inner = append(inner, byte(g.pick(256)), byte(g.pick(256)), 0)[:len(inner)+1+g.pick(2)]
	}
	typ := uint16(uapi.TCA_OPTIONS)
	if g.chance(0.1) {
		typ |= uapi.NLA_F_NESTED
	}
	return nlattr.Append(nil, typ, inner)
}

func (g *gen) mutate(as []attr) []attr {
	switch g.pick(12) {
	case 0: // drop one
		if len(as) > 0 {
			i := g.pick(len(as))
			as = append(as[:i:i], as[i+1:]...)
		}
	case 1: // duplicate one, maybe with other contents
		if len(as) > 0 {
			a := as[g.pick(len(as))]
			if a.typ == uapi.TCA_BPF_CLASSID && g.chance(0.5) {
				a.data = u32(g.r.Uint32())
			}
			as = append(as, a)
		}
	case 2: // truncate or extend a payload
		if len(as) > 0 {
			i := g.pick(len(as))
			a := as[i]
			if g.chance(0.5) && len(a.data) > 0 {
				a.data = a.data[:g.pick(len(a.data))]
			} else {
				a.data = append(append([]byte(nil), a.data...), make([]byte, 1+g.pick(6))...)
			}
			as[i] = a
		}
	case 3:
		as = append(as, attr{uapi.TCA_BPF_FLAGS, u32([]uint32{0, 1, 2, 3, 0x80000000}[g.pick(5)])})
	case 4:
		as = append(as, attr{uapi.TCA_BPF_FLAGS_GEN, u32([]uint32{0, 1, 2, 3, 4, 8, 16, 9}[g.pick(8)])})
	case 5: // OPS_LEN that does not match
		as = append(as, attr{uapi.TCA_BPF_OPS_LEN, u16([]uint16{0, 1, 2, 4097, 0xFFFF}[g.pick(5)])})
	case 6: // a NAME of an interesting length
		n := []int{0, 1, 255, 256, 257, 300}[g.pick(6)]
		name := []byte(strings.Repeat("n", n))
		switch g.pick(3) {
		case 0:
			name = append(name, 0)
		case 1:
			name = append(name, 0, 0)
		}
		as = append(as, attr{uapi.TCA_BPF_NAME, name})
	case 7: // unknown or ignored attribute types
		as = append(as, attr{[]uint16{0, 12, 13, 0x3FFF, uapi.TCA_BPF_TAG, uapi.TCA_BPF_ID}[g.pick(6)], make([]byte, g.pick(12))})
	case 8: // flag bits on a type
		if len(as) > 0 {
			i := g.pick(len(as))
			as[i].typ |= []uint16{uapi.NLA_F_NESTED, uapi.NLA_F_NET_BYTEORDER}[g.pick(2)]
		}
	case 9: // corrupt one byte of OPS
		for i := range as {
			if as[i].typ == uapi.TCA_BPF_OPS && len(as[i].data) > 0 {
				d := append([]byte(nil), as[i].data...)
				d[g.pick(len(d))] = byte(g.pick(256))
				as[i].data = d
				break
			}
		}
	case 10: // the other program source too
		if g.chance(0.5) {
			as = append(as, attr{uapi.TCA_BPF_FD, u32(g.kp.cls[0])})
		} else {
			ops := g.classicOps()
			as = append(as, attr{uapi.TCA_BPF_OPS_LEN, u16(uint16(len(ops) / 8))}, attr{uapi.TCA_BPF_OPS, ops})
		}
	case 11: // an OPS payload over the limit
		as = append(as, attr{uapi.TCA_BPF_OPS, make([]byte, 32768+8*g.pick(2))})
	}
	return as
}

func (g *gen) handle(c *Chain) uint32 {
	switch g.pick(10) {
	case 0, 1, 2:
		return 0
	case 3, 4:
		if fs := c.Filters(); len(fs) > 0 {
			return fs[g.pick(len(fs))].Handle()
		}
		return 1
	case 5:
		return []uint32{0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0}[g.pick(4)]
	default:
		return uint32(1 + g.pick(6))
	}
}

func (g *gen) flags() uint16 {
	switch g.pick(20) {
	case 0, 1, 2, 3, 4, 5, 6, 7:
		return uapi.NLM_F_CREATE | uapi.NLM_F_EXCL
	case 8, 9, 10, 11, 12:
		return uapi.NLM_F_CREATE
	case 13, 14:
		return 0
	case 15:
		return uapi.NLM_F_REPLACE
	case 16:
		return uapi.NLM_F_CREATE | uapi.NLM_F_REPLACE
	case 17:
		return uapi.NLM_F_CREATE | uapi.NLM_F_EXCL | uapi.NLM_F_REPLACE
	default:
		return uapi.NLM_F_EXCL
	}
}

// libChange applies a netlink request to the chain as the kernel's
// tc_new_tfilter and cls_bpf_change do.
func libChange(c *Chain, h uint32, flags uint16, options []byte) error {
	req := Request{Handle: h, Flags: ChangeFlags(flags) & (Create | Excl), Ingress: true}
	if options != nil {
		req.Options = options[uapi.NLA_HDRLEN:binary.LittleEndian.Uint16(options)]
		if req.Options == nil {
			req.Options = []byte{}
		}
	}
	_, err := c.ChangeNetlink(req)
	return err
}

// libDelete is tc_del_tfilter on one proto: with no filters there is no
// proto; handle 0 removes them all.
func libDelete(c *Chain, h uint32) error {
	if c.Len() == 0 {
		return &Error{Op: "delete", Extack: "Cannot find specified filter chain", Errno: syscall.ENOENT}
	}
	if h == 0 {
		c.Destroy(true)
		return nil
	}
	_, err := c.Delete(h)
	return err
}

// TestKernelChangeDifferential sends the same random RTM_NEWTFILTER and
// RTM_DELTFILTER requests to the kernel's cls_bpf and to a Chain: every
// answer (errno and cls_api extack) and the dump after every request
// (handles, order and TCA_OPTIONS bytes) must agree.
func TestKernelChangeDifferential(t *testing.T) {
	k := newKernelFilters(t)
	kp := loadKernelPrograms(t)
	c := New(Config{Programs: kp})
	g := &gen{r: rand.New(rand.NewPCG(1, uint64(os.Getpid()))), kp: kp}
	seed := g.r.Uint64()
	g.r = rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)

	changes := 1200
	if testing.Short() {
		changes = 300
	}
	var sent, accepted, deletes int
	outcomes := map[string]int{}
	for sent < changes {
		var kerr, lerr error
		var what string
		if g.chance(0.08) {
			h := g.handle(c)
			if g.chance(0.2) {
				h = 0
			}
			kerr, lerr = k.delete(h), libDelete(c, h)
			what = fmt.Sprintf("delete %#x", h)
			deletes++
		} else {
			h, flags, options := g.handle(c), g.flags(), g.options()
			kerr, lerr = k.change(h, flags, options), libChange(c, h, flags, options)
			what = fmt.Sprintf("change handle %#x flags %#x options %.300x", h, flags, options)
			sent++
			if kerr == nil {
				accepted++
			}
		}
		ko, lo := outcome(kerr, lerr), outcome(lerr, lerr)
		outcomes[strings.SplitN(ko, " \"", 2)[0]]++
		if ko != lo {
			t.Fatalf("request %d: %s\nkernel:  %s\nlibrary: %s (%v)", sent, what, ko, lo, lerr)
		}
		if kd, ld := k.dump(t), libDump(t, c); !slices.Equal(kd, ld) {
			t.Fatalf("request %d: %s\ndumps differ\nkernel:  %v\nlibrary: %v", sent, what, kd, ld)
		}
	}
	t.Logf("%d changes (%d accepted), %d deletes agreed with the kernel: %v", sent, accepted, deletes, outcomes)
	for _, want := range []string{"ok", "invalid argument", "numerical result out of range", "file exists", "no such file or directory", "bad file descriptor", "operation not supported"} {
		if !testing.Short() {
			require.NotZero(t, outcomes[want], "no request got %q", want)
		}
	}
	require.Greater(t, accepted, sent/20, "too few accepted requests to test dumps")
}
