// CO-RE reads of __sk_buff and of packet headers as vmlinux.h programs do
// them: every field access carries a relocation, the IPv4 header's
// bitfields are read with BPF_CORE_READ_BITFIELD, and field sizes and
// offsets come from bpf_core_field_size/bpf_core_field_offset.
#include "tc.h"

SEC("tc")
int skb_core(struct __sk_buff *skb)
{
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)(long)skb->data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 ihl, version;

	skb->cb[0] = skb->len;
	skb->cb[1] = skb->pkt_type | skb->ifindex << 8;
	skb->cb[2] = bpf_core_field_size(struct __sk_buff, tstamp) << 8 |
		     bpf_core_field_offset(struct __sk_buff, mark);
	if ((void *)(ip + 1) > end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	ihl = BPF_CORE_READ_BITFIELD(ip, ihl);
	version = BPF_CORE_READ_BITFIELD(ip, version);
	skb->cb[3] = version << 4 | ihl;
	skb->priority = bpf_ntohs(ip->tot_len) + ip->ttl;
	if (ihl != 5)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
