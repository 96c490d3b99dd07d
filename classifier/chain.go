package classifier

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/offload"
)

// Config holds the hooks a Chain uses; every field is optional.
type Config struct {
	// Programs resolves TCA_BPF_FD. Without it every descriptor is
	// EBADF.
	Programs ProgramTable
	// Actions parses TCA_BPF_ACT and TCA_BPF_POLICE. Without it those
	// attributes are EOPNOTSUPP.
	Actions ActionParser
	// Offload is the set of devices the chain's block is bound to and
	// their drivers. Without it the chain behaves as one bound to a
	// device that cannot offload (a veth): filters run in software only,
	// dump NOT_IN_HW, and SKIP_SW is refused with EOPNOTSUPP. Devices
	// that join or leave once filters exist do so through Block.Bind and
	// Block.Unbind, which re-offload the filters.
	Offload *offload.Block
	// Classes binds classids to the owning qdisc's classes. Without it
	// filters stay unbound (Result.Class is 0).
	Classes ClassBinder
	// Classic holds the options for classic programs loaded from
	// TCA_BPF_OPS (such as cbpf.WithRandom for SKF_AD_RANDOM).
	Classic []cbpf.Option
}

// Chain is one cls_bpf classifier instance (the kernel's cls_bpf_head):
// an ordered list of filters tried in turn by Classify.
//
// The list lives in an immutable snapshot published through an atomic
// pointer. Classify loads the snapshot once and walks it with no lock and
// no allocation; Change, Delete, Destroy and BindClass are serialized by
// one mutex (the RTNL stand-in), build a new snapshot and publish it once,
// so a reader sees either the whole change or none of it and never blocks
// or is blocked by a writer. A Chain is safe for concurrent use.
type Chain struct {
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serializes writers
	handles *handle.Allocator
	cfg     Config
	// id names the chain's classifier to offload drivers (block, chain,
	// priority, protocol); zero for a chain outside a Block.
	id offload.FilterID
}

// snapshot is one published state of the chain; it is never changed after
// publication.
type snapshot struct {
	filters []*Filter // list order: the most recently added first
}

var emptySnapshot = &snapshot{}

// New returns an empty chain using the hooks of cfg.
func New(cfg Config) *Chain {
	c := &Chain{handles: handle.NewAllocator(), cfg: cfg}
	c.snap.Store(emptySnapshot)
	return c
}

// allocator returns the handle allocator, making it for a zero Chain.
func (c *Chain) allocator() *handle.Allocator {
	if c.handles == nil {
		c.handles = handle.NewAllocator()
	}
	return c.handles
}

func (c *Chain) load() *snapshot {
	if s := c.snap.Load(); s != nil {
		return s
	}
	return emptySnapshot
}

// Len returns the number of filters.
func (c *Chain) Len() int { return len(c.load().filters) }

// Filters returns the filters in list order (the order Classify tries
// them and a dump reports them), from one snapshot.
func (c *Chain) Filters() []*Filter { return slices.Clone(c.load().filters) }

// Get returns the filter with the given handle, as cls_bpf_get does; ok is
// false when there is none. Handle 0 never matches.
func (c *Chain) Get(h uint32) (f *Filter, ok bool) {
	f = c.load().find(h)
	return f, f != nil
}

func (s *snapshot) find(h uint32) *Filter {
	if i := s.index(h); i >= 0 {
		return s.filters[i]
	}
	return nil
}

func (s *snapshot) index(h uint32) int {
	if h == 0 {
		return -1
	}
	for i, f := range s.filters {
		if f.handle == h {
			return i
		}
	}
	return -1
}

// Walker drives Walk, as the kernel's struct tcf_walker drives
// cls_bpf_walk: entries before Skip are counted but not visited; Fn
// returning a negative value sets Stop and ends the walk without counting
// that entry. Count carries on across walks, which is how a dump resumes.
type Walker struct {
	Skip  int
	Count int
	Stop  bool
	Fn    func(f *Filter) int
}

// Walk visits the filters of one snapshot in list order. A nil Fn only
// counts.
func (c *Chain) Walk(w *Walker) {
	for _, f := range c.load().filters {
		if w.Count >= w.Skip && w.Fn != nil {
			if w.Fn(f) < 0 {
				w.Stop = true
				return
			}
		}
		w.Count++
	}
}

// Delete removes the filter with handle h (cls_bpf_delete): its handle is
// freed for reuse, hardware is told to drop it, its class is unbound and
// its actions are released. last reports whether the chain is now empty,
// which is when cls_api removes the whole classifier. A missing handle (0
// included) is ENOENT, as tc_del_tfilter reports it.
func (c *Chain) Delete(h uint32) (last bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.load()
	i := s.index(h)
	if i < 0 {
		return false, &Error{Op: "delete", Msg: "no filter with handle " + hexs(h), Extack: extackHandleNotFound, Errno: syscall.ENOENT}
	}
	f := s.filters[i]
	next := &snapshot{filters: slices.Delete(slices.Clone(s.filters), i, i+1)}
	c.allocator().Release(h)
	c.snap.Store(next)
	c.retire(f)
	return len(next.filters) == 0, nil
}

// Destroy removes every filter, each as Delete does, and resets the
// handle allocator (cls_bpf_destroy). With force false it refuses, and
// returns false, when filters remain: the old kernel's destroy(force=false)
// that cls_api used to remove a classifier only once it was empty. With
// force true, today's behaviour, it always succeeds and returns true.
func (c *Chain) Destroy(force bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.load()
	if !force && len(s.filters) > 0 {
		return false
	}
	c.snap.Store(emptySnapshot)
	c.handles = handle.NewAllocator()
	for _, f := range s.filters {
		c.retire(f)
	}
	return true
}

// retire tells hardware to drop a filter that left the chain (whatever its
// flags, as cls_bpf_stop_offload does), unbinds its class and releases its
// actions; hardware errors are only logged by the kernel and ignored here.
func (c *Chain) retire(f *Filter) {
	c.stopOffload(f)
	c.unbind(f)
	release(f.actions)
}

func (c *Chain) unbind(f *Filter) {
	if c.cfg.Classes != nil && f.class != 0 {
		c.cfg.Classes.UnbindClass(f.classID, f.class)
	}
}

func release(a ActionChain) {
	if r, ok := a.(interface{ Release() }); ok {
		r.Release()
	}
}

// BindClass updates the class binding of every filter whose classid is
// classID, as cls_bpf_bind_class does when the owning qdisc creates
// (cookie != 0) or deletes (cookie 0) that class.
func (c *Chain) BindClass(classID handle.Handle, cookie uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.load()
	var next *snapshot
	for i, f := range s.filters {
		if f.classID != classID || f.class == cookie {
			continue
		}
		if next == nil {
			next = &snapshot{filters: slices.Clone(s.filters)}
		}
		nf := *f
		nf.class = cookie
		next.filters[i] = &nf
	}
	if next != nil {
		c.snap.Store(next)
	}
}

func hexs(v uint32) string { return fmt.Sprintf("%#x", v) }
