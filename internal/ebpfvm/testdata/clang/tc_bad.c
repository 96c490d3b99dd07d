// SPDX-License-Identifier: MIT
// tc programs the kernel verifier refuses; the VM must refuse them too,
// with the same errno. Built by the test like tc.c.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	__u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end;
};

#define SEC(name) __attribute__((section(name), used))

// A variable index into the context.
SEC("tc")
int ctx_variable_index(struct __sk_buff *skb)
{
	__u32 i = skb->len & 3;
	return ((__u8 *)skb->cb)[i];
}

// A packet read with no bounds check.
SEC("tc")
int unchecked_packet(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;
	return data[12];
}

// A read one byte past the checked range.
SEC("tc")
int off_by_one(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;
	__u8 *end = (void *)(long)skb->data_end;
	if (data + 14 > end)
		return 0;
	return data[14];
}

// A write to a read-only context field.
SEC("tc")
int write_len(struct __sk_buff *skb)
{
	skb->len = 0;
	return 0;
}
