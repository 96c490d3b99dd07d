// A tail-call chain: the entry program jumps through a prog array by the
// IP protocol; each stage marks the packet and jumps to the next stage.
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

SEC("tc")
int tail_entry(struct __sk_buff *skb)
{
	skb->cb[0] = 1;
	IPV4(skb, ip, end, TC_ACT_OK);

	bpf_tail_call(skb, &jumps, ip->protocol == IPPROTO_TCP ? 1 : 2);
	skb->cb[0] = 99; /* no program in the slot */
	return TC_ACT_OK;
}

SEC("tc")
int tail_tcp(struct __sk_buff *skb)
{
	skb->cb[0] += 10;
	skb->mark = 6;
	bpf_tail_call(skb, &jumps, 3);
	return TC_ACT_OK;
}

SEC("tc")
int tail_other(struct __sk_buff *skb)
{
	skb->cb[0] += 20;
	skb->mark = 17;
	return TC_ACT_SHOT;
}

SEC("tc")
int tail_last(struct __sk_buff *skb)
{
	skb->cb[0] += 100;
	return TC_ACT_UNSPEC;
}
