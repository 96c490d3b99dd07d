// __weak externs as libbpf resolves them when the kernel lacks them:
// kconfig values default to zero, a __ksym variable's address to 0, and
// a kfunc that bpf_ksym_exists finds absent is never called.
#include "tc.h"

#ifndef bpf_ksym_exists
/* As in newer libbpf's bpf_helpers.h. */
#define bpf_ksym_exists(sym) ({ _Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); !!sym; })
#endif

extern int CONFIG_CLSBPF_ABSENT __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[4] __kconfig __weak;
extern unsigned char CONFIG_CLSBPF_CHAR __kconfig __weak;
extern enum libbpf_tristate CONFIG_CLSBPF_TRI __kconfig __weak;
extern short CONFIG_CLSBPF_SHORT __kconfig __weak;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig __weak;
extern int LINUX_CLSBPF_FUTURE __kconfig __weak;

extern void bpf_prog_active __ksym __weak;
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr) __ksym __weak;

SEC("tc")
int weak_tc(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;

	skb->cb[0] = CONFIG_CLSBPF_ABSENT;
	skb->cb[1] = CONFIG_BPF_SYSCALL | CONFIG_CLSBPF_CHAR << 8 | CONFIG_CLSBPF_TRI << 16;
	skb->cb[2] = CONFIG_DEFAULT_HOSTNAME[0] | CONFIG_DEFAULT_HOSTNAME[1] << 8 |
		     CONFIG_DEFAULT_HOSTNAME[2] << 16 | CONFIG_DEFAULT_HOSTNAME[3] << 24;
	skb->cb[3] = (unsigned short)CONFIG_CLSBPF_SHORT | LINUX_HAS_SYSCALL_WRAPPER << 16 |
		     (LINUX_CLSBPF_FUTURE & 0xff) << 24;
	skb->cb[4] = LINUX_KERNEL_VERSION;
	skb->mark = &bpf_prog_active ? 1 : 0;
	if (bpf_ksym_exists(bpf_dynptr_from_skb)) {
		skb->mark |= 2;
		bpf_dynptr_from_skb(skb, 0, &ptr);
	}
	return TC_ACT_OK;
}
