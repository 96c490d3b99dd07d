// Global configuration in .rodata, set by the loader before load
// (const volatile, as libbpf skeletons do), with a counter in .bss.
#include "tc.h"

const volatile __u16 blocked_port = 0;
const volatile __u32 mark_value = 0x1234;
const volatile bool count_only = false;
__u64 dropped = 0;

SEC("tc")
int rodata_tc(struct __sk_buff *skb)
{
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)(long)skb->data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP || ip->ihl != 5)
		return TC_ACT_OK;
	if (blocked_port && tcp->dest == bpf_htons(blocked_port)) {
		__sync_fetch_and_add(&dropped, 1);
		skb->mark = mark_value;
		return count_only ? TC_ACT_OK : TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}
