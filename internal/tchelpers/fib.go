package tchelpers

import (
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// bpf_fib_lookup through the embedding program's routing table.

// fib_lookup flags and results (include/uapi/linux/bpf.h).
const (
	BPF_FIB_LOOKUP_DIRECT     = 1 << 0
	BPF_FIB_LOOKUP_OUTPUT     = 1 << 1
	BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2
	BPF_FIB_LOOKUP_TBID       = 1 << 3
	BPF_FIB_LOOKUP_SRC        = 1 << 4
	BPF_FIB_LOOKUP_MARK       = 1 << 5

	BPF_FIB_LKUP_RET_SUCCESS      = 0
	BPF_FIB_LKUP_RET_BLACKHOLE    = 1
	BPF_FIB_LKUP_RET_UNREACHABLE  = 2
	BPF_FIB_LKUP_RET_PROHIBIT     = 3
	BPF_FIB_LKUP_RET_NOT_FWDED    = 4
	BPF_FIB_LKUP_RET_FWD_DISABLED = 5
	BPF_FIB_LKUP_RET_UNSUPP_LWT   = 6
	BPF_FIB_LKUP_RET_NO_NEIGH     = 7
	BPF_FIB_LKUP_RET_FRAG_NEEDED  = 8
	BPF_FIB_LKUP_RET_NO_SRC_ADDR  = 9

	// FibParamsSize is sizeof(struct bpf_fib_lookup).
	FibParamsSize = 64

	afInet  = 2
	afInet6 = 10
)

// FIB is the routing and neighbour table bpf_fib_lookup consults,
// supplied by the embedding program in Options.FIB.
type FIB interface {
	// Lookup resolves params, a struct bpf_fib_lookup of FibParamsSize
	// bytes in the kernel's layout (family at 0, ifindex at 8, addresses
	// at 16 and 32, smac and dmac at 52 and 58), for pkt with flags, and
	// fills in the outputs in place (ifindex, MAC addresses, mtu_result,
	// VLAN, source address) as the kernel's bpf_ipv4_fib_lookup and
	// bpf_ipv6_fib_lookup do. It returns a BPF_FIB_LKUP_RET_* code or a
	// negative errno. The size, flag and family checks have been made.
	// As in the kernel, a non-zero tot_len is the length to check against
	// the route's MTU; with tot_len 0 the packet's length is checked and
	// mtu_result (the same field) receives the device's MTU.
	Lookup(pkt *packet.Packet, params []byte, flags uint32) int64
}

// fibLookup is bpf_fib_lookup(skb, params, plen, flags).
func (e *Env) fibLookup(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	plen, flags := uint32(int32(a[2])), uint32(a[3])
	if _, ok := m.Mem(a[1], int(plen), true); !ok {
		return 0, errBadMemArg
	}
	if flags&^uint32(BPF_FIB_LOOKUP_DIRECT|BPF_FIB_LOOKUP_OUTPUT|BPF_FIB_LOOKUP_SKIP_NEIGH|BPF_FIB_LOOKUP_TBID|BPF_FIB_LOOKUP_SRC|BPF_FIB_LOOKUP_MARK) != 0 {
		return neg(syscall.EINVAL), nil
	}
	if int32(a[2]) < FibParamsSize {
		return neg(syscall.EINVAL), nil
	}
	params, err := readArg(m, 1, a[1], FibParamsSize)
	if err != nil {
		return 0, err
	}
	if params[0] != afInet && params[0] != afInet6 {
		return neg(syscall.EAFNOSUPPORT), nil
	}
	rc := e.fib.Lookup(p, params, flags)
	m.Write(a[1], params)
	return uint64(rc), nil
}
