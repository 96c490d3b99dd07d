// An LPM-trie ACL: the source address's longest matching prefix decides
// whether the packet passes or is dropped; misses pass.
#include "common.h"

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} acl SEC(".maps");

SEC("tc")
int lpm_acl(struct __sk_buff *skb)
{
	struct lpm_key key = {.prefixlen = 32};
	__u32 *verdict;
	IPV4(skb, ip, end, TC_ACT_OK);

	key.addr = ip->saddr;
	verdict = bpf_map_lookup_elem(&acl, &key);
	if (!verdict)
		return TC_ACT_OK;
	skb->mark = *verdict;
	return *verdict ? TC_ACT_SHOT : TC_ACT_OK;
}
