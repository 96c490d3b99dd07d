package uapi

// Traffic-control netlink constants, spelled as the kernel spells them
// (include/uapi/linux/rtnetlink.h, pkt_cls.h, pkt_sched.h, netlink.h).
// golang.org/x/sys/unix lacks most of them and exists only on some systems,
// so they live here once for every package.

// rtnetlink message types for filters and chains (RTM_*).
const (
	RTM_NEWQDISC   = 36
	RTM_DELQDISC   = 37
	RTM_GETQDISC   = 38
	RTM_NEWTCLASS  = 40
	RTM_DELTCLASS  = 41
	RTM_GETTCLASS  = 42
	RTM_NEWTFILTER = 44
	RTM_DELTFILTER = 45
	RTM_GETTFILTER = 46
	RTM_NEWCHAIN   = 100
	RTM_DELCHAIN   = 101
	RTM_GETCHAIN   = 102
)

// Netlink message flags (NLM_F_*).
const (
	NLM_F_REQUEST = 0x1
	NLM_F_MULTI   = 0x2
	NLM_F_ACK     = 0x4
	NLM_F_ECHO    = 0x8
	NLM_F_ROOT    = 0x100
	NLM_F_MATCH   = 0x200
	NLM_F_DUMP    = NLM_F_ROOT | NLM_F_MATCH
	NLM_F_REPLACE = 0x100
	NLM_F_EXCL    = 0x200
	NLM_F_CREATE  = 0x400
	NLM_F_APPEND  = 0x800
)

// Netlink attribute layout (struct nlattr).
const (
	NLA_HDRLEN          = 4
	NLA_ALIGNTO         = 4
	NLA_F_NESTED        = 0x8000
	NLA_F_NET_BYTEORDER = 0x4000
	NLA_TYPE_MASK       = ^uint16(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
)

// SizeofTcmsg is the size of struct tcmsg: family u8, two pad bytes (u8,
// u16), ifindex s32, handle u32, parent u32, info u32.
const SizeofTcmsg = 20

// Top-level tc attributes (TCA_*).
const (
	TCA_UNSPEC           = 0
	TCA_KIND             = 1
	TCA_OPTIONS          = 2
	TCA_STATS            = 3
	TCA_XSTATS           = 4
	TCA_RATE             = 5
	TCA_FCNT             = 6
	TCA_STATS2           = 7
	TCA_STAB             = 8
	TCA_PAD              = 9
	TCA_DUMP_INVISIBLE   = 10
	TCA_CHAIN            = 11
	TCA_HW_OFFLOAD       = 12
	TCA_INGRESS_BLOCK    = 13
	TCA_EGRESS_BLOCK     = 14
	TCA_DUMP_FLAGS       = 15
	TCA_EXT_WARN_MSG     = 16
	TCA_MAX              = TCA_EXT_WARN_MSG
	TCA_DUMP_FLAGS_TERSE = 1
)

// cls_bpf attributes inside TCA_OPTIONS (TCA_BPF_*).
const (
	TCA_BPF_UNSPEC    = 0
	TCA_BPF_ACT       = 1
	TCA_BPF_POLICE    = 2
	TCA_BPF_CLASSID   = 3
	TCA_BPF_OPS_LEN   = 4
	TCA_BPF_OPS       = 5
	TCA_BPF_FD        = 6
	TCA_BPF_NAME      = 7
	TCA_BPF_FLAGS     = 8
	TCA_BPF_FLAGS_GEN = 9
	TCA_BPF_TAG       = 10
	TCA_BPF_ID        = 11
	TCA_BPF_MAX       = TCA_BPF_ID
)

// TCA_BPF_FLAGS bits.
const (
	TCA_BPF_FLAG_ACT_DIRECT = 1 << 0
)

// Generic classifier flags (TCA_CLS_FLAGS_*), carried in TCA_BPF_FLAGS_GEN.
const (
	TCA_CLS_FLAGS_SKIP_HW   = 1 << 0
	TCA_CLS_FLAGS_SKIP_SW   = 1 << 1
	TCA_CLS_FLAGS_IN_HW     = 1 << 2
	TCA_CLS_FLAGS_NOT_IN_HW = 1 << 3
	TCA_CLS_FLAGS_VERBOSE   = 1 << 4
)

// Sizes and limits used by cls_bpf (net/sched/cls_bpf.c,
// include/uapi/linux/bpf_common.h, filter.h, bpf.h).
const (
	BPF_MAXINSNS            = 4096
	SizeofSockFilter        = 8
	CLS_BPF_NAME_LEN        = 256
	BPF_TAG_SIZE            = 8
	TCA_ACT_MAX_PRIO        = 32
	TC_H_MAJ_MASK           = 0xFFFF0000
	TC_H_MIN_MASK           = 0x0000FFFF
	TC_H_ROOT               = 0xFFFFFFFF
	TC_H_INGRESS            = 0xFFFFFFF1
	TC_H_CLSACT             = TC_H_INGRESS
	TC_H_MIN_INGRESS        = 0xFFF2
	TC_H_MIN_EGRESS         = 0xFFF3
	ETH_P_ALL               = 0x0003
	TCM_IFINDEX_MAGIC_BLOCK = 0xFFFFFFFF
)
