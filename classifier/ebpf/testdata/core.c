// A program with a CO-RE relocation: the library refuses it until CO-RE
// lands, naming the relocation.
#include "common.h"

struct __sk_buff___local {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
} __attribute__((preserve_access_index));

SEC("tc")
int core_mark(struct __sk_buff *skb)
{
	struct __sk_buff___local *s = (void *)skb;

	return s->mark;
}
