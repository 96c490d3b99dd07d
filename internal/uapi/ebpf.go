package uapi

// BPF instruction encoding (include/uapi/linux/bpf_common.h and bpf.h).
// The bpf_common.h names (classes, sizes, modes, ALU and jump operations,
// operand sources) are shared by classic BPF and eBPF and are defined here
// once for both.

// Instruction classes (BPF_CLASS(code) = code & 0x07).
const (
	BPF_LD    = 0x00
	BPF_LDX   = 0x01
	BPF_ST    = 0x02
	BPF_STX   = 0x03
	BPF_ALU   = 0x04
	BPF_JMP   = 0x05
	BPF_RET   = 0x06 // classic BPF only
	BPF_MISC  = 0x07 // classic BPF only
	BPF_JMP32 = 0x06 // eBPF: jumps comparing the low 32 bits
	BPF_ALU64 = 0x07 // eBPF: 64-bit arithmetic
)

// Load and store sizes (BPF_SIZE(code) = code & 0x18).
const (
	BPF_W  = 0x00
	BPF_H  = 0x08
	BPF_B  = 0x10
	BPF_DW = 0x18 // eBPF only
)

// Load and store modes (BPF_MODE(code) = code & 0xe0).
const (
	BPF_IMM    = 0x00
	BPF_ABS    = 0x20
	BPF_IND    = 0x40
	BPF_MEM    = 0x60
	BPF_LEN    = 0x80 // classic BPF only
	BPF_MSH    = 0xa0 // classic BPF only
	BPF_MEMSX  = 0x80 // eBPF: sign-extending load
	BPF_ATOMIC = 0xc0 // eBPF: atomic memory operation
)

// ALU operations (BPF_OP(code) = code & 0xf0).
const (
	BPF_ADD  = 0x00
	BPF_SUB  = 0x10
	BPF_MUL  = 0x20
	BPF_DIV  = 0x30
	BPF_OR   = 0x40
	BPF_AND  = 0x50
	BPF_LSH  = 0x60
	BPF_RSH  = 0x70
	BPF_NEG  = 0x80
	BPF_MOD  = 0x90
	BPF_XOR  = 0xa0
	BPF_MOV  = 0xb0 // eBPF
	BPF_ARSH = 0xc0 // eBPF
	BPF_END  = 0xd0 // eBPF: byte swap
)

// Jump operations (BPF_OP(code) for the JMP and JMP32 classes).
const (
	BPF_JA    = 0x00
	BPF_JEQ   = 0x10
	BPF_JGT   = 0x20
	BPF_JGE   = 0x30
	BPF_JSET  = 0x40
	BPF_JNE   = 0x50 // eBPF
	BPF_JSGT  = 0x60 // eBPF
	BPF_JSGE  = 0x70 // eBPF
	BPF_CALL  = 0x80 // eBPF
	BPF_EXIT  = 0x90 // eBPF
	BPF_JLT   = 0xa0 // eBPF
	BPF_JLE   = 0xb0 // eBPF
	BPF_JSLT  = 0xc0 // eBPF
	BPF_JSLE  = 0xd0 // eBPF
	BPF_JCOND = 0xe0 // eBPF: may_goto
)

// Operand source (BPF_SRC(code) = code & 0x08).
const (
	BPF_K = 0x00
	BPF_X = 0x08
)

// Byte-swap direction for BPF_END in the ALU class.
const (
	BPF_TO_LE = 0x00
	BPF_TO_BE = 0x08
)

// Atomic operations, in imm of BPF_STX|BPF_ATOMIC.
const (
	BPF_FETCH     = 0x01
	BPF_XCHG      = 0xe0 | BPF_FETCH
	BPF_CMPXCHG   = 0xf0 | BPF_FETCH
	BPF_LOAD_ACQ  = 0x100
	BPF_STORE_REL = 0x110
)

// src_reg of BPF_LD|BPF_IMM|BPF_DW: what the 64-bit immediate stands for.
const (
	BPF_PSEUDO_MAP_FD        = 1
	BPF_PSEUDO_MAP_VALUE     = 2
	BPF_PSEUDO_BTF_ID        = 3
	BPF_PSEUDO_FUNC          = 4
	BPF_PSEUDO_MAP_IDX       = 5
	BPF_PSEUDO_MAP_IDX_VALUE = 6
)

// src_reg of BPF_JMP|BPF_CALL: what kind of call.
const (
	BPF_PSEUDO_CALL       = 1
	BPF_PSEUDO_KFUNC_CALL = 2
)

// src_reg of BPF_JMP|BPF_JCOND.
const (
	BPF_MAY_GOTO = 0
)

// Registers and machine limits (include/linux/bpf.h, filter.h,
// bpf_verifier.h).
const (
	MAX_BPF_REG                  = 11
	BPF_REG_FP                   = 10
	MAX_BPF_STACK                = 512
	MAX_CALL_FRAMES              = 8
	BPF_MAX_SUBPROGS             = 256
	BPF_COMPLEXITY_LIMIT_INSNS   = 1000000
	BPF_MAX_LOOPS                = 8 * 1024 * 1024
	MAX_PACKET_OFF               = 0xffff
	MAX_TAIL_CALL_CNT            = 33
	SKF_NET_OFF                  = -0x100000
	SKF_LL_OFF                   = -0x200000
	BPF_PROG_TYPE_SCHED_CLS      = 3
	BPF_PROG_TYPE_SCHED_ACT      = 4
	SK_BUFF_CTX_SIZE             = 192 // sizeof(struct __sk_buff)
	BPF_INSN_SIZE                = 8   // sizeof(struct bpf_insn)
	BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192
)

// Offsets of struct __sk_buff fields (include/uapi/linux/bpf.h).
const (
	SKB_OFF_LEN             = 0
	SKB_OFF_PKT_TYPE        = 4
	SKB_OFF_MARK            = 8
	SKB_OFF_QUEUE_MAPPING   = 12
	SKB_OFF_PROTOCOL        = 16
	SKB_OFF_VLAN_PRESENT    = 20
	SKB_OFF_VLAN_TCI        = 24
	SKB_OFF_VLAN_PROTO      = 28
	SKB_OFF_PRIORITY        = 32
	SKB_OFF_INGRESS_IFINDEX = 36
	SKB_OFF_IFINDEX         = 40
	SKB_OFF_TC_INDEX        = 44
	SKB_OFF_CB              = 48 // cb[0..4], 5 x u32
	SKB_OFF_HASH            = 68
	SKB_OFF_TC_CLASSID      = 72
	SKB_OFF_DATA            = 76
	SKB_OFF_DATA_END        = 80
	SKB_OFF_NAPI_ID         = 84
	SKB_OFF_FAMILY          = 88
	SKB_OFF_DATA_META       = 140
	SKB_OFF_FLOW_KEYS       = 144
	SKB_OFF_TSTAMP          = 152
	SKB_OFF_WIRE_LEN        = 160
	SKB_OFF_GSO_SEGS        = 164
	SKB_OFF_SK              = 168
	SKB_OFF_GSO_SIZE        = 176
	SKB_OFF_TSTAMP_TYPE     = 180
	SKB_OFF_HWTSTAMP        = 184
)
