#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#define SEC(n) __attribute__((section(n), used))
SEC("classifier") int cls(struct __sk_buff *skb) {
	if (skb->protocol == __builtin_bswap16(0x0800)) { skb->tc_classid = 0x10020; return TC_ACT_OK; }
	return TC_ACT_UNSPEC;
}
char _license[] SEC("license") = "GPL";
