// CO-RE type_matches relocations (bpf_core_type_matches), which clang
// emits from version 15. Built by go generate.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

// Same name as the kernel's ethhdr without the flavor, different layout.
struct ethhdr___bad {
	__u32 h_proto;
} __attribute__((preserve_access_index));

// Type matching compares names all the way down, integers included:
// clang calls a 16-bit unsigned "unsigned short" where the kernel's BTF
// (built from gcc's DWARF) says "short unsigned int", so the kernel's own
// ethhdr from vmlinux.h does not match, while these subsets, whose
// integers both compilers name alike, do.
struct ethhdr___macs {
	unsigned char h_dest[6];
	unsigned char h_source[6];
} __attribute__((preserve_access_index));

struct bpf_tunnel_key___lite {
	__u32 tunnel_id;
	__u8 tunnel_tos;
} __attribute__((preserve_access_index));

// Members inside an anonymous union do not match by name: saddr sits in
// one in the kernel's iphdr.
struct iphdr___subset {
	__u8 ttl;
	__be32 saddr;
} __attribute__((preserve_access_index));

// The kernel's tcphdr has source as __be16; a 32-bit local does not match.
struct tcphdr___wide {
	__u32 source;
} __attribute__((preserve_access_index));

SEC("tc") int tmatch_ethhdr(struct __sk_buff *skb) { return bpf_core_type_matches(struct ethhdr); }
SEC("tc") int tmatch_ethhdr_bad(struct __sk_buff *skb) { return bpf_core_type_matches(struct ethhdr___bad); }
SEC("tc") int tmatch_iphdr(struct __sk_buff *skb) { return bpf_core_type_matches(struct iphdr); }
SEC("tc") int tmatch_iphdr_subset(struct __sk_buff *skb) { return bpf_core_type_matches(struct iphdr___subset); }
SEC("tc") int tmatch_tcphdr_wide(struct __sk_buff *skb) { return bpf_core_type_matches(struct tcphdr___wide); }
SEC("tc") int tmatch_ethhdr_macs(struct __sk_buff *skb) { return bpf_core_type_matches(struct ethhdr___macs); }
SEC("tc") int tmatch_tunnel_key_lite(struct __sk_buff *skb) { return bpf_core_type_matches(struct bpf_tunnel_key___lite); }
SEC("tc") int tmatch_skb(struct __sk_buff *skb) { return bpf_core_type_matches(struct __sk_buff); }

char LICENSE[] SEC("license") = "GPL";
