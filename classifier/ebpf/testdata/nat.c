// A NAT-style rewrite: the IPv4 destination address and TCP/UDP
// destination port are rewritten with skb_store_bytes, and the IP and L4
// checksums fixed with l3_csum_replace and l4_csum_replace.
#include "common.h"
#include <stddef.h>

#define IP_DST_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define TCP_CSUM_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, check))
#define TCP_DPORT_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, dest))
#define UDP_CSUM_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, check))
#define UDP_DPORT_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct udphdr, dest))

const volatile __u32 new_addr = 0x0a000063; /* 10.0.0.99, host order */
const volatile __u16 new_port = 8080;

SEC("tc")
int nat(struct __sk_buff *skb)
{
	__u32 old_addr, addr = bpf_htonl(new_addr);
	__u16 old_port, port = bpf_htons(new_port);
	__u8 proto;
	int csum_off, port_off;
	IPV4(skb, ip, end, TC_ACT_OK);

	proto = ip->protocol;
	old_addr = ip->daddr;
	if (proto == IPPROTO_TCP) {
		csum_off = TCP_CSUM_OFF;
		port_off = TCP_DPORT_OFF;
	} else if (proto == IPPROTO_UDP) {
		csum_off = UDP_CSUM_OFF;
		port_off = UDP_DPORT_OFF;
	} else {
		return TC_ACT_OK;
	}
	if (bpf_skb_load_bytes(skb, port_off, &old_port, sizeof(old_port)) < 0)
		return TC_ACT_SHOT;
	bpf_l4_csum_replace(skb, csum_off, old_addr, addr, BPF_F_PSEUDO_HDR | sizeof(addr) |
			    (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0));
	bpf_l4_csum_replace(skb, csum_off, old_port, port, sizeof(port) |
			    (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0));
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr, addr, sizeof(addr));
	bpf_skb_store_bytes(skb, IP_DST_OFF, &addr, sizeof(addr), 0);
	bpf_skb_store_bytes(skb, port_off, &port, sizeof(port), 0);
	return TC_ACT_OK;
}
