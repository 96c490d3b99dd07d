// Header parsing in the style of Cilium's datapath on vmlinux.h types:
// Ethernet, an optional 802.1Q tag, IPv4 or IPv6, then TCP or UDP ports,
// every header field a CO-RE relocation; the verdict and a flow summary
// go to the mark and cb.
#include "tc.h"

static __always_inline int l4_ports(struct __sk_buff *skb, void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > end)
			return TC_ACT_SHOT;
		skb->cb[2] = bpf_ntohs(tcp->source) << 16 | bpf_ntohs(tcp->dest);
		skb->cb[3] = tcp->syn | tcp->ack << 1 | tcp->fin << 2 | tcp->rst << 3;
		return tcp->rst ? TC_ACT_SHOT : TC_ACT_OK;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > end)
			return TC_ACT_SHOT;
		skb->cb[2] = bpf_ntohs(udp->source) << 16 | bpf_ntohs(udp->dest);
		skb->cb[3] = bpf_ntohs(udp->len);
		return TC_ACT_OK;
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int parse_tc(struct __sk_buff *skb)
{
	void *end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	struct ethhdr *eth = data;
	__u16 proto;
	void *l3;

	if ((void *)(eth + 1) > end)
		return TC_ACT_SHOT;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > end)
			return TC_ACT_SHOT;
		skb->cb[4] = bpf_ntohs(vh->h_vlan_TCI) & 0xfff;
		proto = vh->h_vlan_encapsulated_proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end)
			return TC_ACT_SHOT;
		skb->cb[0] = bpf_ntohl(ip->saddr);
		skb->cb[1] = bpf_ntohl(ip->daddr);
		skb->mark = 4;
		return l4_ports(skb, (void *)ip + ip->ihl * 4, end, ip->protocol);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return TC_ACT_SHOT;
		skb->cb[0] = bpf_ntohl(ip6->saddr.in6_u.u6_addr32[3]);
		skb->cb[1] = bpf_ntohl(ip6->daddr.in6_u.u6_addr32[3]);
		skb->mark = 6 | ip6->hop_limit << 8;
		return l4_ports(skb, ip6 + 1, end, ip6->nexthdr);
	}
	return TC_ACT_UNSPEC;
}
