package action

import (
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
)

// Rand is the random source gact's "random netrand" form draws from
// (get_random_u32_below). Uint32N returns a uniform value in [0, n). It is
// called on the packet path, possibly from several slots at once, so it
// must be safe for concurrent use and must not allocate.
type Rand interface {
	Uint32N(n uint32) uint32
}

// globalRand draws from math/rand/v2's global, concurrency-safe source.
type globalRand struct{}

func (globalRand) Uint32N(n uint32) uint32 { return rand.Uint32N(n) }

// LockedRand makes a seeded math/rand/v2 source safe for concurrent use,
// for tests that want a reproducible gact: NewLockedRand(rand.NewPCG(1, 2)).
// It takes a lock per draw, so it belongs in tests, not on a busy path.
type LockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// NewLockedRand returns a LockedRand drawing from src.
func NewLockedRand(src rand.Source) *LockedRand { return &LockedRand{r: rand.New(src)} }

// Uint32N returns a uniform value in [0, n).
func (l *LockedRand) Uint32N(n uint32) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint32N(n)
}

// Estimator reads the rate estimate of an action for police's avrate
// (gen_estimator_read): the estimated bytes per second and whether an
// estimate exists.
type Estimator interface {
	Rate(a Action) (bps uint64, ok bool)
}

// Config holds what a Table's actions need from the program embedding
// them. Zero fields get defaults.
type Config struct {
	// Clock is the time source (default SystemClock).
	Clock Clock
	// Rand is gact's random source (default math/rand/v2's global one).
	Rand Rand
	// Forwarder delivers mirred's packets; without one, mirred actions
	// cannot be created (ENODEV, as for a device that does not exist).
	Forwarder Forwarder
	// Estimator serves police avrate; without one no estimate exists.
	Estimator Estimator
	// Programs resolves act_bpf eBPF programs by descriptor
	// (TCA_ACT_BPF_FD); without one, only classic programs load.
	Programs ProgramResolver
}

// nestSlots bounds the per-slot mirred nesting counters: slot s uses
// counter s % nestSlots.
const nestSlots = 1024

// Table is the set of actions of one network namespace: per kind, the
// actions by index (the kernel's per-netns tcf_idrinfo). Filters bind to
// actions through it, so two filters naming the same index share one
// action and its counters.
//
// Control operations (NewChain, ParseChain, Add, Get, Delete, Release)
// are serialized by a mutex, the RTNL stand-in; the packet path (Chain.Run)
// takes no lock.
type Table struct {
	cfg   Config
	mu    sync.Mutex
	kinds map[string]*idr
	nest  [nestSlots]atomic.Int32
}

// idr holds one kind's actions by index.
type idr struct {
	m map[uint32]Action
}

// NewTable returns an empty table using cfg.
func NewTable(cfg Config) *Table {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.Rand == nil {
		cfg.Rand = globalRand{}
	}
	return &Table{cfg: cfg, kinds: make(map[string]*idr)}
}

func (t *Table) idr(kind string) *idr {
	d := t.kinds[kind]
	if d == nil {
		d = &idr{m: make(map[uint32]Action)}
		t.kinds[kind] = d
	}
	return d
}

// Get returns the action of the kind with the index, if any.
func (t *Table) Get(kind string, index uint32) (Action, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.idr(kind).m[index]
	return a, ok
}

// Actions returns the actions of a kind in index order.
func (t *Table) Actions(kind string) []Action {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.idr(kind)
	out := make([]Action, 0, len(d.m))
	for _, a := range d.m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index() < out[j].Index() })
	return out
}

// Delete removes a standalone action as RTM_DELACTION does
// (tcf_idr_delete_index): ENOENT when there is none, EPERM while filters
// are bound to it.
func (t *Table) Delete(kind string, index uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := kinds[kind]; !ok {
		return &Error{Kind: kind, Errno: syscall.EINVAL, Msg: "Specified TC action kind not found"}
	}
	d := t.idr(kind)
	a, ok := d.m[index]
	if !ok {
		return &Error{Kind: kind, Errno: syscall.ENOENT, Msg: "TC action with specified index not found"}
	}
	c := a.Gen()
	if c.bindcnt > 0 {
		return &Error{Kind: kind, Errno: syscall.EPERM, Msg: "Failed to delete TC action"}
	}
	c.refcnt--
	if c.refcnt <= 0 {
		delete(d.m, index)
	}
	return nil
}

// put drops one reference (and one binding when bind) of a, removing it
// from the table at the last reference (__tcf_action_put). Called with the
// lock held.
func (t *Table) put(a Action, bind bool) {
	c := a.Gen()
	if bind {
		c.bindcnt--
	}
	c.refcnt--
	if c.refcnt <= 0 {
		d := t.idr(c.kind)
		if d.m[c.index] == a {
			delete(d.m, c.index)
		}
	}
}

// txn is one configuration request in progress: indexes it reserved,
// references it took on existing actions, actions it created and changes
// to apply when everything succeeded.
type txn struct {
	t        *Table
	reserved map[string]map[uint32]bool
	held     []heldRef
	created  []Action
	commits  []func()
}

type heldRef struct {
	a    Action
	bind bool
}

func (t *Table) begin() *txn {
	return &txn{t: t, reserved: make(map[string]map[uint32]bool)}
}

// checkAlloc is tcf_idr_check_alloc: with a non-zero *index, take a
// reference on the existing action (and a binding when bind) or reserve
// the index; with 0, reserve the lowest free index from 1.
func (x *txn) checkAlloc(kind string, index *uint32, bind bool) (Action, bool, error) {
	d := x.t.idr(kind)
	res := x.reserved[kind]
	if res == nil {
		res = make(map[uint32]bool)
		x.reserved[kind] = res
	}
	if *index != 0 {
		if res[*index] {
			// Reserved by an earlier action of this request and not yet
			// inserted: the kernel finds ERR_PTR(-EBUSY) and says -EAGAIN.
			return nil, false, errno(syscall.EAGAIN, "")
		}
		if a, ok := d.m[*index]; ok {
			c := a.Gen()
			c.refcnt++
			if bind {
				c.bindcnt++
			}
			x.held = append(x.held, heldRef{a, bind})
			return a, true, nil
		}
		res[*index] = true
		return nil, false, nil
	}
	for i := uint32(1); ; i++ {
		if _, used := d.m[i]; !used && !res[i] {
			*index = i
			res[i] = true
			return nil, false, nil
		}
		if i == ^uint32(0) {
			return nil, false, errno(syscall.ENOSPC, "")
		}
	}
}

// abort undoes the whole request: references dropped, created actions
// never inserted.
func (x *txn) abort() {
	for i := len(x.held) - 1; i >= 0; i-- {
		x.t.put(x.held[i].a, x.held[i].bind)
	}
	x.held, x.created, x.commits = nil, nil, nil
}

// commit inserts the created actions and applies the pending changes
// (tcf_idr_insert_many).
func (x *txn) commit() {
	for _, a := range x.created {
		x.t.idr(a.Kind()).m[a.Index()] = a
	}
	for _, fn := range x.commits {
		fn()
	}
}
