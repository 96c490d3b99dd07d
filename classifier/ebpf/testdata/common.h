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

/*
 * IPV4 declares ip, the IPv4 header (without options) of the Ethernet
 * frame, and end, the end of the packet data; the enclosing function
 * returns ret when the frame holds no such header. The early return keeps
 * ip a packet pointer on every path (no NULL to join with).
 */
#define IPV4(skb, ip, end, ret)						\
	void *end = (void *)(long)(skb)->data_end;			\
	struct ethhdr *eth_##ip = (void *)(long)(skb)->data;		\
	struct iphdr *ip = (void *)(eth_##ip + 1);			\
	if ((void *)(ip + 1) > end)					\
		return ret;						\
	if (eth_##ip->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)	\
		return ret

#endif
