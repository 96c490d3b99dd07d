// A program using global variables (.data, .bss, .rodata) and a
// bpf-to-bpf call; it needs no helper.
#include "common.h"

const volatile __u32 mark_base = 0x100;	/* .rodata */
const volatile __u8 weights[4] = {1, 2, 3, 5};
__u64 packets = 7;			/* .data */
__u64 bytes;				/* .bss */
__u32 last_len;				/* .bss */

static __noinline __u32 score(struct __sk_buff *skb, __u32 salt)
{
	__u32 s = salt;

	if (skb->len > 64)
		s += weights[skb->len & 3];
	else
		s += weights[0];
	return s * 3 + skb->priority;
}

SEC("tc")
int globals(struct __sk_buff *skb)
{
	packets++;
	bytes += skb->len;
	last_len = skb->len;
	skb->mark = mark_base + score(skb, skb->cb[0]);
	skb->cb[1] = (__u32)packets;
	if (packets % 3 == 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
