package ebpf_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// vlanPackets are the three ways through testdata/vlan.c: an untagged
// IPv4 frame (a tag is pushed), a frame with an offloaded tag (it is
// popped) and an untagged ARP frame (passed).
func vlanPackets(t testing.TB) map[string]*packet.Packet {
	t.Helper()
	mk := func(f []byte, tagged bool) *packet.Packet {
		pkt := packet.New(len(f))
		require.NoError(t, pkt.SetFrame(f))
		if tagged {
			pkt.VLANPresent, pkt.VLANTCI = true, 5
		}
		return pkt
	}
	arp := tcpFrame(80)
	arp[12], arp[13] = 0x08, 0x06
	return map[string]*packet.Packet{
		"ip":     mk(tcpFrame(80), false),
		"tagged": mk(tcpFrame(80), true),
		"arp":    mk(arp, false),
	}
}

func loadVLAN(t testing.TB) *ebpf.Program {
	t.Helper()
	col := loadCollection(t, "vlan", ebpf.CollectionOptions{Slots: 1})
	prog := col.Programs["vlan"]
	require.NotNil(t, prog)
	return prog
}

// TestRunTracePath checks the executed instruction path of each vlan.c
// packet against the program as clang -O2 compiled it:
//
//	0: r6 = r1                        vlan.c:6
//	1: r1 = *(u32 *)(r6 +20)          vlan.c:8   skb->vlan_present
//	2: if w1 == 0x0 goto pc+9         vlan.c:8
//	3: r1 = *(u32 *)(r6 +24)          vlan.c:9   skb->vlan_tci
//	4: *(u32 *)(r6 +48) = r1          vlan.c:9   skb->cb[0]
//	5..11: bpf_skb_vlan_pop, r0 = 2   vlan.c:10
//	12: w0 = 0                        vlan.c:10  (TC_ACT_OK, hoisted)
//	13: r1 = *(u32 *)(r6 +16)         vlan.c:15  skb->protocol
//	14: if w1 != 0x8 goto pc+10       vlan.c:15
//	15..22: bpf_skb_vlan_push ...     vlan.c:17
//	23: *(u32 *)(r6 +8) = r2          (line 0)   skb->mark
//	24: w0 = 0                        (line 0)
//	25: exit                          vlan.c:21
func TestRunTracePath(t *testing.T) {
	prog := loadVLAN(t)
	pkts := vlanPackets(t)
	for _, tc := range []struct {
		name string
		path []int
		mark uint32
	}{
		{"ip", []int{0, 1, 2, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}, 1},
		{"tagged", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 23, 24, 25}, 2},
		{"arp", []int{0, 1, 2, 12, 13, 14, 25}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr trc.Trace
			res := prog.RunTrace(pkts[tc.name], &tr)
			assert.Equal(t, uint32(0), res)
			assert.Equal(t, tc.mark, pkts[tc.name].Mark)
			var path []int
			for _, s := range tr.Steps {
				path = append(path, s.PC)
			}
			assert.Equal(t, tc.path, path)
			assert.Equal(t, len(tc.path), tr.Executed)
			assert.Empty(t, tr.Fault)
			assert.True(t, tr.Steps[len(tr.Steps)-1].Ends)
			assert.Equal(t, "exit", tr.Steps[len(tr.Steps)-1].Insn)
			assert.Equal(t, trc.Source{File: tr.Steps[0].Source.File, Line: 6, Text: "int vlan(struct __sk_buff *skb)"}, tr.Steps[0].Source)
			assert.Equal(t, "vlan.c:8", tr.Steps[1].Source.String())
			assert.Equal(t, "if (skb->vlan_present) {", tr.Steps[1].Source.Text)
		})
	}
}

// TestRunTraceSteps checks what the steps of the untagged IPv4 run
// record: registers, context accesses, the helper call and branches.
func TestRunTraceSteps(t *testing.T) {
	prog := loadVLAN(t)
	var tr trc.Trace
	prog.RunTrace(vlanPackets(t)["ip"], &tr)
	s := tr.Steps // pcs 0, 1, 2, 12, 13, 14, 15, 16, 17, 18 ...
	ctx := uint64(0x100_0000_0000)

	assert.Equal(t, "r6 = r1", s[0].Insn)
	assert.Equal(t, "bf 16 00 00 00 00 00 00", s[0].Bytecode)
	assert.Equal(t, []trc.Reg{{Name: "r1", Value: ctx}}, s[0].Reads())
	assert.Equal(t, []trc.Reg{{Name: "r6", Value: ctx}}, s[0].Writes())

	assert.Equal(t, "r1 = *(u32 *)(r6 +20)", s[1].Insn)
	require.True(t, s[1].HasAccess)
	assert.Equal(t, trc.Access{Region: trc.RegionContext, Size: 4, Offset: 20, Name: "vlan_present"}, s[1].Access)
	assert.Equal(t, "load ctx[vlan_present]=0x0", s[1].Access.String())

	assert.Equal(t, "if w1 == 0x0 goto pc+9", s[2].Insn)
	assert.Equal(t, trc.BranchTaken, s[2].Branch)

	assert.Equal(t, "load ctx[protocol]=0x8", s[4].Access.String()) // htons(ETH_P_IP)
	assert.Equal(t, trc.BranchNotTaken, s[5].Branch)

	call := s[9]
	assert.Equal(t, "call bpf_skb_vlan_push#18", call.Insn)
	require.True(t, call.HasCall)
	assert.Equal(t, trc.Call{ID: 18, Name: "bpf_skb_vlan_push", Args: [5]uint64{ctx, 0x81, 100, 0, 0}, Result: 0}, call.Call)
	assert.Len(t, call.Reads(), 5)
	assert.Equal(t, []trc.Reg{{Name: "r0", Value: 0}}, call.Writes())

	store := s[14] // pc 23
	assert.Equal(t, 23, store.PC)
	assert.Equal(t, trc.Access{Region: trc.RegionContext, Write: true, Size: 4, Offset: 8, Name: "mark", Value: 1}, store.Access)

	text := tr.String()
	assert.Contains(t, text, "; if (skb->vlan_present) {  (vlan.c:8)\n")
	assert.Contains(t, text, "call bpf_skb_vlan_push(0x10000000000, 0x81, 0x64, 0x0, 0x0) = 0x0")
	assert.True(t, strings.HasSuffix(text, "exit                                         | 95 00 00 00 00 00 00 00 | read r0=0x0\nresult 0x0\n"), text)
}

// TestRunTraceSameAsRun runs every test object's program on the same
// packets with Run and with RunTrace and compares results and packets.
func TestRunTraceSameAsRun(t *testing.T) {
	for _, tc := range []struct{ object, prog string }{
		{"globals", "globals"}, {"port", "port_classifier"}, {"lpm", "lpm_acl"}, {"nat", "nat"},
		{"elfmap", "count"}, {"tailcall", "tail_entry"}, {"progarray", "dispatch"}, {"vlan", "vlan"},
	} {
		t.Run(tc.object, func(t *testing.T) {
			run := func(traced bool) (res []uint32, frames [][]byte, marks []uint32) {
				col := loadCollection(t, tc.object, ebpf.CollectionOptions{Slots: 1})
				prog := col.Programs[tc.prog]
				require.NotNil(t, prog)
				if m := col.Maps["ports"]; m != nil {
					require.NoError(t, m.Put(uint16(80), make([]byte, 16)))
				}
				if m := col.Maps["jumps"]; m != nil {
					require.NoError(t, m.Put(uint32(1), ebpf.TailCallTarget(col.Programs["tail_tcp"])))
					require.NoError(t, m.Put(uint32(3), ebpf.TailCallTarget(col.Programs["tail_last"])))
				}
				var tr trc.Trace
				for _, port := range []uint16{80, 443, 53} {
					pkts := vlanPackets(t)
					for _, name := range []string{"ip", "tagged", "arp"} {
						p := pkts[name]
						f := tcpFrame(port)
						copy(f[12:14], p.Bytes()[12:14])
						require.NoError(t, p.SetFrame(f))
						var r uint32
						if traced {
							r = prog.RunTrace(p, &tr)
							assert.NotZero(t, tr.Executed)
						} else {
							r = prog.Run(p)
						}
						res = append(res, r)
						frames = append(frames, append([]byte(nil), p.Bytes()...))
						marks = append(marks, p.Mark)
					}
				}
				assert.Zero(t, prog.Faults())
				return res, frames, marks
			}
			r1, f1, m1 := run(false)
			r2, f2, m2 := run(true)
			assert.Equal(t, r1, r2)
			assert.Equal(t, f1, f2)
			assert.Equal(t, m1, m2)
		})
	}
}

// loopProgram is a bounded loop whose run exceeds a budget of 10: the
// backward jump at pc 2 faults with ErrBudget. Its line information says
// pc 2 is prog.c:42.
func loopProgram(t testing.TB) *ebpf.Program {
	t.Helper()
	spec := &ebpf.ProgramSpec{
		Name: "loop", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: []ebpf.Instruction{
			{Op: 0xb7, Dst: 0, Imm: 0},           // r0 = 0
			{Op: 0x07, Dst: 0, Imm: 1},           // r0 += 1
			{Op: 0xa5, Dst: 0, Off: -2, Imm: 50}, // if r0 < 0x32 goto pc-2
			{Op: 0x95},                           // exit
		},
		Lines: []trc.Source{
			{File: "/src/prog.c", Line: 40, Text: "int i = 0;"},
			{File: "/src/prog.c", Line: 42, Text: "i++;"},
			{File: "/src/prog.c", Line: 42, Text: "i++;"},
			{File: "/src/prog.c", Line: 43, Text: "return i;"},
		},
	}
	prog, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Budget: 10})
	require.NoError(t, err)
	return prog
}

func TestRunFaultSourceLine(t *testing.T) {
	prog := loopProgram(t)
	pkt := packet.New(64)
	require.NoError(t, pkt.SetFrame(tcpFrame(80)))

	_, err := prog.RunChecked(pkt)
	require.Error(t, err)
	serr := prog.SourceError(err)
	assert.Equal(t, "ebpf: run loop: ebpfvm: instruction budget exhausted: argument list too long at prog.c:42 (insn 2)", serr.Error())
	assert.ErrorIs(t, serr, syscall.E2BIG)
	assert.ErrorIs(t, serr, ebpfvm.ErrBudget)
	var re *ebpfvm.RunError
	require.True(t, errors.As(serr, &re))
	assert.Equal(t, 2, re.PC)
	assert.Nil(t, prog.SourceError(nil))
	other := errors.New("other")
	assert.Same(t, other, prog.SourceError(other))

	var tr trc.Trace
	assert.Equal(t, uint32(0), prog.RunTrace(pkt, &tr))
	assert.Equal(t, "ebpfvm: instruction budget exhausted: argument list too long at prog.c:42 (insn 2)", tr.Fault)
	last := tr.Last()
	require.NotNil(t, last)
	assert.Equal(t, 2, last.PC)
	assert.True(t, last.Ends)
	assert.Equal(t, uint64(1), prog.Faults()) // RunTrace counts like Run; RunChecked does not
	assert.Equal(t, trc.Source{File: "/src/prog.c", Line: 42, Text: "i++;"}, prog.Source(2))
	assert.Equal(t, trc.Source{}, prog.Source(4))
	assert.Equal(t, trc.Source{}, prog.Source(-1))
}

func TestRunTraceTruncated(t *testing.T) {
	prog := loadVLAN(t)
	tr := trc.Trace{MaxSteps: 4}
	prog.RunTrace(vlanPackets(t)["ip"], &tr)
	assert.Len(t, tr.Steps, 4)
	assert.True(t, tr.Truncated)
	assert.Equal(t, 17, tr.Executed)
}

// vlanCoverage runs the named vlan.c packets into a new Coverage.
func vlanCoverage(t testing.TB, prog *ebpf.Program, names ...string) *ebpf.Coverage {
	c := ebpf.NewCoverage(prog)
	for _, n := range names {
		assert.Equal(t, uint32(0), c.Run(vlanPackets(t)[n]))
	}
	return c
}

// coveredLines returns the line numbers a Coverage marks as run and not.
func coveredLines(c *ebpf.Coverage) (ran, not []int) {
	for _, l := range c.Lines() {
		if l.Covered > 0 {
			ran = append(ran, l.Source.Line)
		} else {
			not = append(not, l.Source.Line)
		}
	}
	return ran, not
}

// TestCoverageLines checks the lines of vlan.c each test set runs,
// derived by hand from the paths of TestRunTracePath and the line of each
// instruction: every set runs lines 6, 8 and 21, and line 10 (whose
// hoisted "w0 = 0" every untagged packet runs); only the tagged packet
// runs line 9, only an untagged IPv4 packet line 17.
func TestCoverageLines(t *testing.T) {
	prog := loadVLAN(t)
	for _, tc := range []struct {
		name     string
		set      []string
		ran, not []int
		dirs     int
	}{
		{"ip", []string{"ip"}, []int{6, 8, 10, 15, 17, 21}, []int{9}, 3},
		{"tagged", []string{"tagged"}, []int{6, 8, 9, 10, 21}, []int{15, 17}, 2},
		{"arp", []string{"arp"}, []int{6, 8, 10, 15, 21}, []int{9, 17}, 2},
		{"all", []string{"ip", "tagged", "arp"}, []int{6, 8, 9, 10, 15, 17, 21}, nil, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := vlanCoverage(t, prog, tc.set...)
			ran, not := coveredLines(c)
			assert.Equal(t, tc.ran, ran)
			assert.Equal(t, tc.not, not)
			_, insns, dirs, all := c.Summary()
			assert.Equal(t, 26, insns)
			assert.Equal(t, 8, all)
			assert.Equal(t, tc.dirs, dirs)
			assert.Equal(t, uint64(len(tc.set)), c.Runs())
		})
	}
}

func TestCoverageLinesText(t *testing.T) {
	c := vlanCoverage(t, loadVLAN(t), "ip")
	var b bytes.Buffer
	require.NoError(t, c.WriteLinesText(&b))
	want := "coverage: 6/7 source lines (85.7%), 1 runs\n" +
		"      hits   insns    dirs  line             source\n" +
		"         1     1/1       -  vlan.c:6         int vlan(struct __sk_buff *skb)\n" +
		"~        1     2/2     1/2  vlan.c:8         if (skb->vlan_present) {\n" +
		"!        0     0/2       -  vlan.c:9         skb->cb[0] = skb->vlan_tci;\n" +
		"~        1     1/8     0/2  vlan.c:10        if (bpf_skb_vlan_pop(skb))\n" +
		"~        1     2/2     1/2  vlan.c:15        if (skb->protocol != bpf_htons(ETH_P_IP))\n" +
		"~        1     8/8     1/2  vlan.c:17        if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100))\n" +
		"         1     1/1       -  vlan.c:21        }\n"
	assert.Equal(t, want, b.String())
}

// htmlSpans returns the class of each span with an id in the page.
func htmlSpans(t *testing.T, page []byte) map[string]string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	out := map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "span" {
			var id, class string
			for _, a := range n.Attr {
				switch a.Key {
				case "id":
					id = a.Val
				case "class":
					class = a.Val
				}
			}
			out[id] = class
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	return out
}

func TestCoverageLinesHTML(t *testing.T) {
	c := vlanCoverage(t, loadVLAN(t), "tagged")
	var b bytes.Buffer
	require.NoError(t, c.WriteLinesHTML(&b))
	page := b.String()
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"))
	assert.Contains(t, page, "<title>ebpf coverage: vlan</title>")
	assert.Contains(t, page, "skb-&gt;cb[0] = skb-&gt;vlan_tci;")
	// Lines in order 6, 8, 9, 10, 15, 17, 21.
	assert.Equal(t, map[string]string{
		"line0": "cov1", "line1": "cov1 partial", "line2": "cov1", "line3": "cov1 partial",
		"line4": "cov0", "line5": "cov0", "line6": "cov1",
	}, htmlSpans(t, b.Bytes()))

	b.Reset()
	require.NoError(t, c.WriteHTML(&b))
	spans := htmlSpans(t, b.Bytes())
	assert.Equal(t, "cov1", spans["pc3"])
	assert.Equal(t, "cov0", spans["pc12"])
	assert.Equal(t, "br br-not", spans["br2"]) // the tag was present
}

func TestTraceAllocs(t *testing.T) {
	if ebpf.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	prog := loadVLAN(t)
	frame := tcpFrame(80)
	var pkt packet.Packet
	var tr trc.Trace
	require.NoError(t, pkt.SetFrame(frame))
	prog.RunTrace(&pkt, &tr) // builds the listing
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_ = pkt.SetFrame(frame)
		prog.RunTrace(&pkt, &tr)
	}))
	c := ebpf.NewCoverage(prog)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_ = pkt.SetFrame(frame)
		c.Run(&pkt)
	}))
}

// TestTraceConcurrent traces and covers one program from several
// goroutines, each with its own Trace and packets, one shared Coverage.
func TestTraceConcurrent(t *testing.T) {
	prog := loadCollection(t, "vlan", ebpf.CollectionOptions{Slots: 4}).Programs["vlan"]
	c := ebpf.NewCoverage(prog)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var tr trc.Trace
			for range 50 {
				pkts := vlanPackets(t)
				for _, p := range pkts {
					p.Slot = uint32(g)
				}
				prog.RunTrace(pkts["ip"], &tr)
				assert.Len(t, tr.Steps, 17)
				c.Run(pkts["tagged"])
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(200), c.Runs())
	h, _, _ := c.Counts(3)
	assert.Equal(t, uint64(200), h)
}

// TestObjectLines checks that every program of the test objects carries
// a source line for each slot, its first instruction on a line of its C
// file, and that a spec's copy has its own lines.
func TestObjectLines(t *testing.T) {
	for _, name := range []string{"elfmap", "events", "globals", "lpm", "mapinmap", "nat", "port", "progarray", "sections", "tailcall", "trace", "vlan"} {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			require.NotEmpty(t, spec.Programs)
			for pname, ps := range spec.Programs {
				require.Len(t, ps.Lines, len(ps.Instructions), pname)
				assert.NotZero(t, ps.Lines[0].Line, pname)
				assert.Equal(t, name+".c", filepath.Base(ps.Lines[0].File), pname)
				c := ps.Copy()
				c.Lines[0].Line = -1
				assert.NotEqual(t, -1, ps.Lines[0].Line)
			}
		})
	}
}

// TestRunTraceSubprogramLines: the steps of globals.c's bpf-to-bpf call
// of score() carry score's lines (12 to 20, or none where clang
// recorded line 0) and the caller's resume on
// line 28, the line of the call.
func TestRunTraceSubprogramLines(t *testing.T) {
	col := loadCollection(t, "globals", ebpf.CollectionOptions{Slots: 1})
	var tr trc.Trace
	col.Programs["globals"].RunTrace(vlanPackets(t)["ip"], &tr)
	call := -1
	for i, s := range tr.Steps {
		if strings.HasPrefix(s.Insn, "call pc") {
			call = i
			break
		}
	}
	require.GreaterOrEqual(t, call, 0, "no bpf-to-bpf call traced")
	assert.Equal(t, 28, tr.Steps[call].Source.Line)
	ret := -1
	for i := call + 1; i < len(tr.Steps); i++ {
		s := tr.Steps[i]
		assert.True(t, s.Source.Line == 0 || s.Source.Line >= 12 && s.Source.Line <= 20, "step %d (pc %d) on line %d", i, s.PC, s.Source.Line)
		if s.Insn == "exit" {
			ret = i
			break
		}
	}
	require.Positive(t, ret, "score() did not return")
	assert.Equal(t, 28, tr.Steps[ret+1].Source.Line)
}
