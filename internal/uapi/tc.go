package uapi

// Verdicts (control actions) from include/uapi/linux/pkt_cls.h. They are
// signed 32-bit values: the kernel compares them as int.
const (
	TC_ACT_UNSPEC     = -1
	TC_ACT_OK         = 0
	TC_ACT_RECLASSIFY = 1
	TC_ACT_SHOT       = 2
	TC_ACT_PIPE       = 3
	TC_ACT_STOLEN     = 4
	TC_ACT_QUEUED     = 5
	TC_ACT_REPEAT     = 6
	TC_ACT_REDIRECT   = 7
	TC_ACT_TRAP       = 8

	// TC_ACT_VALUE_MAX is the largest plain opcode an action configuration
	// may carry (tcf_action_check_ctrlact).
	TC_ACT_VALUE_MAX = TC_ACT_TRAP

	// TC_ACT_CONSUMED is kernel-internal (include/net/pkt_cls.h): mirred
	// returns it when it re-inserted the packet; userspace never sends it.
	TC_ACT_CONSUMED = TC_ACT_VALUE_MAX + 1
)

// Extended ("combined") control actions: the top nibble holds a local
// opcode, the low 28 bits its value.
const (
	TC_ACT_EXT_SHIFT      = 28
	TC_ACT_EXT_VAL_MASK   = 1<<TC_ACT_EXT_SHIFT - 1 // 0x0FFFFFFF
	TC_ACT_JUMP           = 1 << TC_ACT_EXT_SHIFT   // 0x10000000
	TC_ACT_GOTO_CHAIN     = 2 << TC_ACT_EXT_SHIFT   // 0x20000000
	TC_ACT_EXT_OPCODE_MAX = TC_ACT_GOTO_CHAIN

	// TC_ACT_EXT_OPCODE_MASK is ~TC_ACT_EXT_VAL_MASK as the kernel's
	// TC_ACT_EXT_OPCODE(combined) applies it: 0xF0000000.
	TC_ACT_EXT_OPCODE_MASK = 0xF0000000
)

// Handles from include/uapi/linux/pkt_sched.h: a 32-bit value whose upper
// half is the major and lower half the minor number. TC_H_MAJ_MASK,
// TC_H_MIN_MASK, TC_H_ROOT, TC_H_INGRESS (= TC_H_CLSACT), TC_H_MIN_INGRESS,
// TC_H_MIN_EGRESS, TCM_IFINDEX_MAGIC_BLOCK and the TCA_CLS_FLAGS_* bits live
// in tca.go with the rest of the tc netlink constants.
const (
	TC_H_UNSPEC       = 0x00000000
	TC_H_MIN_PRIORITY = 0xFFE0
)

// Limits of net/sched/cls_api.c and net/sched/cls_bpf.c.
const (
	// CLS_BPF_HANDLE_AUTO_MIN and CLS_BPF_HANDLE_AUTO_MAX bound the
	// handles cls_bpf_change hands out on its own:
	// idr_alloc_u32(..., &handle = 1, INT_MAX, ...). Explicit handles may
	// be any non-zero u32.
	CLS_BPF_HANDLE_AUTO_MIN = 1
	CLS_BPF_HANDLE_AUTO_MAX = 0x7FFFFFFF

	// TC_CHAIN_INDEX_MAX is the largest chain index cls_api accepts
	// (TC_ACT_EXT_VAL_MASK; "Specified chain index exceeds upper limit").
	TC_CHAIN_INDEX_MAX = TC_ACT_EXT_VAL_MASK
)
