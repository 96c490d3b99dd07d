// iproute2's map definition: struct bpf_elf_map in section "maps" with
// tc's pinning, as `tc filter ... bpf obj` loads it. One counter array is
// pinned in the global namespace, one in the object's.
#include "common.h"

#define PIN_NONE 0
#define PIN_OBJECT_NS 1
#define PIN_GLOBAL_NS 2

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

struct bpf_elf_map SEC("maps") shared_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 4,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") own_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 4,
	.pinning = PIN_OBJECT_NS,
};

SEC("classifier")
int count(struct __sk_buff *skb)
{
	__u32 key = skb->len & 3;
	__u64 *v = bpf_map_lookup_elem(&shared_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&own_counts, &key);
	if (v)
		__sync_fetch_and_add(v, skb->len);
	return TC_ACT_OK;
}
