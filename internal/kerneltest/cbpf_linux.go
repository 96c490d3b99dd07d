//go:build linux

package kerneltest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Classic BPF oracles: the running kernel checks and runs a classic
// program attached with SO_ATTACH_FILTER, and reports what it did with a
// packet (dropped it, or cut it to the program's result).

// attachFilter attaches raw to fd with SO_ATTACH_FILTER and returns the
// kernel's errno (nil when accepted).
func attachFilter(fd int, raw []bpf.RawInstruction) error {
	prog := unix.SockFprog{Len: uint16(len(raw))}
	if len(raw) > 0 {
		prog.Filter = (*unix.SockFilter)(unsafe.Pointer(&raw[0]))
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
}

// UnixPair is a connected AF_UNIX datagram socket pair whose receiving end
// carries the classic filter under test. No privilege is needed. The
// kernel runs the filter on a device-less skb whose data and network header
// are the datagram's first byte, with no MAC header, protocol 0 and all
// other metadata zero; it keeps min(result, len) bytes and drops the
// datagram on 0.
type UnixPair struct {
	rx, tx int
	buf    []byte
}

// NewUnixPair makes the socket pair and closes it when the test ends.
func NewUnixPair(tb testing.TB) *UnixPair {
	tb.Helper()
	RequireLinux(tb)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		Skip(tb, fmt.Sprintf("socketpair(AF_UNIX, SOCK_DGRAM): %v", err))
	}
	u := &UnixPair{rx: fds[0], tx: fds[1], buf: make([]byte, 1<<16)}
	tb.Cleanup(func() {
		unix.Close(u.rx)
		unix.Close(u.tx)
	})
	return u
}

// Attach replaces the receiver's filter with raw. It returns the errno of
// setsockopt(SO_ATTACH_FILTER): nil if the kernel accepted the program.
func (u *UnixPair) Attach(raw []bpf.RawInstruction) error {
	return attachFilter(u.rx, raw)
}

// Deliver sends payload and returns how many bytes the receiver got, or -1
// if the filter dropped it.
func (u *UnixPair) Deliver(payload []byte) (int, error) {
	if _, err := unix.Write(u.tx, payload); err != nil {
		return 0, fmt.Errorf("send %d bytes: %w", len(payload), err)
	}
	n, _, err := unix.Recvfrom(u.rx, u.buf, unix.MSG_DONTWAIT)
	if errors.Is(err, unix.EAGAIN) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recv: %w", err)
	}
	return n, nil
}

// Veth is a veth pair in a private network namespace with AF_PACKET
// sockets on it: frames written on the first end arrive on the second,
// where the kernel runs the filter under test on them as any packet socket
// receive does (skb data at the MAC header, network header after it,
// metadata from the receive path: protocol and pkt_type from
// eth_type_trans, ifindex and hatype of the receiving device, a VLAN tag in
// the frame moved to the offload fields). The receiver keeps min(result,
// len) bytes and drops the frame on 0.
type Veth struct {
	NS *NetNS
	// Ifindex is the receiving device's ifindex, MAC its address, and
	// TxMAC the sending device's.
	Ifindex int
	MAC     net.HardwareAddr
	TxMAC   net.HardwareAddr
	// TxIfindex is the sending device's ifindex.
	TxIfindex int

	tx, rx, mon int
	buf, mbuf   []byte
}

// NewVeth sets up the namespace, the pair (IPv6 off so that only the
// test's frames cross it) and the sockets, and tears all down at the end
// of the test.
func NewVeth(tb testing.TB) *Veth {
	tb.Helper()
	return newVeth(tb, unix.SOCK_RAW)
}

// NewVethDgram is NewVeth with an AF_PACKET SOCK_DGRAM receiving socket:
// the kernel runs the filter with skb data at the network header and the
// MAC header in the headroom before it, and delivers min(result, len)
// bytes from the network header on.
func NewVethDgram(tb testing.TB) *Veth {
	tb.Helper()
	return newVeth(tb, unix.SOCK_DGRAM)
}

func newVeth(tb testing.TB, rxType int) *Veth {
	tb.Helper()
	ns := NewNetNS(tb)
	ns.MustRun(tb, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	if _, err := ns.Run("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"); err != nil {
		Skip(tb, fmt.Sprintf("cannot make a veth pair: %v", err))
	}
	ns.MustRun(tb, "ip", "link", "set", "veth0", "up")
	ns.MustRun(tb, "ip", "link", "set", "veth1", "up")
	v := &Veth{NS: ns, buf: make([]byte, 1<<16), mbuf: make([]byte, 1<<16)}
	err := ns.Do(func() error {
		rxIf, err := net.InterfaceByName("veth1")
		if err != nil {
			return err
		}
		txIf, err := net.InterfaceByName("veth0")
		if err != nil {
			return err
		}
		v.Ifindex, v.MAC, v.TxIfindex, v.TxMAC = rxIf.Index, rxIf.HardwareAddr, txIf.Index, txIf.HardwareAddr
		if v.tx, err = packetSocket(unix.SOCK_RAW, 0, 0); err != nil {
			return err
		}
		// The monitor must register before the filtered socket: the
		// newest packet socket is served first, so once the monitor has
		// a frame the filtered socket has already decided on it.
		if v.mon, err = packetSocket(unix.SOCK_RAW, v.Ifindex, unix.ETH_P_ALL); err != nil {
			return err
		}
		tv := unix.Timeval{Sec: 10} // generous: a saturated machine may run the softirq late
		if err := unix.SetsockoptTimeval(v.mon, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		v.rx, err = packetSocket(rxType, v.Ifindex, unix.ETH_P_ALL)
		return err
	})
	if err != nil {
		tb.Fatalf("veth sockets: %v", err)
	}
	tb.Cleanup(func() {
		unix.Close(v.tx)
		unix.Close(v.rx)
		unix.Close(v.mon)
	})
	// Settle: drop anything that crossed before the test starts.
	time.Sleep(20 * time.Millisecond)
	v.drain()
	return v
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens an AF_PACKET socket of the type, bound to ifindex for
// protocol proto when ifindex is not 0.
func packetSocket(typ, ifindex int, proto uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return -1, fmt.Errorf("socket(AF_PACKET): %w", err)
	}
	if ifindex != 0 {
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind(AF_PACKET): %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (v *Veth) drain() {
	for _, fd := range []int{v.rx, v.mon} {
		for {
			if _, _, err := unix.Recvfrom(fd, v.buf, unix.MSG_DONTWAIT); err != nil {
				break
			}
		}
	}
}

// Attach replaces the receiving socket's filter with raw and returns the
// errno of setsockopt(SO_ATTACH_FILTER).
func (v *Veth) Attach(raw []bpf.RawInstruction) error {
	return attachFilter(v.rx, raw)
}

// SetMark makes frames sent from now on carry skb->mark = mark (SO_MARK
// on the sending socket; the mark survives the veth crossing inside one
// namespace).
func (v *Veth) SetMark(mark uint32) error {
	return unix.SetsockoptInt(v.tx, unix.SOL_SOCKET, unix.SO_MARK, int(mark))
}

// Deliver sends frame (an Ethernet frame of at least 14 bytes) out of the
// first device and returns how many bytes the filtered socket on the
// second got, or -1 if the filter dropped it.
func (v *Veth) Deliver(frame []byte) (int, error) {
	to := &unix.SockaddrLinklayer{Ifindex: v.TxIfindex, Protocol: htons(unix.ETH_P_ALL)}
	if err := unix.Sendto(v.tx, frame, 0, to); err != nil {
		return 0, fmt.Errorf("send %d-byte frame: %w", len(frame), err)
	}
	tail := frame[len(frame)-4:]
	for range 64 {
		n, _, err := unix.Recvfrom(v.mon, v.mbuf, 0)
		if err != nil {
			return 0, fmt.Errorf("frame never arrived on the monitor socket: %w", err)
		}
		if n >= 4 && bytes.Equal(v.mbuf[n-4:n], tail) {
			break
		}
	}
	n, _, err := unix.Recvfrom(v.rx, v.buf, unix.MSG_DONTWAIT)
	if errors.Is(err, unix.EAGAIN) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recv: %w", err)
	}
	return n, nil
}

// HTB is a veth device in a private namespace with an HTB root qdisc
// (handle 1:, no default class) and leaf classes 1:1 to 1:N, the setting
// in which cls_bpf's classid mode shows which class a frame lands in.
type HTB struct {
	NS      *NetNS
	Classes int
	// Ifindex and MAC are the device's (the filter sees its ifindex).
	Ifindex int
	MAC     net.HardwareAddr
	tx      int
	mu      sync.Mutex
}

// NewHTB sets up the namespace, the device and classes 1:1 to 1:classes.
func NewHTB(tb testing.TB, classes int) *HTB {
	tb.Helper()
	ns := NewNetNS(tb)
	if _, err := exec.LookPath("tc"); err != nil {
		Skip(tb, "iproute2 'tc' not installed")
	}
	ns.MustRun(tb, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	if _, err := ns.Run("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"); err != nil {
		Skip(tb, fmt.Sprintf("cannot make a veth pair: %v", err))
	}
	ns.MustRun(tb, "ip", "link", "set", "veth0", "up")
	ns.MustRun(tb, "ip", "link", "set", "veth1", "up")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth0", "root", "handle", "1:", "htb"); err != nil {
		Skip(tb, fmt.Sprintf("htb qdisc unavailable: %v", err))
	}
	for c := 1; c <= classes; c++ {
		ns.MustRun(tb, "tc", "class", "add", "dev", "veth0", "parent", "1:", "classid", fmt.Sprintf("1:%x", c), "htb", "rate", "10gbit")
	}
	h := &HTB{NS: ns, Classes: classes}
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName("veth0")
		if err != nil {
			return err
		}
		h.Ifindex, h.MAC = ifc.Index, ifc.HardwareAddr
		h.tx, err = packetSocket(unix.SOCK_RAW, 0, 0)
		return err
	})
	if err != nil {
		tb.Fatalf("htb socket: %v", err)
	}
	tb.Cleanup(func() { unix.Close(h.tx) })
	return h
}

// SetFilter installs the classic program (tc bytecode text) as the only
// cls_bpf filter on the HTB root, in classid mode with classid 1:1 for a
// result of -1. It returns the tc error, if any.
func (h *HTB) SetFilter(bytecode string) error {
	_, err := h.NS.Run("tc", "filter", "replace", "dev", "veth0", "parent", "1:", "pref", "1", "handle", "1",
		"bpf", "bytecode", bytecode, "classid", "1:1")
	return err
}

// Classify sends the frames out of the device and returns how many landed
// in each class: key 0 counts frames sent directly (no class: no match, or
// a classid that names no class).
func (h *HTB) Classify(frames [][]byte) (map[uint32]int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	before, err := h.counts()
	if err != nil {
		return nil, err
	}
	to := &unix.SockaddrLinklayer{Ifindex: h.Ifindex, Protocol: htons(unix.ETH_P_ALL)}
	for _, f := range frames {
		if err := unix.Sendto(h.tx, f, 0, to); err != nil {
			return nil, fmt.Errorf("send %d-byte frame: %w", len(f), err)
		}
	}
	var diff map[uint32]int
	for range 200 {
		after, err := h.counts()
		if err != nil {
			return nil, err
		}
		diff = map[uint32]int{}
		total := 0
		for k, n := range after {
			if d := n - before[k]; d != 0 {
				diff[k] = d
				total += d
			}
		}
		if total >= len(frames) {
			return diff, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return diff, fmt.Errorf("only part of %d frames counted: %v", len(frames), diff)
}

// counts reads the per-class packet counters, key = minor class number,
// and the direct packet count under key 0.
func (h *HTB) counts() (map[uint32]int, error) {
	out, err := h.NS.Run("tc", "-s", "class", "show", "dev", "veth0")
	if err != nil {
		return nil, err
	}
	c := map[uint32]int{}
	var cur int64 = -1
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "class" && f[1] == "htb" {
			id := f[2]
			i := strings.IndexByte(id, ':')
			minor, err := strconv.ParseUint(id[i+1:], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("class id %q: %w", id, err)
			}
			cur = int64(minor)
		}
		if len(f) >= 5 && f[0] == "Sent" && f[4] == "pkt" && cur >= 0 {
			n, err := strconv.Atoi(f[3])
			if err != nil {
				return nil, err
			}
			c[uint32(cur)] = n
			cur = -1
		}
	}
	q, err := h.NS.Run("tc", "-s", "qdisc", "show", "dev", "veth0")
	if err != nil {
		return nil, err
	}
	if i := strings.Index(q, "direct_packets_stat "); i >= 0 {
		f := strings.Fields(q[i+len("direct_packets_stat "):])
		if len(f) > 0 {
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return nil, err
			}
			c[0] = n
		}
	}
	return c, nil
}

// NewUnixPairIn is NewUnixPair with the sockets made inside ns, whose
// sysctls (net.core.optmem_max bounds the size of an attached filter)
// then apply to them.
func NewUnixPairIn(tb testing.TB, ns *NetNS) *UnixPair {
	tb.Helper()
	var fds [2]int
	err := ns.Do(func() error {
		var err error
		fds, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		tb.Fatalf("socketpair in %s: %v", ns.Name, err)
	}
	u := &UnixPair{rx: fds[0], tx: fds[1], buf: make([]byte, 1<<16)}
	tb.Cleanup(func() {
		unix.Close(u.rx)
		unix.Close(u.tx)
	})
	return u
}
