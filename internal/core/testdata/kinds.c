// CO-RE relocation kinds, one tc program per case. Each program returns
// the relocated value (or a value computed from a relocated access), so
// running it shows what the relocation produced. Built by go generate.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

// Local flavors: names with a ___suffix match the kernel type without it.
struct __sk_buff___old {
	__u32 mark;
	__u32 no_such_field;
} __attribute__((preserve_access_index));

struct __sk_buff___wide {
	__u64 mark;
} __attribute__((preserve_access_index));

struct __sk_buff___signed {
	__s64 mark;
} __attribute__((preserve_access_index));

struct clsbpf_missing {
	int x;
} __attribute__((preserve_access_index));

enum bpf_func_id___x {
	BPF_FUNC_clsbpf_not_real___x = 9999,
};

enum bpf_adj_room_mode___old {
	BPF_ADJ_ROOM_MAC___old = 7,
};

#define FIELD_SIGNED 3

SEC("tc") int off_iphdr_daddr(struct __sk_buff *skb) { return bpf_core_field_offset(struct iphdr, daddr); }
SEC("tc") int off_ipv6hdr_daddr(struct __sk_buff *skb) { return bpf_core_field_offset(struct ipv6hdr, daddr); }
SEC("tc") int off_skb_cb2(struct __sk_buff *skb) { return bpf_core_field_offset(struct __sk_buff, cb[2]); }
SEC("tc") int off_tcphdr_doff(struct __sk_buff *skb) { return bpf_core_field_offset(struct tcphdr, doff); }
SEC("tc") int sz_skb_protocol(struct __sk_buff *skb) { return bpf_core_field_size(struct __sk_buff, protocol); }
SEC("tc") int sz_tunnel_remote_ipv6(struct __sk_buff *skb) { return bpf_core_field_size(struct bpf_tunnel_key, remote_ipv6); }
SEC("tc") int sz_tcphdr_doff(struct __sk_buff *skb) { return bpf_core_field_size(struct tcphdr, doff); }
SEC("tc") int exists_skb_hwtstamp(struct __sk_buff *skb) { return bpf_core_field_exists(struct __sk_buff, hwtstamp); }
SEC("tc") int exists_old_missing(struct __sk_buff *skb) { return bpf_core_field_exists(struct __sk_buff___old, no_such_field); }
SEC("tc") int signed_sock_rx_queue(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct bpf_sock *)0)->rx_queue_mapping, FIELD_SIGNED); }
SEC("tc") int signed_tcphdr_source(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct tcphdr *)0)->source, FIELD_SIGNED); }
SEC("tc") int lshift_iphdr_version(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct iphdr *)0)->version, BPF_FIELD_LSHIFT_U64); }
SEC("tc") int rshift_iphdr_version(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct iphdr *)0)->version, BPF_FIELD_RSHIFT_U64); }
SEC("tc") int lshift_tcphdr_fin(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct tcphdr *)0)->fin, BPF_FIELD_LSHIFT_U64); }
SEC("tc") int rshift_tcphdr_fin(struct __sk_buff *skb) { return __builtin_preserve_field_info(((struct tcphdr *)0)->fin, BPF_FIELD_RSHIFT_U64); }
SEC("tc") int tid_local_iphdr(struct __sk_buff *skb) { return bpf_core_type_id_local(struct iphdr); }
SEC("tc") int tid_kernel_iphdr(struct __sk_buff *skb) { return bpf_core_type_id_kernel(struct iphdr); }
SEC("tc") int tid_kernel_missing(struct __sk_buff *skb) { return bpf_core_type_id_kernel(struct clsbpf_missing); }
SEC("tc") int texists_dynptr(struct __sk_buff *skb) { return bpf_core_type_exists(struct bpf_dynptr); }
SEC("tc") int texists_sk_buff(struct __sk_buff *skb) { return bpf_core_type_exists(struct sk_buff); }
SEC("tc") int texists_missing(struct __sk_buff *skb) { return bpf_core_type_exists(struct clsbpf_missing); }
SEC("tc") int tsize_ipv6hdr(struct __sk_buff *skb) { return bpf_core_type_size(struct ipv6hdr); }
SEC("tc") int tsize_skb(struct __sk_buff *skb) { return bpf_core_type_size(struct __sk_buff); }
SEC("tc") int eexists_store_bytes(struct __sk_buff *skb) { return bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_skb_store_bytes); }
SEC("tc") int eexists_missing(struct __sk_buff *skb) { return bpf_core_enum_value_exists(enum bpf_func_id___x, BPF_FUNC_clsbpf_not_real___x); }
SEC("tc") int evalue_adj_room_mac(struct __sk_buff *skb) { return bpf_core_enum_value(enum bpf_adj_room_mode, BPF_ADJ_ROOM_MAC); }
SEC("tc") int evalue_old_flavor(struct __sk_buff *skb) { return bpf_core_enum_value(enum bpf_adj_room_mode___old, BPF_ADJ_ROOM_MAC___old); }

// A relocation that cannot resolve, guarded by an existence check: the
// instruction is poisoned and never reached.
SEC("tc") int poison_enum_guarded(struct __sk_buff *skb)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id___x, BPF_FUNC_clsbpf_not_real___x))
		return bpf_core_enum_value(enum bpf_func_id___x, BPF_FUNC_clsbpf_not_real___x);
	return 77;
}

SEC("tc") int poison_field_guarded(struct __sk_buff *skb)
{
	struct __sk_buff___old *old = (void *)skb;

	if (bpf_core_field_exists(old->no_such_field))
		return old->no_such_field;
	return old->mark + 1;
}

// The local field is 8 bytes, the kernel's 4: an unsigned load shrinks.
SEC("tc") int memsz_wide_mark(struct __sk_buff *skb)
{
	struct __sk_buff___wide *w = (void *)skb;

	return w->mark == 0 ? 5 : 6;
}

// The same with a signed field: the load cannot shrink and is poisoned,
// reachable, so the verifier rejects the program.
SEC("tc") int memsz_signed_mark(struct __sk_buff *skb)
{
	struct __sk_buff___signed *s = (void *)skb;

	return s->mark == 0 ? 5 : 6;
}

char LICENSE[] SEC("license") = "GPL";
