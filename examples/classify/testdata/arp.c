// arp.o: the default set's eBPF filter, a direct-action tc program that
// gives ARP frames minor 0x60 (class 1:60 under "classid 1:") and leaves
// every other frame to the next filter. Built by build.sh.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define SEC(name) __attribute__((section(name), used))

SEC("classifier")
int arp(struct __sk_buff *skb)
{
	if (skb->protocol != __builtin_bswap16(0x0806)) /* ETH_P_ARP */
		return TC_ACT_UNSPEC;
	/* The minor: qdisc_skb_cb's tc_classid is 16 bits, and cls_bpf
	 * adds the major of the filter's classid (1: in the default set). */
	skb->tc_classid = 0x60;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
