// A program reading a kconfig extern: refused until kconfig lands,
// naming the extern.
#include "common.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("tc")
int kconfig_version(struct __sk_buff *skb)
{
	return LINUX_KERNEL_VERSION > 0x60000 ? TC_ACT_OK : TC_ACT_SHOT;
}
