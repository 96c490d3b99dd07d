// context copies the __sk_buff fields a test run sets into what the run
// returns (cb[0..4], mark, priority and R0), so that a test can hold the
// packets the kit builds to the kernel's BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int context(struct __sk_buff *skb)
{
	skb->cb[0] = skb->pkt_type;
	skb->cb[1] = skb->protocol;
	skb->cb[2] = skb->len;
	skb->cb[3] = skb->vlan_present | skb->vlan_tci << 8;
	skb->cb[4] = skb->ingress_ifindex;
	skb->mark = skb->queue_mapping | skb->tc_index << 16;
	skb->priority = skb->hash;
	return (long)skb->data_end - (long)skb->data;
}
