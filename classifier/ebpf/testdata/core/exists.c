// bpf_core_field_exists, bpf_core_type_exists and enum value guards: the
// program reads a field the kernel lacks only in a branch its guard
// rules out, so the poisoned access never runs.
#include "tc.h"

struct __sk_buff___future {
	__u32 len;
	__u32 flow_label_v9;
} __attribute__((preserve_access_index));

struct sk_buff_tail___local {
	int nonexistent_member;
} __attribute__((preserve_access_index));

enum bpf_adj_room_mode___local {
	BPF_OK___local = 0,
	BPF_FUTURE_CODE___local = 1234,
};

SEC("tc")
int exists_tc(struct __sk_buff *skb)
{
	struct __sk_buff___future *f = (void *)skb;
	__u32 r = 0;

	if (bpf_core_field_exists(f->flow_label_v9))
		r += f->flow_label_v9;
	else
		r += 1;
	if (bpf_core_field_exists(skb->hwtstamp))
		r += 2;
	if (bpf_core_field_exists(skb->tstamp_type))
		r += 4 + skb->tstamp_type;
	if (bpf_core_type_exists(struct bpf_sock))
		r += 8;
	if (bpf_core_type_exists(struct sk_buff_tail___local))
		r += 16;
	if (bpf_core_enum_value_exists(enum bpf_adj_room_mode___local, BPF_FUTURE_CODE___local))
		r += 32;
	if (bpf_core_enum_value_exists(enum bpf_adj_room_mode, BPF_ADJ_ROOM_MAC))
		r += 64 + bpf_core_enum_value(enum bpf_adj_room_mode, BPF_ADJ_ROOM_MAC);
	if (bpf_core_type_size(struct ethhdr) == 14)
		r += 256;
	skb->cb[0] = r;
	skb->cb[1] = bpf_core_field_offset(skb->hwtstamp) | bpf_core_field_size(skb->tstamp_type) << 16;
	return TC_ACT_OK;
}
