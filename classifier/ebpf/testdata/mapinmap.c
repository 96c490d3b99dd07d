// A map of maps: an outer array whose slots hold per-tenant counter
// arrays; the packet's mark picks the tenant.
#include "common.h"

struct tenant {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} tenant_a SEC(".maps"), tenant_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct tenant);
} tenants SEC(".maps") = {
	.values = {[0] = &tenant_a, [1] = &tenant_b},
};

SEC("tc")
int per_tenant(struct __sk_buff *skb)
{
	__u32 t = skb->mark & 1, k = skb->len & 3;
	void *inner = bpf_map_lookup_elem(&tenants, &t);
	__u64 *v;

	if (!inner)
		return TC_ACT_SHOT;
	v = bpf_map_lookup_elem(inner, &k);
	if (!v)
		return TC_ACT_SHOT;
	__sync_fetch_and_add(v, 1);
	return TC_ACT_OK;
}
