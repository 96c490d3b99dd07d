// A tc program in the style people write against vmlinux.h: every
// context and header access carries a CO-RE relocation. It parses
// Ethernet and IPv4 with direct packet access, reads a bitfield with
// BPF_CORE_READ_BITFIELD, writes skb->mark and skb->priority, and uses a
// local flavor of __sk_buff. Built by go generate.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800

struct __sk_buff___v2 {
	__u32 len;
	__u32 tc_classid;
	__u32 not_in_any_kernel;
} __attribute__((preserve_access_index));

SEC("tc")
int parse_ipv4(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct __sk_buff___v2 *v2 = (void *)skb;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__u32 ihl, ret;

	if ((void *)(eth + 1) > data_end)
		return 1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 2;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return 3;
	ihl = BPF_CORE_READ_BITFIELD(iph, ihl);
	ret = (ihl << 24) | ((__u32)iph->ttl << 16) | ((__u32)iph->protocol << 8) | (iph->daddr >> 24);
	skb->mark = iph->saddr;
	skb->priority = v2->len;
	if (bpf_core_field_exists(v2->not_in_any_kernel))
		skb->priority = v2->not_in_any_kernel;
	skb->cb[1] = bpf_core_field_size(iph->daddr);
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
