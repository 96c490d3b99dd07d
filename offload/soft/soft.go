// Package soft is a reference offload driver that runs the programs it is
// given in software, standing in for a NIC that executes tc BPF filters.
//
// # Model
//
// A Device implements offload.Offloader and offload.HardwareRunner. Add and
// Replace compile the request's program for the "hardware": classic
// programs are loaded from their raw instructions with package cbpf, as a
// driver compiles the engine-neutral form; eBPF programs run through their
// Program.Runner (the device's stand-in for its JIT). Destroy drops the
// filter, and Stats reports, and then clears, the packets and bytes the
// device ran the filter on since the last Stats request, as drivers report
// differences; a Replace keeps the counts not yet reported.
//
// The maps of the programs it holds (Program.Maps, hash and array) live
// on the device while a program uses them, and are read and written with
// MapLookup, MapUpdate, MapDelete and MapNextKey (offload.MapOffloader),
// with the kernel's map errors. They are the device's storage: the
// software form an eBPF program runs with keeps its own maps.
//
// A classifier whose block is bound to a Device runs the SKIP_SW filters
// the device holds on packets that arrived on the device (packet.Ifindex
// equal to the Device's ifindex), at the filter's own place in the walk,
// so a skip_sw filter classifies in tests as it would on the NIC.
//
// # Concurrency
//
// Setup is called by one writer at a time; Run is lock-free and
// allocation-free and may run on any number of goroutines: the table of
// offloaded filters is an immutable map published through an atomic
// pointer.
//
// # Errors
//
// Setup refuses a program it cannot build with an error wrapping
// syscall.EINVAL (a classic program the checker refuses, an eBPF program
// without a Runner), and a Destroy or Stats of a filter it does not hold
// with syscall.ENOENT.
//
// # Kernel source
//
// It plays the part of a driver's TC_SETUP_CLSBPF callback
// (drivers/net/ethernet/netronome/nfp/bpf/main.c is the kernel's one
// in-tree example) as net/sched/cls_bpf.c calls it.
package soft

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/offload"
)

// Capabilities are what a Device runs: every program kind, instruction
// class, and the given helpers and map types, in any chain.
func Capabilities(helpers []int32, mapTypes []uint32) offload.Capabilities {
	return offload.Capabilities{
		Classic: true, Extended: true,
		Classes: offload.AllClasses, Helpers: helpers, MapTypes: mapTypes,
		Chains: true,
	}
}

// Device is the software "NIC". The zero value is not usable; use New.
type Device struct {
	caps offload.Capabilities

	mu      sync.Mutex // serializes Setup and guards maps
	filters atomic.Pointer[map[offload.FilterID]*entry]
	maps    map[uint32]*deviceMap
}

var (
	_ offload.Offloader      = (*Device)(nil)
	_ offload.HardwareRunner = (*Device)(nil)
	_ offload.MapOffloader   = (*Device)(nil)
)

type entry struct {
	run     offload.Runner
	maps    []uint32 // ids of the device maps the program uses
	packets atomic.Uint64
	bytes   atomic.Uint64
}

// New returns a device declaring caps.
func New(caps offload.Capabilities) *Device {
	d := &Device{caps: caps, maps: map[uint32]*deviceMap{}}
	m := map[offload.FilterID]*entry{}
	d.filters.Store(&m)
	return d
}

// Capabilities returns what the device declared.
func (d *Device) Capabilities() offload.Capabilities { return d.caps }

// Len is the number of filters the device holds.
func (d *Device) Len() int { return len(*d.filters.Load()) }

// Holds reports whether the device holds the filter.
func (d *Device) Holds(id offload.FilterID) bool {
	_, ok := (*d.filters.Load())[id]
	return ok
}

// Setup carries out one command.
func (d *Device) Setup(req *offload.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := *d.filters.Load()
	id := req.Filter
	switch req.Command {
	case offload.Add, offload.Replace:
		e, err := build(req.Prog)
		if err != nil {
			return err
		}
		if e.maps, err = d.attachMaps(req.Prog); err != nil {
			d.dropUnusedMaps(cur)
			return err
		}
		if old, ok := cur[id]; ok {
			// The filter's counters survive a new program: what ran
			// before is still to be reported.
			e.packets.Store(old.packets.Load())
			e.bytes.Store(old.bytes.Load())
		}
		next := maps.Clone(cur)
		next[id] = e
		d.filters.Store(&next)
		d.dropUnusedMaps(next)
		return nil
	case offload.Destroy:
		if _, ok := cur[id]; !ok {
			return fmt.Errorf("soft: destroy %+v: not held: %w", id, syscall.ENOENT)
		}
		next := maps.Clone(cur)
		delete(next, id)
		d.filters.Store(&next)
		d.dropUnusedMaps(next)
		return nil
	case offload.Stats:
		e, ok := cur[id]
		if !ok {
			return fmt.Errorf("soft: stats %+v: not held: %w", id, syscall.ENOENT)
		}
		req.Stats.Add(offload.Counters{Packets: e.packets.Swap(0), Bytes: e.bytes.Swap(0)})
		return nil
	}
	return fmt.Errorf("soft: command %v: %w", req.Command, syscall.EOPNOTSUPP)
}

func build(p *offload.Program) (*entry, error) {
	if p == nil {
		return nil, fmt.Errorf("soft: no program: %w", syscall.EINVAL)
	}
	switch p.Kind {
	case offload.Classic:
		prog, err := cbpf.LoadRaw(p.Classic)
		if err != nil {
			return nil, fmt.Errorf("soft: load classic program: %w", err)
		}
		return &entry{run: prog}, nil
	case offload.Extended:
		if p.Runner == nil {
			return nil, fmt.Errorf("soft: eBPF program %q has no software form: %w", p.Name, syscall.EINVAL)
		}
		return &entry{run: p.Runner}, nil
	}
	return nil, fmt.Errorf("soft: program kind %d: %w", p.Kind, syscall.EINVAL)
}

// Run runs the filter's offloaded program on pkt and counts the packet;
// ok is false when the device does not hold the filter.
func (d *Device) Run(id offload.FilterID, pkt *packet.Packet) (uint32, bool) {
	e, ok := (*d.filters.Load())[id]
	if !ok {
		return 0, false
	}
	e.packets.Add(1)
	e.bytes.Add(uint64(pkt.Len()))
	return e.run.Run(pkt), true
}
