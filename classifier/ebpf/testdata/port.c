// A port classifier: a hash map from destination port to a classid,
// with a per-port packet counter updated atomically.
#include "common.h"

struct port_val {
	__u32 classid;
	__u32 pad;
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, struct port_val);
} ports SEC(".maps");

SEC("classifier")
int port_classifier(struct __sk_buff *skb)
{
	struct port_val *v;
	__u16 port;
	IPV4(skb, ip, end, 0);

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);
		if ((void *)(tcp + 1) > end)
			return 0;
		port = bpf_ntohs(tcp->dest);
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > end)
			return 0;
		port = bpf_ntohs(udp->dest);
	} else {
		return 0;
	}
	v = bpf_map_lookup_elem(&ports, &port);
	if (!v)
		return -1;
	__sync_fetch_and_add(&v->packets, 1);
	return v->classid;
}
