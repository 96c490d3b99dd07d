package main

import (
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// fixedClock is the actions' clock: a constant, so that printed ages are
// reproducible (tc prints none when they are 0).
type fixedClock struct{}

func (fixedClock) Now() int64 { return 1 }

// forwarder stands in for the devices mirred sends to: it counts what
// each device got, by mode.
type forwarder struct {
	mu   sync.Mutex
	sent map[string]int // "redirect eth1" -> frames
}

// Device reports the command's devices as up Ethernet devices.
func (f *forwarder) Device(ifindex uint32) (action.DeviceState, bool) {
	n, ok := devices.Name(ifindex)
	return action.DeviceState{Up: true, MACHeaderXmit: ifindex != 3, Name: n}, ok
}

// Forward counts the packet for its device.
func (f *forwarder) Forward(_ *packet.Packet, req action.Forward) error {
	n, _ := devices.Name(req.Ifindex)
	mode := "mirror"
	if req.Redirect {
		mode = "redirect"
	}
	dir := "egress"
	if req.Ingress {
		dir = "ingress"
	}
	f.mu.Lock()
	f.sent[mode+" "+dir+" to "+n]++
	f.mu.Unlock()
	return nil
}

// lines returns the counters in name order.
func (f *forwarder) lines() []string {
	var out []string
	for k := range f.sent {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// newActionTable returns the table the command's actions live in, with a
// fixed clock, a seeded random source for gact's netrand and the
// counting forwarder for mirred.
func newActionTable(fwd *forwarder) *action.Table {
	return action.NewTable(action.Config{Clock: fixedClock{}, Rand: action.NewLockedRand(rand.NewPCG(1, 2)), Forwarder: fwd})
}
