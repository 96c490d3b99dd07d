// A program that prints with bpf_trace_printk, a GPL-only helper.
#include "common.h"

SEC("tc")
int trace(struct __sk_buff *skb)
{
	bpf_printk("len %u mark %u", skb->len, skb->mark);
	return TC_ACT_OK;
}
