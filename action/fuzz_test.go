package action

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// snapshot describes a table's actions and reference counts.
func snapshot(t *Table) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for kind, d := range t.kinds {
		for idx, a := range d.m {
			c := a.Gen()
			lines = append(lines, fmt.Sprintf("%s/%d ref=%d bind=%d v=%d", kind, idx, c.refcnt, c.bindcnt, c.Verdict()))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func fuzzTable() *Table {
	fwd := newFakeFwd(map[uint32]DeviceState{2: {Up: true, MACHeaderXmit: true}, 3: {Up: false}})
	t := NewTable(Config{Clock: newFakeClock(), Forwarder: fwd})
	if _, err := t.Add([]Spec{&Gact{Params: Params{Index: 2, Verdict: Shot}}, &Mirred{Params: Params{Index: 2, Verdict: Pipe}, Action: EgressMirror, Ifindex: 2}}, false); err != nil {
		panic(err)
	}
	return t
}

func fuzzSeeds() [][]byte {
	specs := [][]Spec{
		{&Gact{Params: Params{Verdict: Shot}}},
		{&Gact{Params: Params{Index: 2}}, &Gact{Prob: ProbDeterm, ProbVal: 2, ProbVerdict: Shot}},
		{&Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}},
		{&Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 1, InheritDSField: true}},
		{&Police{Params: Params{Verdict: Shot}, Rate: RateSpec{Rate: 1000}, Burst: 100, PeakRate: RateSpec{Rate: 2000}, MTU: 1000}},
		{&Police{Params: Params{Verdict: Shot}, PktRate: 10, PktBurst: 1000}},
		{&Vlan{Params: Params{Verdict: Pipe}, Action: VlanPush, ID: 3, Protocol: 0x88a8}, &Vlan{Action: VlanPushEth, Dst: net.HardwareAddr{1, 2, 3, 4, 5, 6}, Src: net.HardwareAddr{1, 2, 3, 4, 5, 6}}},
		{&Csum{Update: 0x7f}},
		{&Bpf{Ops: []bpf.RawInstruction{{Op: 0x06, K: 3}}}},
		{&Gact{Params: Params{Verdict: ExtJump | 2, Cookie: []byte{1, 2}, Flags: NoPercpuStats}}, &Gact{Params: Params{Verdict: ExtGotoChain | 1}}},
	}
	var out [][]byte
	for _, s := range specs {
		out = append(out, EncodeSpecs(s))
	}
	out = append(out, nil, []byte{4, 0, 1, 0}, nlattr.Append(nil, 33, nil))
	return out
}

// FuzzActionAttrs feeds arbitrary TCA_BPF_ACT / TCA_ACT_TAB payloads to
// ParseChain and AddAttrs: they must never panic, and an error must leave
// the table exactly as it was; a chain released gives back what it took.
func FuzzActionAttrs(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, false)
		f.Add(s, true)
	}
	frame := udpFrame(f, 40)
	f.Fuzz(func(t *testing.T, b []byte, standalone bool) {
		tbl := fuzzTable()
		before := snapshot(tbl)
		if standalone {
			acts, err := tbl.AddAttrs(b, false)
			if err != nil {
				if acts != nil {
					t.Fatal("actions together with an error")
				}
				if after := snapshot(tbl); after != before {
					t.Fatalf("failed add changed the table:\n%s\n---\n%s", before, after)
				}
			}
			return
		}
		c, err := tbl.ParseChain(b, FilterContext{Ingress: len(b)%2 == 0})
		if err != nil {
			if c != nil {
				t.Fatal("chain together with an error")
			}
			if after := snapshot(tbl); after != before {
				t.Fatalf("failed parse changed the table:\n%s\n---\n%s", before, after)
			}
			return
		}
		if c.Len() > MaxActions {
			t.Fatalf("%d actions", c.Len())
		}
		pkt := egressPacket(t, frame)
		var res Result
		c.Run(pkt, &res)
		_ = c.Dump()
		_ = c.String()
		c.Release()
		if after := snapshot(tbl); after != before {
			t.Fatalf("release did not restore the table:\n%s\n---\n%s", before, after)
		}
	})
}

// TestTableIndexes pins index allocation and binding rules.
func TestTableIndexes(t *testing.T) {
	tbl := NewTable(Config{})
	c, err := tbl.NewChain([]Spec{&Gact{}, &Gact{Params: Params{Index: 5}}, &Gact{}}, FilterContext{})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, a := range c.Actions() {
		got = append(got, a.Index())
	}
	if fmt.Sprint(got) != "[1 5 2]" {
		t.Fatalf("indexes %v", got)
	}
	// The same new index twice in one request: the kernel's idr says
	// EAGAIN (a filter request would replay it forever).
	_, err = tbl.NewChain([]Spec{&Gact{Params: Params{Index: 9}}, &Gact{Params: Params{Index: 9}}}, FilterContext{})
	if err == nil || !strings.Contains(err.Error(), "resource temporarily unavailable") {
		t.Fatalf("want EAGAIN, got %v", err)
	}
	if _, ok := tbl.Get("gact", 9); ok {
		t.Fatal("left behind")
	}
	_ = uapi.TCA_ACT_MAX
}
