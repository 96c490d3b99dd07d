package main

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/offload"
)

// Classic BPF instruction classes (BPF_CLASS of an opcode).
const (
	classLD   = 0x00
	classLDX  = 0x01
	classALU  = 0x04
	classJMP  = 0x05
	classRET  = 0x06
	classMISC = 0x07
)

// NIC is a toy network card that runs tc bpf filters in "hardware". It is
// what a driver author writes: an offload.Offloader that declares what the
// card can run and carries out the add, replace, destroy and stats
// commands, plus an offload.HardwareRunner so that packets arriving on the
// card meet the filters it holds.
//
// The card has a filter table of a fixed number of entries, runs classic
// BPF only (no scratch memory: no ST or STX instructions), programs of at
// most a fixed number of instructions, and filters of chain 0 only. It
// counts, per entry, the packets and bytes the filter matched and when it
// last did, and reports them on Stats (offload/soft counts every packet
// it runs a filter on instead; a driver reports what its hardware
// counts). Refuse makes it fail a command,
// as a card whose firmware is in trouble would.
//
// Setup is called by the classifier under its writer lock; Run is called
// on the packet path, takes no lock and allocates nothing: the table is an
// immutable map published through an atomic pointer, the counters are
// atomics.
type NIC struct {
	entries  int
	maxInsns int
	clock    action.Clock

	mu     sync.Mutex // serializes Setup and Refuse
	table  atomic.Pointer[map[offload.FilterID]*entry]
	refuse map[offload.Command]error
}

// entry is one filter the card holds: the program compiled for the card,
// its mode, and its hit counters since the last Stats command.
type entry struct {
	prog    *cbpf.Program
	direct  bool // direct-action: the program returns the verdict
	packets atomic.Uint64
	bytes   atomic.Uint64
	lastUse atomic.Int64
}

var (
	_ offload.Offloader      = (*NIC)(nil)
	_ offload.HardwareRunner = (*NIC)(nil)
)

// NewNIC returns a card with a table of entries filters that runs classic
// programs of up to maxInsns instructions. clock stamps the last use of a
// filter; use the clock of the action table so that `tc -s` ages agree.
func NewNIC(entries, maxInsns int, clock action.Clock) *NIC {
	n := &NIC{entries: entries, maxInsns: maxInsns, clock: clock, refuse: map[offload.Command]error{}}
	n.table.Store(&map[offload.FilterID]*entry{})
	return n
}

// Capabilities declares what the card runs. The classifier checks every
// program against it before Setup sees it, and refuses the rest with
// EOPNOTSUPP; leaving Chains false makes it refuse filters of other chains
// ("Driver supports only offload of chain 0").
func (n *NIC) Capabilities() offload.Capabilities {
	return offload.Capabilities{
		Classic:  true,
		MaxInsns: n.maxInsns,
		Classes:  1<<classLD | 1<<classLDX | 1<<classALU | 1<<classJMP | 1<<classRET | 1<<classMISC,
	}
}

// Refuse makes every later cmd fail with err (which should wrap the errno
// the user is to see); a nil err makes the card take cmd again.
func (n *NIC) Refuse(cmd offload.Command, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		delete(n.refuse, cmd)
		return
	}
	n.refuse[cmd] = err
}

// Len is the number of filters the card holds.
func (n *NIC) Len() int { return len(*n.table.Load()) }

// Holds reports whether the card holds the filter.
func (n *NIC) Holds(id offload.FilterID) bool {
	_, ok := (*n.table.Load())[id]
	return ok
}

// Setup carries out one command. Add and Replace compile the request's
// classic program for the card (EINVAL if the checker refuses it) and
// need a free table entry unless the filter already has one (ENOSPC);
// Destroy frees the entry; Stats adds the entry's counters since the last
// Stats to the request. Destroy and Stats of a filter the card does not
// hold are ENOENT.
func (n *NIC) Setup(req *offload.Request) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.refuse[req.Command]; err != nil {
		return err
	}
	cur := *n.table.Load()
	old, held := cur[req.Filter]
	switch req.Command {
	case offload.Add, offload.Replace:
		if req.Prog == nil || req.Prog.Kind != offload.Classic {
			return fmt.Errorf("nic: only classic programs run here: %w", syscall.EOPNOTSUPP)
		}
		if !held && len(cur) >= n.entries {
			return fmt.Errorf("nic: filter table full (%d entries): %w", n.entries, syscall.ENOSPC)
		}
		prog, err := cbpf.LoadRaw(req.Prog.Classic)
		if err != nil {
			return fmt.Errorf("nic: compile: %w", err)
		}
		e := &entry{prog: prog, direct: req.DirectAction}
		if held {
			// Counts not yet reported survive a new program.
			e.packets.Store(old.packets.Load())
			e.bytes.Store(old.bytes.Load())
			e.lastUse.Store(old.lastUse.Load())
		}
		next := maps.Clone(cur)
		next[req.Filter] = e
		n.table.Store(&next)
		return nil
	case offload.Destroy:
		if !held {
			return fmt.Errorf("nic: destroy: filter not held: %w", syscall.ENOENT)
		}
		next := maps.Clone(cur)
		delete(next, req.Filter)
		n.table.Store(&next)
		return nil
	case offload.Stats:
		if !held {
			return fmt.Errorf("nic: stats: filter not held: %w", syscall.ENOENT)
		}
		req.Stats.Add(offload.Counters{
			Packets: old.packets.Swap(0),
			Bytes:   old.bytes.Swap(0),
			LastUse: old.lastUse.Load(),
		})
		return nil
	}
	return fmt.Errorf("nic: command %v: %w", req.Command, syscall.EOPNOTSUPP)
}

// Run is the card's datapath for one filter: it runs the filter's program
// on a packet that arrived on the card and counts a hit when the filter
// matched (a classid in classic mode, a verdict other than
// TC_ACT_UNSPEC in direct-action mode). ok is false when the card does not
// hold the filter.
func (n *NIC) Run(id offload.FilterID, pkt *packet.Packet) (ret uint32, ok bool) {
	e, ok := (*n.table.Load())[id]
	if !ok {
		return 0, false
	}
	ret = e.prog.Run(pkt)
	if (!e.direct && ret != 0) || (e.direct && ret != tcActUnspec) {
		e.packets.Add(1)
		e.bytes.Add(uint64(pkt.Len()))
		e.lastUse.Store(n.clock.Now())
	}
	return ret, true
}

// tcActUnspec is TC_ACT_UNSPEC (-1) as a program returns it.
const tcActUnspec = 0xFFFFFFFF
