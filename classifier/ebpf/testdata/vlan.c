// VLAN push/pop: untagged IPv4 packets get VLAN 100 pushed, packets with
// an offloaded tag have it popped; the mark says what happened.
#include "common.h"

SEC("tc")
int vlan(struct __sk_buff *skb)
{
	if (skb->vlan_present) {
		skb->cb[0] = skb->vlan_tci;
		if (bpf_skb_vlan_pop(skb))
			return TC_ACT_SHOT;
		skb->mark = 2;
		return TC_ACT_OK;
	}
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 100))
		return TC_ACT_SHOT;
	skb->mark = 1;
	return TC_ACT_OK;
}
