// A kfunc call on a path the program takes, and a poisoned CO-RE access
// (a field the target lacks) on another, each reachable by its own
// program: the library refuses both where the kernel verifier would
// reject them, and loads the guarded forms in weak.c and exists.c.
#include "tc.h"

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr) __ksym;

struct __sk_buff___future {
	__u32 flow_label_v9;
} __attribute__((preserve_access_index));

SEC("tc")
int kfunc_tc(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;

	if (skb->len > 1000000)
		return TC_ACT_SHOT;
	return bpf_dynptr_from_skb(skb, 0, &ptr) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int poison_tc(struct __sk_buff *skb)
{
	struct __sk_buff___future *f = (void *)skb;

	return f->flow_label_v9;
}
