/* Shared definitions of the test programs: packet headers and tc verdicts. */
#ifndef CLSBPF_TEST_COMMON_H
#define CLSBPF_TEST_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

char LICENSE[] SEC("license") = "GPL";

/* ipv4 returns the IPv4 header of an Ethernet frame, or 0. */
static __always_inline struct iphdr *ipv4(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return 0;
	return ip;
}

#endif
