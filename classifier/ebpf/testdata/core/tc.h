/* Shared by the CO-RE test programs: what libbpf-style tc programs
 * include and define around vmlinux.h. */
#ifndef CLSBPF_CORE_TC_H
#define CLSBPF_CORE_TC_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif
