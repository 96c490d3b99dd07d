//go:build linux

package kerneltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Rtnl is one rtnetlink socket inside a NetNS, used to send tc requests to
// the kernel exactly as built, malformed ones included.
type Rtnl struct {
	conn *netlink.Conn
}

// Rtnl opens an rtnetlink socket in the namespace with extended acks
// enabled; it is closed when the test ends.
func (ns *NetNS) Rtnl(tb testing.TB) *Rtnl {
	tb.Helper()
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: ns.fd})
	if err != nil {
		tb.Fatalf("dial rtnetlink in %s: %v", ns.Name, err)
	}
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	tb.Cleanup(func() { c.Close() })
	return &Rtnl{conn: c}
}

// Ifindex returns the index of the named link in the namespace.
func (ns *NetNS) Ifindex(tb testing.TB, name string) int32 {
	tb.Helper()
	var idx int32
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = int32(ifi.Index)
		return nil
	})
	if err != nil {
		tb.Fatalf("ifindex of %s: %v", name, err)
	}
	return idx
}

// RtnlError is the kernel's answer to a refused request: its errno and its
// extack message, if any.
type RtnlError struct {
	Errno   syscall.Errno
	Message string
}

// Error returns the errno text and the extack message.
func (e *RtnlError) Error() string {
	if e.Message == "" {
		return e.Errno.Error()
	}
	return fmt.Sprintf("%v: %s", e.Errno, e.Message)
}

// Unwrap returns the errno.
func (e *RtnlError) Unwrap() error { return e.Errno }

// Do sends one request and returns the kernel's reply messages. A refusal
// comes back as an *RtnlError; other failures (socket errors) as they are.
func (r *Rtnl) Do(req TCFilterRequest) ([]TCMessage, error) {
	msg := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(req.Type),
			Flags: netlink.HeaderFlags(req.Flags) | netlink.Request,
		},
		Data: append(req.Tcmsg.Marshal(), req.Attrs...),
	}
	if req.Type != uapi.RTM_GETTFILTER && req.Type != uapi.RTM_GETTCLASS && req.Type != uapi.RTM_GETQDISC {
		msg.Header.Flags |= netlink.Acknowledge
	}
	res, err := r.conn.Execute(msg)
	if err != nil {
		var op *netlink.OpError
		var errno syscall.Errno
		if errors.As(err, &op) && errors.As(op.Err, &errno) {
			return nil, &RtnlError{Errno: errno, Message: op.Message}
		}
		return nil, err
	}
	var out []TCMessage
	for _, m := range res {
		if m.Header.Type == netlink.Error || m.Header.Type == netlink.Done {
			continue
		}
		t, ok := UnmarshalTcmsg(m.Data)
		if !ok {
			return nil, fmt.Errorf("short tc message of %d bytes", len(m.Data))
		}
		out = append(out, TCMessage{
			Type:  uint16(m.Header.Type),
			Flags: uint16(m.Header.Flags),
			Tcmsg: t,
			Attrs: m.Data[uapi.SizeofTcmsg:],
		})
	}
	return out, nil
}

// DumpFilters returns every filter message the kernel dumps for the
// device and parent (RTM_GETTFILTER with NLM_F_DUMP), per-proto header
// messages (handle 0) included.
func (r *Rtnl) DumpFilters(ifindex int32, parent uint32) ([]TCMessage, error) {
	return r.Do(TCFilterRequest{
		Type:  uapi.RTM_GETTFILTER,
		Flags: uapi.NLM_F_DUMP,
		Tcmsg: Tcmsg{Ifindex: ifindex, Parent: parent},
	})
}

// ClassStats is what the kernel counts for one class.
type ClassStats struct {
	Bytes   uint64
	Packets uint32
	Drops   uint32
	// Options is the raw TCA_OPTIONS payload of the class or qdisc.
	Options []byte
}

// Classes dumps the classes of the device (RTM_GETTCLASS) and returns the
// basic and queue counters of each, by class handle.
func (r *Rtnl) Classes(ifindex int32) (map[uint32]ClassStats, error) {
	msgs, err := r.Do(TCFilterRequest{
		Type:  uapi.RTM_GETTCLASS,
		Flags: uapi.NLM_F_DUMP,
		Tcmsg: Tcmsg{Ifindex: ifindex},
	})
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]ClassStats, len(msgs))
	for _, m := range msgs {
		st := parseStats2(m.Attr(uapi.TCA_STATS2))
		st.Options = m.Attr(uapi.TCA_OPTIONS)
		out[m.Tcmsg.Handle] = st
	}
	return out, nil
}

// QdiscStats dumps the qdiscs of the device (RTM_GETQDISC) and returns the
// counters and TCA_OPTIONS payload of each, by qdisc handle.
func (r *Rtnl) QdiscStats(ifindex int32) (map[uint32]ClassStats, error) {
	msgs, err := r.Do(TCFilterRequest{
		Type:  uapi.RTM_GETQDISC,
		Flags: uapi.NLM_F_DUMP,
		Tcmsg: Tcmsg{Ifindex: ifindex},
	})
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]ClassStats, len(msgs))
	for _, m := range msgs {
		if m.Tcmsg.Ifindex != ifindex {
			continue
		}
		st := parseStats2(m.Attr(uapi.TCA_STATS2))
		st.Options = m.Attr(uapi.TCA_OPTIONS)
		out[m.Tcmsg.Handle] = st
	}
	return out, nil
}

// TCA_STATS_* inside TCA_STATS2 (include/uapi/linux/gen_stats.h).
const (
	tcaStatsBasic = 1
	tcaStatsQueue = 3
)

func parseStats2(b []byte) ClassStats {
	var s ClassStats
	nlattr.Walk(b, func(a nlattr.Attr) bool {
		switch a.Type {
		case tcaStatsBasic: // struct gnet_stats_basic {u64 bytes; u32 packets}
			if len(a.Data) >= 12 {
				s.Bytes = binary.LittleEndian.Uint64(a.Data)
				s.Packets = binary.LittleEndian.Uint32(a.Data[8:])
			}
		case tcaStatsQueue: // struct gnet_stats_queue {qlen, backlog, drops, requeues, overlimits}
			if len(a.Data) >= 12 {
				s.Drops = binary.LittleEndian.Uint32(a.Data[8:])
			}
		}
		return true
	})
	return s
}

// PacketSocket is an AF_PACKET socket bound to one device of a namespace:
// what it sends goes through the device's egress qdisc, as any frame the
// host transmits does.
type PacketSocket struct {
	fd      int
	ifindex int
}

// PacketSocket opens a raw AF_PACKET socket in the namespace for sending
// on the named device; it is closed when the test ends.
func (ns *NetNS) PacketSocket(tb testing.TB, dev string) *PacketSocket {
	tb.Helper()
	ifindex := int(ns.Ifindex(tb, dev))
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		tb.Fatalf("packet socket: %v", err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return &PacketSocket{fd: fd, ifindex: ifindex}
}

// Send transmits one Ethernet frame with skb->protocol set to its
// EtherType and skb->mark set to mark.
func (s *PacketSocket) Send(frame []byte, mark uint32) error {
	if len(frame) < 14 {
		return fmt.Errorf("send: frame of %d bytes: %w", len(frame), unix.EINVAL)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
		return fmt.Errorf("set SO_MARK: %w", err)
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	sa := &unix.SockaddrLinklayer{Ifindex: s.ifindex, Protocol: et>>8 | et<<8, Halen: 6}
	copy(sa.Addr[:], frame[0:6])
	return unix.Sendto(s.fd, frame, 0, sa)
}
