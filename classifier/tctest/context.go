package tctest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Context is the part of a packet's metadata a tc program reads and writes
// through struct __sk_buff, in host order. ContextOf takes it from a
// packet; EqualContext compares it and names the differing fields as
// __sk_buff names them.
type Context struct {
	// Mark is mark (skb->mark).
	Mark uint32
	// Priority is priority (skb->priority).
	Priority uint32
	// CB is cb[0..4], the qdisc control block.
	CB [5]uint32
	// Ifindex is ifindex (the current device).
	Ifindex uint32
	// IngressIfindex is ingress_ifindex.
	IngressIfindex uint32
	// TCIndex is tc_index.
	TCIndex uint16
	// TCClassID is tc_classid.
	TCClassID uint16
	// QueueMapping is queue_mapping.
	QueueMapping uint16
	// Protocol is protocol, a host-order EtherType.
	Protocol uint16
	// PktType is pkt_type.
	PktType packet.Type
	// VLANPresent is vlan_present.
	VLANPresent bool
	// VLANTCI is vlan_tci.
	VLANTCI uint16
	// VLANProto is vlan_proto, host order.
	VLANProto uint16
	// Hash is hash.
	Hash uint32
	// Tstamp is tstamp.
	Tstamp uint64
}

// ContextOf returns the __sk_buff view of p's metadata.
func ContextOf(p *packet.Packet) Context {
	return Context{
		Mark:           p.Mark,
		Priority:       p.Priority,
		CB:             p.CB,
		Ifindex:        p.Ifindex,
		IngressIfindex: p.IngressIfindex,
		TCIndex:        p.TCIndex,
		TCClassID:      p.TCClassID,
		QueueMapping:   p.QueueMapping,
		Protocol:       p.Protocol,
		PktType:        p.PktType,
		VLANPresent:    p.VLANPresent,
		VLANTCI:        p.VLANTCI,
		VLANProto:      p.VLANProto,
		Hash:           p.Hash,
		Tstamp:         p.Tstamp,
	}
}

// Diff lists the fields where c and want differ, one a line, as
// "mark: got 0x0, want 0x53", in __sk_buff order; it is empty when they
// are equal.
func (c Context) Diff(want Context) string {
	var s strings.Builder
	field := func(name string, got, want any) {
		if got != want {
			fmt.Fprintf(&s, "%s: got %#x, want %#x\n", name, got, want)
		}
	}
	field("mark", c.Mark, want.Mark)
	field("queue_mapping", c.QueueMapping, want.QueueMapping)
	field("protocol", c.Protocol, want.Protocol)
	if c.VLANPresent != want.VLANPresent {
		fmt.Fprintf(&s, "vlan_present: got %t, want %t\n", c.VLANPresent, want.VLANPresent)
	}
	field("vlan_tci", c.VLANTCI, want.VLANTCI)
	field("vlan_proto", c.VLANProto, want.VLANProto)
	field("priority", c.Priority, want.Priority)
	field("ingress_ifindex", c.IngressIfindex, want.IngressIfindex)
	field("ifindex", c.Ifindex, want.Ifindex)
	field("tc_index", c.TCIndex, want.TCIndex)
	for i := range c.CB {
		field(fmt.Sprintf("cb[%d]", i), c.CB[i], want.CB[i])
	}
	field("hash", c.Hash, want.Hash)
	field("tc_classid", c.TCClassID, want.TCClassID)
	if c.PktType != want.PktType {
		fmt.Fprintf(&s, "pkt_type: got %d, want %d\n", c.PktType, want.PktType)
	}
	field("tstamp", c.Tstamp, want.Tstamp)
	return s.String()
}

// EqualContext reports an error on tb when the __sk_buff view of pkt is not
// want, naming each differing field. Take want from ContextOf before the
// run and change the fields the program should change:
//
//	want := tctest.ContextOf(pkt)
//	want.Mark = 0x53
//	tctest.Run(t, prog, pkt)
//	tctest.EqualContext(t, pkt, want)
func EqualContext(tb testing.TB, pkt *packet.Packet, want Context) {
	tb.Helper()
	if d := ContextOf(pkt).Diff(want); d != "" {
		tb.Errorf("context (struct __sk_buff) differs:\n%s", strings.TrimSuffix(d, "\n"))
	}
}
