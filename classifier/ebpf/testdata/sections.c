// Programs in the other section names tc objects use: tcx hooks and a
// tc action. None calls a helper.
#include "common.h"

#define TCX_NEXT (-1)
#define TCX_PASS 0
#define TCX_DROP 2
#define TC_ACT_PIPE 3

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb)
{
	skb->tc_classid = 0x55;
	return skb->len > 100 ? TCX_DROP : TCX_PASS;
}

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb)
{
	return skb->protocol == bpf_htons(ETH_P_IP) ? TCX_PASS : TCX_NEXT;
}

SEC("action")
int act(struct __sk_buff *skb)
{
	skb->mark = 0x77 + skb->len;
	skb->priority = skb->pkt_type;
	return TC_ACT_PIPE;
}
