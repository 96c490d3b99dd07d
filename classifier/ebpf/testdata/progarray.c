// A prog array whose slots the object itself fills (BTF .values), as
// libbpf and cilium/ebpf fill them at load.
#include "common.h"

SEC("tc")
int stage_one(struct __sk_buff *skb)
{
	skb->mark = 0x51;
	return TC_ACT_SHOT;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} stages SEC(".maps") = {
	.values = {[2] = (void *)&stage_one},
};

SEC("tc")
int dispatch(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &stages, skb->len > 60 ? 2 : 3);
	return TC_ACT_OK;
}
