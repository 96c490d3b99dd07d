package uapi

// Classic BPF (include/uapi/linux/filter.h). The shared opcode fields
// (classes, sizes, modes, ALU and jump operations, BPF_K/BPF_X) are in
// ebpf.go; BPF_MAXINSNS is in tca.go; SKF_NET_OFF and SKF_LL_OFF in ebpf.go.

// Return value source (BPF_RVAL(code) = code & 0x18) of BPF_RET.
const (
	BPF_A = 0x10
)

// Miscellaneous operations (BPF_MISCOP(code) = code & 0xf8) of BPF_MISC.
const (
	BPF_TAX = 0x00
	BPF_TXA = 0x80
)

// Classic machine limits.
const (
	BPF_MEMWORDS = 16 // scratch memory words M[0..15]
)

// Ancillary data offsets: LD ABS with k = SKF_AD_OFF + SKF_AD_* reads
// packet metadata instead of packet bytes.
const (
	SKF_AD_OFF              = -0x1000
	SKF_AD_PROTOCOL         = 0
	SKF_AD_PKTTYPE          = 4
	SKF_AD_IFINDEX          = 8
	SKF_AD_NLATTR           = 12
	SKF_AD_NLATTR_NEST      = 16
	SKF_AD_MARK             = 20
	SKF_AD_QUEUE            = 24
	SKF_AD_HATYPE           = 28
	SKF_AD_RXHASH           = 32
	SKF_AD_CPU              = 36
	SKF_AD_ALU_XOR_X        = 40
	SKF_AD_VLAN_TAG         = 44
	SKF_AD_VLAN_TAG_PRESENT = 48
	SKF_AD_PAY_OFFSET       = 52
	SKF_AD_RANDOM           = 56
	SKF_AD_VLAN_TPID        = 60
	SKF_AD_MAX              = 64
)
