package uapi

// tc action constants (include/uapi/linux/pkt_cls.h, rtnetlink.h,
// gen_stats.h, pkt_sched.h and include/uapi/linux/tc_act/*.h), spelled as
// the kernel spells them.

// rtnetlink message types for standalone actions (RTM_*ACTION) and the
// attributes of struct tcamsg messages (TCA_ROOT_*).
const (
	RTM_NEWACTION = 48
	RTM_DELACTION = 49
	RTM_GETACTION = 50

	// SizeofTcamsg is the size of struct tcamsg: family u8, pad u8, pad u16.
	SizeofTcamsg = 4

	TCA_ROOT_UNSPEC         = 0
	TCA_ROOT_TAB            = 1
	TCA_ACT_TAB             = TCA_ROOT_TAB
	TCA_ROOT_FLAGS          = 2
	TCA_ROOT_COUNT          = 3
	TCA_ROOT_TIME_DELTA     = 4
	TCA_ROOT_EXT_WARN_MSG   = 5
	TCA_ACT_FLAG_LARGE_DUMP = 1 << 0
	TCA_ACT_FLAG_TERSE_DUMP = 1 << 1
)

// Attributes of one action nest (TCA_ACT_*).
const (
	TCA_ACT_UNSPEC        = 0
	TCA_ACT_KIND          = 1
	TCA_ACT_OPTIONS       = 2
	TCA_ACT_INDEX         = 3
	TCA_ACT_STATS         = 4
	TCA_ACT_PAD           = 5
	TCA_ACT_COOKIE        = 6
	TCA_ACT_FLAGS         = 7
	TCA_ACT_HW_STATS      = 8
	TCA_ACT_USED_HW_STATS = 9
	TCA_ACT_IN_HW_COUNT   = 10
	TCA_ACT_MAX           = TCA_ACT_IN_HW_COUNT
	// TCA_OLD_COMPAT marks a legacy police action (TCA_ACT_MAX+1).
	TCA_OLD_COMPAT = TCA_ACT_MAX + 1
)

// Action flags (TCA_ACT_FLAGS_*): the user bits of the TCA_ACT_FLAGS
// bitfield32 and the kernel-internal bits of include/net/act_api.h.
const (
	TCA_ACT_FLAGS_NO_PERCPU_STATS = 1 << 0
	TCA_ACT_FLAGS_SKIP_HW         = 1 << 1
	TCA_ACT_FLAGS_SKIP_SW         = 1 << 2
	TCA_ACT_FLAGS_USER_MASK       = 0xffff
	TCA_ACT_FLAGS_POLICE          = 1 << 16
	TCA_ACT_FLAGS_BIND            = 1 << 17
	TCA_ACT_FLAGS_REPLACE         = 1 << 18
	TCA_ACT_FLAGS_NO_RTNL         = 1 << 19

	TCA_ACT_HW_STATS_IMMEDIATE = 1 << 0
	TCA_ACT_HW_STATS_DELAYED   = 1 << 1
	TCA_ACT_HW_STATS_ANY       = TCA_ACT_HW_STATS_IMMEDIATE | TCA_ACT_HW_STATS_DELAYED

	// TC_COOKIE_MAX_SIZE is the longest action cookie.
	TC_COOKIE_MAX_SIZE = 16
	// SizeofNlaBitfield32 is struct nla_bitfield32: value u32, selector u32.
	SizeofNlaBitfield32 = 8
	// IFNAMSIZ bounds an action kind: at most IFNAMSIZ-1 characters.
	IFNAMSIZ = 16
)

// Action kind identifiers (enum tca_id).
const (
	TCA_ID_UNSPEC  = 0
	TCA_ID_POLICE  = 1
	TCA_ID_GACT    = 5
	TCA_ID_MIRRED  = 8
	TCA_ID_SKBEDIT = 11
	TCA_ID_VLAN    = 12
	TCA_ID_BPF     = 13
	TCA_ID_CSUM    = 16
)

// Statistics attributes inside TCA_ACT_STATS (gen_stats.h TCA_STATS_*) and
// the sizes of the structs they carry.
const (
	TCA_STATS_UNSPEC      = 0
	TCA_STATS_BASIC       = 1
	TCA_STATS_RATE_EST    = 2
	TCA_STATS_QUEUE       = 3
	TCA_STATS_APP         = 4
	TCA_STATS_RATE_EST64  = 5
	TCA_STATS_PAD         = 6
	TCA_STATS_BASIC_HW    = 7
	TCA_STATS_PKT64       = 8
	SizeofGnetStatsBasic  = 16 // bytes u64, packets u32, 4 bytes of padding
	SizeofGnetStatsQueue  = 20 // qlen, backlog, drops, requeues, overlimits
	SizeofGnetRateEst64   = 16 // bps u64, pps u64
	SizeofTcfT            = 32 // struct tcf_t: install, lastuse, expires, firstuse (u64)
	SizeofTcGen           = 20 // tc_gen: index u32, capab u32, action s32, refcnt s32, bindcnt s32
	USER_HZ               = 100
	TC_ACT_MAX_PRIO_MASK  = 0x1FF // tcf_action_exec: jump counts in the low 9 bits
	TC_ACT_REPEAT_TTL     = 32
	TC_ACT_JUMP_TTL       = TCA_ACT_MAX_PRIO
	MIRRED_NEST_LIMIT     = 4
	ACT_BPF_NAME_LEN      = 256
	TC_RTAB_SIZE          = 1024
	PSCHED_SHIFT          = 6 // one psched tick is 64 ns
	TC_LINKLAYER_UNAWARE  = 0
	TC_LINKLAYER_ETHERNET = 1
	TC_LINKLAYER_ATM      = 2
	TC_LINKLAYER_MASK     = 0x0F
	SizeofTcRatespec      = 12 // cell_log u8, linklayer u8, overhead u16, cell_align s16, mpu u16, rate u32
)

// gact (tc_gact.h).
const (
	TCA_GACT_UNSPEC  = 0
	TCA_GACT_TM      = 1
	TCA_GACT_PARMS   = 2
	TCA_GACT_PROB    = 3
	TCA_GACT_PAD     = 4
	TCA_GACT_MAX     = TCA_GACT_PAD
	PGACT_NONE       = 0
	PGACT_NETRAND    = 1
	PGACT_DETERM     = 2
	MAX_RAND         = PGACT_DETERM + 1
	SizeofTcGact     = SizeofTcGen
	SizeofTcGactProb = 8 // ptype u16, pval u16, paction s32
)

// mirred (tc_mirred.h).
const (
	TCA_MIRRED_UNSPEC  = 0
	TCA_MIRRED_TM      = 1
	TCA_MIRRED_PARMS   = 2
	TCA_MIRRED_PAD     = 3
	TCA_MIRRED_BLOCKID = 4
	TCA_MIRRED_MAX     = TCA_MIRRED_BLOCKID
	TCA_EGRESS_REDIR   = 1
	TCA_EGRESS_MIRROR  = 2
	TCA_INGRESS_REDIR  = 3
	TCA_INGRESS_MIRROR = 4
	SizeofTcMirred     = SizeofTcGen + 8 // + eaction s32, ifindex u32
)

// skbedit (tc_skbedit.h).
const (
	TCA_SKBEDIT_UNSPEC            = 0
	TCA_SKBEDIT_TM                = 1
	TCA_SKBEDIT_PARMS             = 2
	TCA_SKBEDIT_PRIORITY          = 3
	TCA_SKBEDIT_QUEUE_MAPPING     = 4
	TCA_SKBEDIT_MARK              = 5
	TCA_SKBEDIT_PAD               = 6
	TCA_SKBEDIT_PTYPE             = 7
	TCA_SKBEDIT_MASK              = 8
	TCA_SKBEDIT_FLAGS             = 9
	TCA_SKBEDIT_QUEUE_MAPPING_MAX = 10
	TCA_SKBEDIT_MAX               = TCA_SKBEDIT_QUEUE_MAPPING_MAX
	SKBEDIT_F_PRIORITY            = 0x1
	SKBEDIT_F_QUEUE_MAPPING       = 0x2
	SKBEDIT_F_MARK                = 0x4
	SKBEDIT_F_PTYPE               = 0x8
	SKBEDIT_F_MASK                = 0x10
	SKBEDIT_F_INHERITDSFIELD      = 0x20
	SKBEDIT_F_TXQ_SKBHASH         = 0x40
	SizeofTcSkbedit               = SizeofTcGen
)

// police (pkt_cls.h).
const (
	TCA_POLICE_UNSPEC     = 0
	TCA_POLICE_TBF        = 1
	TCA_POLICE_RATE       = 2
	TCA_POLICE_PEAKRATE   = 3
	TCA_POLICE_AVRATE     = 4
	TCA_POLICE_RESULT     = 5
	TCA_POLICE_TM         = 6
	TCA_POLICE_PAD        = 7
	TCA_POLICE_RATE64     = 8
	TCA_POLICE_PEAKRATE64 = 9
	TCA_POLICE_PKTRATE64  = 10
	TCA_POLICE_PKTBURST64 = 11
	TCA_POLICE_MAX        = TCA_POLICE_PKTBURST64
	// SizeofTcPolice is struct tc_police: index, action, limit, burst, mtu,
	// rate, peakrate, refcnt, bindcnt, capab.
	SizeofTcPolice = 20 + 2*SizeofTcRatespec + 12
	// SizeofTcPoliceCompat is the pre-actions struct tc_police_compat,
	// without refcnt, bindcnt and capab.
	SizeofTcPoliceCompat = 20 + 2*SizeofTcRatespec
)

// vlan (tc_vlan.h).
const (
	TCA_VLAN_UNSPEC             = 0
	TCA_VLAN_TM                 = 1
	TCA_VLAN_PARMS              = 2
	TCA_VLAN_PUSH_VLAN_ID       = 3
	TCA_VLAN_PUSH_VLAN_PROTOCOL = 4
	TCA_VLAN_PAD                = 5
	TCA_VLAN_PUSH_VLAN_PRIORITY = 6
	TCA_VLAN_PUSH_ETH_DST       = 7
	TCA_VLAN_PUSH_ETH_SRC       = 8
	TCA_VLAN_MAX                = TCA_VLAN_PUSH_ETH_SRC
	TCA_VLAN_ACT_POP            = 1
	TCA_VLAN_ACT_PUSH           = 2
	TCA_VLAN_ACT_MODIFY         = 3
	TCA_VLAN_ACT_POP_ETH        = 4
	TCA_VLAN_ACT_PUSH_ETH       = 5
	SizeofTcVlan                = SizeofTcGen + 4 // + v_action s32
	VLAN_VID_MASK               = 0x0fff
	VLAN_PRIO_MASK              = 0xe000
	VLAN_PRIO_SHIFT             = 13
	VLAN_HLEN                   = 4
	ETH_HLEN                    = 14
	ETH_ALEN                    = 6
	ETH_P_8021Q                 = 0x8100
	ETH_P_8021AD                = 0x88A8
	ETH_P_IP                    = 0x0800
	ETH_P_IPV6                  = 0x86DD
	ETH_P_TEB                   = 0x6558
)

// csum (tc_csum.h).
const (
	TCA_CSUM_UNSPEC              = 0
	TCA_CSUM_PARMS               = 1
	TCA_CSUM_TM                  = 2
	TCA_CSUM_PAD                 = 3
	TCA_CSUM_MAX                 = TCA_CSUM_PAD
	TCA_CSUM_UPDATE_FLAG_IPV4HDR = 1
	TCA_CSUM_UPDATE_FLAG_ICMP    = 2
	TCA_CSUM_UPDATE_FLAG_IGMP    = 4
	TCA_CSUM_UPDATE_FLAG_TCP     = 8
	TCA_CSUM_UPDATE_FLAG_UDP     = 16
	TCA_CSUM_UPDATE_FLAG_UDPLITE = 32
	TCA_CSUM_UPDATE_FLAG_SCTP    = 64
	SizeofTcCsum                 = SizeofTcGen + 4 // + update_flags u32
)

// act_bpf (tc_bpf.h).
const (
	TCA_ACT_BPF_UNSPEC  = 0
	TCA_ACT_BPF_TM      = 1
	TCA_ACT_BPF_PARMS   = 2
	TCA_ACT_BPF_OPS_LEN = 3
	TCA_ACT_BPF_OPS     = 4
	TCA_ACT_BPF_FD      = 5
	TCA_ACT_BPF_NAME    = 6
	TCA_ACT_BPF_PAD     = 7
	TCA_ACT_BPF_TAG     = 8
	TCA_ACT_BPF_ID      = 9
	TCA_ACT_BPF_MAX     = TCA_ACT_BPF_ID
	SizeofTcActBpf      = SizeofTcGen
)
