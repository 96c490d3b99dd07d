package handle

import (
	"fmt"
	"math/bits"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// AutoMin and AutoMax bound the handles Alloc hands out: cls_bpf_change
// asks the kernel's idr for the lowest free id in [1, INT_MAX].
const (
	AutoMin uint32 = uapi.CLS_BPF_HANDLE_AUTO_MIN
	AutoMax uint32 = uapi.CLS_BPF_HANDLE_AUTO_MAX
)

// Allocator hands out cls_bpf filter handles as today's kernel does
// (net/sched/cls_bpf.c, cls_bpf_change, over the head's handle_idr):
//
//   - Alloc returns the lowest unused handle in [AutoMin, AutoMax], so a
//     released handle is handed out again at once;
//   - Reserve takes one explicit handle, which may be any non-zero uint32
//     (above AutoMax too); Alloc skips reserved handles;
//   - a handle in use cannot be taken again: ENOSPC, as idr_alloc_u32
//     returns when the one id asked for is taken.
//
// Alloc, Reserve and Release take O(log n) time (a fixed-depth radix tree
// over the 32-bit space with a "full" summary bit per subtree, as the
// kernel's idr keeps). Clone takes O(1) time: the two allocators share
// their tree and copy a node only when one of them first changes it.
//
// The zero value is an empty allocator ready for use. An Allocator is not
// safe for concurrent use: the chain serializes writers, as the kernel's
// RTNL lock does. Distinct clones may be used by different goroutines.
type Allocator struct {
	root  *node
	own   *owner
	max   uint32 // largest auto handle; 0 means AutoMax
	count int
}

// owner marks the nodes one Allocator may change in place. It is not empty
// so that distinct owners have distinct addresses.
type owner struct{ _ byte }

// The tree: four levels of 64-way inner nodes select bits 31..12 (the top
// level only uses 4 of its slots), and a bottom node holds 64 words of 64
// bits for the ids in one 4096 range.
const (
	fanBits    = 6
	fan        = 1 << fanBits
	bottomBits = 2 * fanBits // ids per bottom node: 1 << bottomBits
	topShift   = 30          // inner shifts: 30, 24, 18, 12
)

type node struct {
	own   *owner
	full  uint64   // bit i: slot i entirely in use
	some  uint64   // bit i: slot i has at least one id in use
	kids  []*node  // inner nodes: fan children
	words []uint64 // bottom nodes: fan words of used bits
}

// NewAllocator returns an empty allocator. It is the same as new(Allocator).
func NewAllocator() *Allocator { return &Allocator{} }

func newAllocatorMax(max uint32) *Allocator { return &Allocator{max: max} }

func (a *Allocator) autoMax() uint32 {
	if a.max == 0 {
		return AutoMax
	}
	return a.max
}

// Len returns the number of handles in use.
func (a *Allocator) Len() int { return a.count }

// Clone returns an independent copy of a. Changes to either are not seen by
// the other. A copy-on-write chain clones, stages a change on the clone and
// keeps it only if the whole change succeeds.
//
// Clone marks the nodes a shares with the copy, so it counts as a change to
// a: call it where a may be changed (under the writers' lock), not from
// readers.
func (a *Allocator) Clone() *Allocator {
	c := *a
	// Both sides get a new owner: the shared nodes belong to neither, so
	// each copies a node before its first change to it.
	a.own = new(owner)
	c.own = new(owner)
	return &c
}

// InUse reports whether h is taken, by Alloc or Reserve. Handle 0 is never
// in use.
func (a *Allocator) InUse(h uint32) bool {
	n := a.root
	for shift := uint(topShift); n != nil; shift -= fanBits {
		if shift < bottomBits {
			w := n.words[h>>fanBits&(fan-1)]
			return w&(1<<(h&(fan-1))) != 0
		}
		n = n.kids[h>>shift&(fan-1)]
	}
	return false
}

// Alloc takes the lowest unused handle in [AutoMin, AutoMax] and returns it.
// When all are in use it returns an error wrapping syscall.ENOSPC, as
// idr_alloc_u32 does for cls_bpf_change.
func (a *Allocator) Alloc() (uint32, error) {
	max := a.autoMax()
	h, ok := a.root.findFree(topShift, 0, AutoMin, max)
	if !ok {
		return 0, fmt.Errorf("allocate filter handle: all of %#x..%#x in use: %w", AutoMin, max, syscall.ENOSPC)
	}
	a.set(h)
	return h, nil
}

// Reserve takes the explicit handle h, which may be any non-zero value. It
// fails with an error wrapping syscall.ENOSPC when h is in use (the kernel's
// idr_alloc_u32 with the range [h, h]) and with syscall.EINVAL for 0, which
// the kernel reads as "allocate one" and never reserves.
//
// Through netlink the ENOSPC is not seen: cls_api looks the handle up
// first and answers EEXIST ("Filter already exists") to an exclusive add,
// or replaces the filter in place, which keeps its handle and reserves
// nothing.
func (a *Allocator) Reserve(h uint32) error {
	if h == 0 {
		return fmt.Errorf("reserve filter handle: 0 means automatic allocation: %w", syscall.EINVAL)
	}
	if a.InUse(h) {
		return fmt.Errorf("reserve filter handle %#x: in use: %w", h, syscall.ENOSPC)
	}
	a.set(h)
	return nil
}

// Release frees h for reuse. Releasing a handle not in use does nothing,
// as idr_remove does.
func (a *Allocator) Release(h uint32) {
	if !a.InUse(h) {
		return
	}
	a.root = a.clear(a.root, topShift, h)
	a.count--
}

// findFree returns the lowest id in [lo, hi] that is not in use in the
// subtree n, whose ids start at base and whose level selects bits
// shift..shift+5 (shift < bottomBits: a bottom node). A nil subtree is
// empty.
func (n *node) findFree(shift uint, base, lo, hi uint32) (uint32, bool) {
	if n == nil {
		return lo, lo <= hi
	}
	span := uint64(1) << shift // ids per slot
	first := uint64(lo-base) >> shift
	last := uint64(hi-base) >> shift
	if last >= fan {
		last = fan - 1
	}
	cand := ^n.full &^ (1<<first - 1)
	if last < fan-1 {
		cand &= 1<<(last+1) - 1
	}
	for cand != 0 {
		i := uint64(bits.TrailingZeros64(cand))
		cand &= cand - 1
		slotBase := uint64(base) + i*span
		slotLo := max(uint64(lo), slotBase)
		slotHi := min(uint64(hi), slotBase+span-1)
		if shift == fanBits && n.words != nil {
			free := ^n.words[i] &^ (1<<(slotLo-slotBase) - 1)
			if slotHi-slotBase < fan-1 {
				free &= 1<<(slotHi-slotBase+1) - 1
			}
			if free != 0 {
				return uint32(slotBase) + uint32(bits.TrailingZeros64(free)), true
			}
			continue
		}
		if h, ok := n.kids[i].findFree(shift-fanBits, uint32(slotBase), uint32(slotLo), uint32(slotHi)); ok {
			return h, true
		}
	}
	return 0, false
}

// mut returns n itself if a owns it, else a copy that a owns.
func (a *Allocator) mut(n *node, shift uint) *node {
	if a.own == nil {
		a.own = new(owner)
	}
	if n == nil {
		m := &node{own: a.own}
		if shift < bottomBits {
			m.words = make([]uint64, fan)
		} else {
			m.kids = make([]*node, fan)
		}
		return m
	}
	if n.own == a.own {
		return n
	}
	m := &node{own: a.own, full: n.full, some: n.some}
	if n.words != nil {
		m.words = append([]uint64(nil), n.words...)
	} else {
		m.kids = append([]*node(nil), n.kids...)
	}
	return m
}

func (a *Allocator) set(h uint32) {
	a.root = a.setIn(a.root, topShift, h)
	a.count++
}

func (a *Allocator) setIn(n *node, shift uint, h uint32) *node {
	n = a.mut(n, shift)
	if shift < bottomBits {
		i := h >> fanBits & (fan - 1)
		n.words[i] |= 1 << (h & (fan - 1))
		n.some |= 1 << i
		if n.words[i] == ^uint64(0) {
			n.full |= 1 << i
		}
		return n
	}
	i := h >> shift & (fan - 1)
	kid := a.setIn(n.kids[i], shift-fanBits, h)
	n.kids[i] = kid
	n.some |= 1 << i
	if kid.full == ^uint64(0) {
		n.full |= 1 << i
	}
	return n
}

// clear frees h below n and returns the new subtree, nil when it is empty.
func (a *Allocator) clear(n *node, shift uint, h uint32) *node {
	n = a.mut(n, shift)
	if shift < bottomBits {
		i := h >> fanBits & (fan - 1)
		n.words[i] &^= 1 << (h & (fan - 1))
		n.full &^= 1 << i
		if n.words[i] == 0 {
			n.some &^= 1 << i
		}
	} else {
		i := h >> shift & (fan - 1)
		kid := a.clear(n.kids[i], shift-fanBits, h)
		n.kids[i] = kid
		n.full &^= 1 << i
		if kid == nil {
			n.some &^= 1 << i
		}
	}
	if n.some == 0 {
		return nil
	}
	return n
}
