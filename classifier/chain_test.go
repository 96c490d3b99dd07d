package classifier

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// genProgram returns the classid h:g, tying what the program returns to
// the filter it belongs to: a reader that saw a program of one filter with
// the handle of another would see a half-made change.
func genProgram(h uint32, g uint16) *fakeClassic {
	v := h<<16 | uint32(g)
	return &fakeClassic{insns: retK(v).insns, run: func(*packet.Packet) uint32 { return v }}
}

// TestHammer runs Classify on every core while writers add, replace and
// delete filters. Every result must come from one filter whole (classid
// major = filter handle), every snapshot a reader takes must keep its
// length and order while it reads, and the race detector must stay quiet.
func TestHammer(t *testing.T) {
	readers, rounds, changes := 2*runtime.GOMAXPROCS(0), 2000, 3000
	if testing.Short() {
		rounds, changes = 300, 500
	}
	c := New(Config{})
	for h := uint32(1); h <= 8; h++ {
		add(t, c, FilterSpec{Handle: h, Program: genProgram(h, 0)})
	}

	var writersDone atomic.Bool
	var readersWG, writers sync.WaitGroup
	errs := make(chan error, readers+2)
	for r := 0; r < readers; r++ {
		readersWG.Add(1)
		go func(r int) {
			defer readersWG.Done()
			pkt := packet.New(len(testFrame))
			if err := pkt.SetFrame(testFrame); err != nil {
				errs <- err
				return
			}
			pkt.Slot = uint32(r)
			// Read at least rounds times and until the writers are done.
			for i := 0; i < rounds || !writersDone.Load(); i++ {
				res := c.Classify(pkt)
				if res.Decided() && uint32(res.ClassID)>>16 != res.Filter {
					errs <- fmt.Errorf("result %+v mixes two filters", res)
					return
				}
				seen := map[uint32]bool{}
				for _, f := range c.Filters() {
					if seen[f.Handle()] {
						errs <- fmt.Errorf("handle %d twice in one snapshot", f.Handle())
						return
					}
					seen[f.Handle()] = true
				}
			}
		}(r)
	}
	for w := 0; w < 2; w++ {
		writers.Add(1)
		go func(w int) {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < changes; i++ {
				h := uint32(1 + rng.IntN(12))
				switch rng.IntN(3) {
				case 0:
					_, _ = c.Delete(h)
				default:
					if _, err := c.Change(FilterSpec{Handle: h, Program: genProgram(h, uint16(i))}, Create); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	writers.Wait()
	writersDone.Store(true)
	readersWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The allocator agrees with the list.
	for _, f := range c.Filters() {
		assert.True(t, c.handles.InUse(f.Handle()))
	}
	assert.Equal(t, c.Len(), c.handles.Len())
}

// benchChain builds a chain of n classic filters in which only the oldest
// matches: every Classify runs all n programs.
func benchChain(b *testing.B, n int) *Chain {
	b.Helper()
	miss, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                         // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86DD, SkipFalse: 1}, // jeq #0x86dd, L2, L3
		bpf.RetConstant{Val: 0xFFFFFFFF},                           // L2: ret #-1
		bpf.RetConstant{Val: 0},                                    // L3: ret #0
	})
	require.NoError(b, err)
	hit, err := cbpf.Load([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                         // ldh [12]
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1}, // jeq #0x800, L2, L3
		bpf.RetConstant{Val: 0xFFFFFFFF},                           // L2: ret #-1
		bpf.RetConstant{Val: 0},                                    // L3: ret #0
	})
	require.NoError(b, err)
	c := New(Config{})
	for i := 0; i < n; i++ {
		p := miss
		if i == 0 {
			p = hit
		}
		_, err := c.Change(FilterSpec{ClassID: handle.Make(1, uint16(i+1)), Program: p}, Create)
		require.NoError(b, err)
	}
	return c
}

func BenchmarkClassify(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("filters=%d", n), func(b *testing.B) {
			c := benchChain(b, n)
			pkt := newPacket(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(testFrame)))
			for b.Loop() {
				if c.Classify(pkt).ClassID != 0x10001 {
					b.Fatal("wrong class")
				}
			}
		})
	}
}

// BenchmarkClassifyParallel classifies on every core while a writer keeps
// replacing a filter.
func BenchmarkClassifyParallel(b *testing.B) {
	c := benchChain(b, 10)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			_, _ = c.Change(FilterSpec{Handle: 5, ClassID: handle.Make(1, uint16(i)), Program: retK(0)}, Create)
		}
	}()
	b.ReportAllocs()
	b.SetBytes(int64(len(testFrame)))
	b.RunParallel(func(pb *testing.PB) {
		pkt := packet.New(len(testFrame))
		if err := pkt.SetFrame(testFrame); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if c.Classify(pkt).ClassID != 0x10001 {
				b.Error("wrong class")
				return
			}
		}
	})
	stop.Store(true)
	<-done
}

// FuzzAttrs feeds random TCA_OPTIONS payloads, handles and flags to
// ChangeNetlink on a chain holding two filters: it must answer with an
// error (and leave list, dumps and handles exactly as they were) or
// succeed (and dump the new filter in a form that loads again to the same
// dump), and never panic.
func FuzzAttrs(f *testing.F) {
	classic, _ := hex.DecodeString("280000000c000000150000010008000006000000ffffffff0600000000000000")
	f.Add(uint32(0), uint16(Create|Excl), []byte(opts{}.u32(uapi.TCA_BPF_CLASSID, 0x10010).u16(uapi.TCA_BPF_OPS_LEN, 4).raw(uapi.TCA_BPF_OPS, classic)))
	f.Add(uint32(1), uint16(Create), []byte(opts{}.u32(uapi.TCA_BPF_FD, 5).str(uapi.TCA_BPF_NAME, "x").u32(uapi.TCA_BPF_FLAGS, 1)))
	f.Add(uint32(2), uint16(0), []byte(opts{}.u32(uapi.TCA_BPF_FD, 5).u32(uapi.TCA_BPF_FLAGS_GEN, 1)))
	f.Add(uint32(7), uint16(Create), []byte(opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, classic[24:])))
	f.Add(uint32(0), uint16(Create), []byte{4, 0, 5, 0, 8, 0, 4, 0})
	f.Add(uint32(0), uint16(Create), []byte(opts{}.raw(uapi.TCA_BPF_ACT, []byte{1})))
	f.Fuzz(func(t *testing.T, h uint32, flags uint16, options []byte) {
		table := fakeTable{5: &fakeEBPF{id: 9, run: func(*packet.Packet) uint32 { return 0 }}}
		c := New(Config{Programs: table, Actions: &fakeParser{}})
		for i, o := range [][]byte{
			opts{}.u16(uapi.TCA_BPF_OPS_LEN, 4).raw(uapi.TCA_BPF_OPS, classic),
			opts{}.u32(uapi.TCA_BPF_FD, 5).u32(uapi.TCA_BPF_CLASSID, 0x10020),
		} {
			_, err := c.ChangeNetlink(Request{Handle: uint32(i + 1), Flags: Create, Options: o})
			require.NoError(t, err)
		}
		before := libDumpPlain(t, c)
		alloc := c.handles

		nf, err := c.ChangeNetlink(Request{Handle: h, Flags: ChangeFlags(flags) & (Create | Excl), Options: options})
		if err != nil {
			require.Nil(t, nf)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.NotZero(t, e.Errno)
			require.Equal(t, before, libDumpPlain(t, c), "a failed change left a trace")
			require.Same(t, alloc, c.handles, "a failed change touched the handle allocator")
			return
		}
		got, ok := c.Get(nf.Handle())
		require.True(t, ok)
		require.Same(t, nf, got)
		dump, err := nf.AppendOptions(nil)
		require.NoError(t, err)
		if nf.Classic() && nf.Actions() == nil {
			// The dump, with FLAGS_GEN reduced to the requestable skip
			// bits, is a request for the same filter.
			var req []byte
			nlattr.Walk(dump[uapi.NLA_HDRLEN:], func(a nlattr.Attr) bool {
				if a.Type == uapi.TCA_BPF_FLAGS_GEN {
					a.Data = binary.LittleEndian.AppendUint32(nil, binary.LittleEndian.Uint32(a.Data)&(SkipHW|SkipSW))
				}
				req = nlattr.Append(req, a.Type, a.Data)
				return true
			})
			c2 := New(Config{})
			nf2, err := c2.ChangeNetlink(Request{Handle: nf.Handle(), Flags: Create, Options: req})
			require.NoError(t, err)
			dump2, err := nf2.AppendOptions(nil)
			require.NoError(t, err)
			require.Equal(t, dump, dump2)
		}
	})
}

func libDumpPlain(t *testing.T, c *Chain) []string {
	t.Helper()
	var out []string
	for _, f := range c.Filters() {
		b, err := f.AppendOptions(nil)
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%#x=%x", f.Handle(), b))
	}
	return out
}
