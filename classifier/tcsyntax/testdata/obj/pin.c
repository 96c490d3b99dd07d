// pin.o: iproute2's struct bpf_elf_map with tc's pinning; loaded twice
// with one pin namespace, the two filters share both maps.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define SEC(n) __attribute__((section(n), used))

struct bpf_elf_map {
	__u32 type, size_key, size_value, max_elem, flags, id, pinning, inner_id, inner_idx;
};

struct bpf_elf_map SEC("maps") hits = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 8,
	.max_elem = 1,
	.pinning = 2, /* PIN_GLOBAL_NS */
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

SEC("classifier")
int count(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "GPL";
