// kconfig-dependent code: LINUX_KERNEL_VERSION and CONFIG_* externs of
// every type libbpf fills (int, bool, tristate, char, string) choose
// what the program does.
#include "tc.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_NET_CLS_BPF __kconfig;
extern bool CONFIG_IPV6 __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig;
extern unsigned long long CONFIG_NR_CPUS __kconfig;

SEC("tc")
int kconfig_tc(struct __sk_buff *skb)
{
	skb->cb[0] = LINUX_KERNEL_VERSION;
	skb->cb[1] = CONFIG_HZ;
	skb->cb[2] = CONFIG_BPF_SYSCALL | CONFIG_NET_CLS_BPF << 1 | CONFIG_IPV6 << 8 |
		     CONFIG_DEFAULT_HOSTNAME[1] << 16 | CONFIG_DEFAULT_HOSTNAME[6] << 24;
	skb->cb[3] = CONFIG_NR_CPUS;
	if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 15, 0) && CONFIG_HZ > 100)
		skb->mark = skb->len * CONFIG_HZ;
	if (CONFIG_NET_CLS_BPF == TRI_MODULE)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
