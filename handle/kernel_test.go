package handle

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// newClsactLo returns a namespace whose lo carries a clsact qdisc.
func newClsactLo(t *testing.T) *kerneltest.NetNS {
	t.Helper()
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "lo", "clsact")
	return ns
}

var filterLine = regexp.MustCompile(`(?m)^filter protocol all pref (\d+) bpf chain 0 handle 0x([0-9a-f]+)(?: flowid (\S+))?`)

// showFilters returns tc's "tc filter show dev lo ingress" as pref →
// handle → flowid ("" when none is printed).
func showFilters(t *testing.T, ns *kerneltest.NetNS) map[int]map[uint32]string {
	t.Helper()
	out := ns.MustRun(t, "tc", "filter", "show", "dev", "lo", "ingress")
	got := map[int]map[uint32]string{}
	for _, m := range filterLine.FindAllStringSubmatch(out, -1) {
		pref, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		h, err := strconv.ParseUint(m[2], 16, 32)
		require.NoError(t, err)
		if got[pref] == nil {
			got[pref] = map[uint32]string{}
		}
		got[pref][uint32(h)] = m[3]
	}
	return got
}

// TestKernelClassID gives every classIDCases string to tc as a bpf
// filter's classid and checks that tc refuses exactly the strings
// ParseClassID refuses, and that the kernel's dump, printed by tc, is
// String of the value ParseClassID returns.
func TestKernelClassID(t *testing.T) {
	ns := newClsactLo(t)
	want := map[uint32]Handle{}
	for i, tt := range classIDCases {
		handle := uint32(i + 1)
		out, err := ns.Run("tc", "filter", "add", "dev", "lo", "ingress", "pref", "1", "handle", strconv.Itoa(int(handle)),
			"bpf", "bytecode", "1,6 0 0 0", "classid", tt.in)
		h, perr := ParseClassID(tt.in)
		if err != nil {
			assert.Contains(t, out, `Illegal "classid"`, "%q: tc failed for another reason", tt.in)
			assert.Error(t, perr, "%q: tc refuses it", tt.in)
			continue
		}
		if assert.NoError(t, perr, "%q: tc accepts it", tt.in) {
			want[handle] = h
		}
	}
	got := showFilters(t, ns)[1]
	require.Len(t, got, len(want))
	for handle, h := range want {
		flowid := got[handle]
		if h == Unspec {
			assert.Empty(t, flowid, "classid 0 is not dumped")
			continue
		}
		assert.Equal(t, h.String(), flowid, "case %q", classIDCases[handle-1].in)
	}
}

// TestKernelPrint sends class ids through the kernel and compares tc's
// print_tc_classid with String for edges and a random sample.
func TestKernelPrint(t *testing.T) {
	ns := newClsactLo(t)
	values := []Handle{Root, 1, 0xa, 0xffff, 0x10000, 0x10010, 0xFFFF0000, 0xFFFFFFF2, 0xFFFFFFFE, 0x12345678, 0xABCDEF01}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		values = append(values, Handle(r.Uint32()))
	}
	for i, h := range values {
		// Feed tc the full value in hex so its parsing is not what is
		// tested here.
		ns.MustRun(t, "tc", "filter", "add", "dev", "lo", "ingress", "pref", "1", "handle", strconv.Itoa(i+1),
			"bpf", "bytecode", "1,6 0 0 0", "classid", fmt.Sprintf("%x", uint32(h)))
	}
	got := showFilters(t, ns)[1]
	for i, h := range values {
		assert.Equal(t, h.String(), got[uint32(i+1)], "%#x", uint32(h))
	}
}

// TestKernelFilterHandle gives every filterCases string to tc as a bpf
// filter handle, each in a priority of its own, and compares what tc
// refuses and what the kernel then holds with ParseFilter.
func TestKernelFilterHandle(t *testing.T) {
	ns := newClsactLo(t)
	want := map[int]uint32{}
	for i, tt := range filterCases {
		if tt.in == "0b1" {
			// glibc 2.38 and later read C23 binary literals in strtoul
			// under _GNU_SOURCE; the tc this package matches does not.
			continue
		}
		pref := i + 1
		out, err := ns.Run("tc", "filter", "add", "dev", "lo", "ingress", "pref", strconv.Itoa(pref), "handle", tt.in,
			"bpf", "bytecode", "1,6 0 0 0")
		h, perr := ParseFilter(tt.in)
		if err != nil {
			assert.Contains(t, out, `Illegal "handle"`, "%q: tc failed for another reason", tt.in)
			assert.Error(t, perr, "%q: tc refuses it", tt.in)
			continue
		}
		if assert.NoError(t, perr, "%q: tc accepts it", tt.in) {
			if h == 0 {
				h = 1 // the kernel allocates the first handle
			}
			want[pref] = h
		}
	}
	got := showFilters(t, ns)
	require.Len(t, got, len(want))
	for pref, h := range want {
		_, ok := got[pref][h]
		assert.True(t, ok, "pref %d (%q): want handle %#x, kernel has %v", pref, filterCases[pref-1].in, h, got[pref])
	}
}

var qdiscLine = regexp.MustCompile(`qdisc pfifo ([0-9a-f]+): root`)

// TestKernelQdisc gives every qdiscCases string to tc as a pfifo root
// qdisc's handle and compares with ParseQdisc.
func TestKernelQdisc(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	for _, tt := range qdiscCases {
		out, err := ns.Run("tc", "qdisc", "replace", "dev", "lo", "root", "handle", tt.in, "pfifo")
		h, perr := ParseQdisc(tt.in)
		if err != nil {
			assert.Contains(t, out, "invalid qdisc ID", "%q: tc failed for another reason", tt.in)
			assert.Error(t, perr, "%q: tc refuses it", tt.in)
			continue
		}
		if !assert.NoError(t, perr, "%q: tc accepts it", tt.in) || h == Unspec {
			continue // 0 lets the kernel pick a handle
		}
		m := qdiscLine.FindStringSubmatch(ns.MustRun(t, "tc", "qdisc", "show", "dev", "lo"))
		require.NotNil(t, m, "%q", tt.in)
		assert.Equal(t, strings.TrimSuffix(h.String(), ":"), m[1], "%q", tt.in)
	}
}

// TestKernelParentKeywords checks that tc's "ingress" and "egress" filter
// keywords give the parents ParseParent returns.
func TestKernelParentKeywords(t *testing.T) {
	ns := newClsactLo(t)
	rt := ns.Rtnl(t)
	idx := ns.Ifindex(t, "lo")
	for i, kw := range []string{"ingress", "egress"} {
		ns.MustRun(t, "tc", "filter", "add", "dev", "lo", kw, "pref", "1", "handle", strconv.Itoa(i+1), "bpf", "bytecode", "1,6 0 0 0")
		parent, err := ParseParent(kw)
		require.NoError(t, err)
		msgs, err := rt.DumpFilters(idx, uint32(parent))
		require.NoError(t, err)
		var handles []uint32
		for _, m := range msgs {
			assert.Equal(t, uint32(parent), m.Tcmsg.Parent)
			if m.Tcmsg.Handle != 0 {
				handles = append(handles, m.Tcmsg.Handle)
			}
		}
		assert.Equal(t, []uint32{uint32(i + 1)}, handles, kw)
	}
}

// retZero is the classic program "ret #0" as TCA_BPF_OPS bytes.
var retZero = []byte{0x06, 0, 0, 0, 0, 0, 0, 0}

// TestKernelAllocator replays cls_bpf.md §5.3's sequence and then random
// automatic adds, explicit adds and deletes on a real cls_bpf filter list,
// and requires the kernel's handles to be the Allocator's after every step.
func TestKernelAllocator(t *testing.T) {
	ns := newClsactLo(t)
	rt := ns.Rtnl(t)
	idx := ns.Ifindex(t, "lo")
	parent := uint32(IngressParent)
	info := kerneltest.FilterInfo(1, uapi.ETH_P_ALL)

	kernelHandles := func() []uint32 {
		t.Helper()
		msgs, err := rt.DumpFilters(idx, parent)
		require.NoError(t, err)
		var hs []uint32
		for _, m := range msgs {
			if m.Tcmsg.Handle != 0 {
				hs = append(hs, m.Tcmsg.Handle)
			}
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
		return hs
	}
	add := func(h uint32) {
		t.Helper()
		opts := nlattr.AppendUint16(nil, uapi.TCA_BPF_OPS_LEN, 1)
		opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, retZero)
		attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
		_, err := rt.Do(kerneltest.TCFilterRequest{
			Type:  uapi.RTM_NEWTFILTER,
			Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL,
			Tcmsg: kerneltest.Tcmsg{Ifindex: idx, Handle: h, Parent: parent, Info: info},
			Attrs: attrs,
		})
		require.NoError(t, err, "add handle %#x", h)
	}
	del := func(h uint32) {
		t.Helper()
		_, err := rt.Do(kerneltest.TCFilterRequest{
			Type:  uapi.RTM_DELTFILTER,
			Tcmsg: kerneltest.Tcmsg{Ifindex: idx, Handle: h, Parent: parent, Info: info},
			Attrs: nlattr.AppendString(nil, uapi.TCA_KIND, "bpf"),
		})
		require.NoError(t, err, "delete handle %#x", h)
	}

	a := NewAllocator()
	ours := map[uint32]bool{}
	sorted := func() []uint32 {
		hs := make([]uint32, 0, len(ours))
		for h := range ours {
			hs = append(hs, h)
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
		return hs
	}
	autoAdd := func() {
		t.Helper()
		before := kernelHandles()
		add(0)
		after := kernelHandles()
		require.Len(t, after, len(before)+1)
		var got uint32
		for i, h := range after {
			if i == len(before) || before[i] != h {
				got = h
				break
			}
		}
		h, err := a.Alloc()
		require.NoError(t, err)
		require.Equal(t, got, h, "automatic handle")
		ours[h] = true
	}
	explicitAdd := func(h uint32) {
		t.Helper()
		add(h)
		require.NoError(t, a.Reserve(h))
		ours[h] = true
	}
	remove := func(h uint32) {
		t.Helper()
		del(h)
		a.Release(h)
		delete(ours, h)
	}

	// §5.3
	autoAdd()
	autoAdd()
	autoAdd()
	remove(1)
	autoAdd()
	autoAdd()
	for _, h := range []uint32{0x7FFFFFFE, 0x7FFFFFFF, 0xFFFFFFF0, 5} {
		explicitAdd(h)
	}
	autoAdd()
	require.Equal(t, sorted(), kernelHandles())

	// Random steps; 0xFFFFFFF0 stays so the filter list is never empty.
	steps := 150
	if testing.Short() {
		steps = 40
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range steps {
		switch op := r.IntN(20); {
		case op < 9:
			autoAdd()
		case op < 13:
			h := uint32(r.IntN(40) + 1)
			if r.IntN(4) == 0 {
				h = r.Uint32() | 1
			}
			if !ours[h] {
				explicitAdd(h)
			}
		default:
			hs := sorted()
			h := hs[r.IntN(len(hs))]
			if h != 0xFFFFFFF0 {
				remove(h)
			}
		}
		require.Equal(t, sorted(), kernelHandles(), "step %d", i)
	}
}

// Alphabets for randomNumberish: digits, hex letters, prefixes, signs,
// colons and white space, the corners of strtoul.
const (
	hexAlphabet = "0123456789abcdefABFgxX:::+-  \t"
	decAlphabet = "00001234567899999xXaf+- \t"
)

// randomNumberish returns n random strings of up to 9 bytes over alphabet.
func randomNumberish(seed uint64, n int, alphabet string) []string {
	r := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]string, 0, n)
	for range n {
		b := make([]byte, r.IntN(10))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		out = append(out, string(b))
	}
	return out
}

func randomCount() int {
	if testing.Short() {
		return 40
	}
	return 150
}

// TestKernelRandomStrings gives random number-like strings to tc as class
// ids, filter handles and qdisc handles and requires ParseClassID,
// ParseFilter and ParseQdisc to accept exactly what tc accepts, with the
// values the kernel then holds.
func TestKernelRandomStrings(t *testing.T) {
	t.Run("classid", func(t *testing.T) {
		ns := newClsactLo(t)
		inputs := randomNumberish(20, randomCount(), hexAlphabet)
		want := map[uint32]Handle{}
		for i, s := range inputs {
			handle := uint32(i + 1)
			out, err := ns.Run("tc", "filter", "add", "dev", "lo", "ingress", "pref", "1", "handle", strconv.Itoa(int(handle)),
				"bpf", "bytecode", "1,6 0 0 0", "classid", s)
			h, perr := ParseClassID(s)
			if err != nil {
				assert.Contains(t, out, `Illegal "classid"`, "%q", s)
				assert.Error(t, perr, "%q: tc refuses it", s)
				continue
			}
			if assert.NoError(t, perr, "%q: tc accepts it", s) {
				want[handle] = h
			}
		}
		got := showFilters(t, ns)[1]
		require.Len(t, got, len(want))
		for handle, h := range want {
			if h == Unspec {
				assert.Empty(t, got[handle], "%q", inputs[handle-1])
				continue
			}
			assert.Equal(t, h.String(), got[handle], "%q", inputs[handle-1])
		}
		t.Logf("tc accepted %d of %d", len(want), len(inputs))
	})
	t.Run("filter", func(t *testing.T) {
		ns := newClsactLo(t)
		inputs := randomNumberish(30, randomCount(), decAlphabet)
		want := map[int]uint32{}
		for i, s := range inputs {
			pref := i + 1
			out, err := ns.Run("tc", "filter", "add", "dev", "lo", "ingress", "pref", strconv.Itoa(pref), "handle", s,
				"bpf", "bytecode", "1,6 0 0 0")
			h, perr := ParseFilter(s)
			if err != nil {
				assert.Contains(t, out, `Illegal "handle"`, "%q", s)
				assert.Error(t, perr, "%q: tc refuses it", s)
				continue
			}
			if assert.NoError(t, perr, "%q: tc accepts it", s) {
				want[pref] = max(h, 1)
			}
		}
		got := showFilters(t, ns)
		require.Len(t, got, len(want))
		for pref, h := range want {
			_, ok := got[pref][h]
			assert.True(t, ok, "%q: want %#x, kernel has %v", inputs[pref-1], h, got[pref])
		}
		t.Logf("tc accepted %d of %d", len(want), len(inputs))
	})
	t.Run("qdisc", func(t *testing.T) {
		ns := kerneltest.NewNetNS(t)
		inputs := randomNumberish(40, randomCount(), hexAlphabet)
		accepted := 0
		for _, s := range inputs {
			out, err := ns.Run("tc", "qdisc", "replace", "dev", "lo", "root", "handle", s, "pfifo")
			h, perr := ParseQdisc(s)
			if err != nil {
				assert.Contains(t, out, "invalid qdisc ID", "%q", s)
				assert.Error(t, perr, "%q: tc refuses it", s)
				continue
			}
			accepted++
			if !assert.NoError(t, perr, "%q: tc accepts it", s) || h == Unspec {
				continue
			}
			m := qdiscLine.FindStringSubmatch(ns.MustRun(t, "tc", "qdisc", "show", "dev", "lo"))
			require.NotNil(t, m, "%q", s)
			assert.Equal(t, strings.TrimSuffix(h.String(), ":"), m[1], "%q", s)
		}
		t.Logf("tc accepted %d of %d", accepted, len(inputs))
	})
}
