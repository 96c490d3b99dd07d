// A ringbuf and perf event producer: every IPv4 packet's addresses and
// length go to a ring buffer, and its first bytes to a perf event array.
#include "common.h"

struct event {
	__u32 saddr;
	__u32 daddr;
	__u32 len;
	__u32 mark;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} samples SEC(".maps");

SEC("tc")
int events_out(struct __sk_buff *skb)
{
	struct event e = {};
	IPV4(skb, ip, end, TC_ACT_OK);

	e.saddr = ip->saddr;
	e.daddr = ip->daddr;
	e.len = skb->len;
	e.mark = skb->mark;
	if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
		return TC_ACT_SHOT;
	bpf_perf_event_output(skb, &samples, BPF_F_CURRENT_CPU | ((__u64)34 << 32), &e, sizeof(e));
	return TC_ACT_OK;
}
