// firewall is the tc program the testing example checks: it drops TCP to
// port 23 (telnet), marks DNS queries (UDP to port 53) with 0x53, rewrites
// TCP port 8080 to 80 with the checksum helpers, and counts its decisions
// in an array map (0 passed, 1 dropped, 2 marked, 3 rewritten).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

enum { PASSED, DROPPED, MARKED, REWRITTEN, NCOUNTERS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#define DPORT_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, dest))
#define TCSUM_OFF (ETH_HLEN + sizeof(struct iphdr) + offsetof(struct tcphdr, check))

static __always_inline int count(__u32 what, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &what);

	if (n)
		__sync_fetch_and_add(n, 1);
	return verdict;
}

SEC("tc")
int firewall(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return count(PASSED, TC_ACT_OK);

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);
		__be16 from = bpf_htons(8080), to = bpf_htons(80);

		if ((void *)(tcp + 1) > end)
			return count(PASSED, TC_ACT_OK);
		if (tcp->dest == bpf_htons(23))
			return count(DROPPED, TC_ACT_SHOT);
		if (tcp->dest == from) {
			bpf_l4_csum_replace(skb, TCSUM_OFF, from, to, sizeof(to));
			bpf_skb_store_bytes(skb, DPORT_OFF, &to, sizeof(to), 0);
			return count(REWRITTEN, TC_ACT_OK);
		}
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > end)
			return count(PASSED, TC_ACT_OK);
		if (udp->dest == bpf_htons(53)) {
			skb->mark = 0x53;
			return count(MARKED, TC_ACT_OK);
		}
	}
	return count(PASSED, TC_ACT_OK);
}
