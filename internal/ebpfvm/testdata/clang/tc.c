// SPDX-License-Identifier: MIT
// tc classifiers compiled by clang for the VM's tests: realistic code
// generation (register allocation, spills, bounds checks, loops, calls)
// the hand-written programs do not show. Build:
//   clang -O2 -g -target bpf -c tc.c -o tc.o
// The test compiles this file itself when clang is installed.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
};

#define SEC(name) __attribute__((section(name), used))
#define __noinline __attribute__((noinline))

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

struct eth { __u8 dst[6], src[6]; __u16 proto; };
struct ip4 { __u8 vihl, tos; __u16 len, id, frag; __u8 ttl, proto; __u16 csum; __u32 saddr, daddr; };
struct tcp { __u16 sport, dport; __u32 seq, ack; __u8 off, flags; __u16 win, csum, urg; };

static __inline __u16 bswap16(__u16 x) { return (x >> 8) | (x << 8); }

// Direct packet access: IPv4/TCP to port 80 or 443 gets a mark and a class.
SEC("tc")
int parse_tcp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct eth *eth = data;
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->proto != bswap16(0x0800))
		return 1;
	struct ip4 *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
	if (ip->proto != 6 || (ip->frag & bswap16(0x1fff)))
		return 2;
	__u32 ihl = (ip->vihl & 0xf) * 4;
	if (ihl < 20)
		return 3;
	struct tcp *tcp = (void *)ip + ihl;
	if ((void *)(tcp + 1) > end)
		return 0;
	__u16 port = bswap16(tcp->dport);
	skb->mark = port | (tcp->flags << 16);
	skb->cb[0] = ip->saddr;
	if (port == 80 || port == 443)
		return 0x10000 | port;
	return -1;
}

// Legacy loads.
SEC("tc")
int ldabs_syn(struct __sk_buff *skb)
{
	if (load_half(skb, 12) != 0x0800 || load_byte(skb, 23) != 6)
		return 0;
	__u32 ihl = (load_byte(skb, 14) & 0xf) * 4;
	__u8 flags = load_byte(skb, 14 + ihl + 13);
	__u32 saddr = load_word(skb, 26);
	skb->priority = saddr;
	return (flags & 2) && (saddr >> 24) == 10;
}

// A bounded loop over packet bytes with a stack buffer.
SEC("tc")
int checksum_loop(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 buf[16];
	__u32 sum = 0, x = skb->cb[4];
	if (data + 48 > end)
		return 0;
	__builtin_memcpy(buf, data + 14, 16);
#pragma clang loop unroll(disable)
	for (int i = 0; i < 16; i++) {
		sum = (sum << 3) ^ (sum >> 29) ^ buf[i];
		x ^= (__u32)buf[i] << (i & 24);
	}
	skb->cb[4] = x;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 32; i += 4) {
		__u8 *p = data + 16 + i;
		if ((void *)(p + 1) > end)
			break;
		sum += *p * (i + 1);
	}
	skb->mark = sum;
	return sum & 0xff;
}

// bpf-to-bpf calls with pointer arguments into the caller's stack.
static __noinline __u32 mix(__u32 *state, __u32 v)
{
	*state = (*state ^ v) * 0x01000193;
	return *state >> 7;
}

static __noinline __u64 fold(struct __sk_buff *skb, __u32 seed)
{
	__u32 state = seed;
	__u32 r = mix(&state, skb->len);
	r += mix(&state, skb->cb[1]);
	r ^= mix(&state, skb->priority);
	return ((__u64)state << 32) | r;
}

SEC("tc")
int calls(struct __sk_buff *skb)
{
	skb->cb[1] = 0xabcdef;
	__u64 v = fold(skb, 2166136261u);
	skb->cb[2] = v >> 32;
	return (__u32)v;
}

// Narrow context accesses, a switch and mixed-width arithmetic (clang 14
// has no signed division for BPF).
SEC("tc")
int narrow(struct __sk_buff *skb)
{
	__u8 b = ((__u8 *)&skb->len)[1];
	__u16 h = ((__u16 *)&skb->mark)[0];
	skb->cb[3] = b;
	((__u16 *)skb->cb)[9] = h + 7;
	int s = (int)skb->len - 100;
	switch (skb->len & 7) {
	case 0: s *= 3; break;
	case 1: s = (unsigned)s / 7; break;
	case 2: s = (unsigned)s % 5; break;
	case 5: s = -s; break;
	default: s ^= 0x55;
	}
	return s >> 1;
}

struct ip6 { __u32 vtcfl; __u16 plen; __u8 nxt, hlim; __u8 saddr[16], daddr[16]; };
struct ext { __u8 nxt, len; __u8 pad[6]; };

// IPv6 with a walk over up to four extension headers, VLAN tags skipped.
SEC("tc")
int ipv6_walk(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct eth *eth = data;
	if ((void *)(eth + 1) > end)
		return 0;
	__u16 proto = eth->proto;
	void *p = eth + 1;
	if (proto == bswap16(0x8100)) {
		if (p + 4 > end)
			return 0;
		proto = *(__u16 *)(p + 2);
		p += 4;
	}
	if (proto != bswap16(0x86dd))
		return 1;
	struct ip6 *ip = p;
	if ((void *)(ip + 1) > end)
		return 0;
	__u8 nxt = ip->nxt;
	p = ip + 1;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 4; i++) {
		if (nxt != 0 && nxt != 43 && nxt != 60)
			break;
		struct ext *x = p;
		if ((void *)(x + 1) > end)
			return 0;
		nxt = x->nxt;
		p += 8;
	}
	skb->mark = nxt | (ip->hlim << 8);
	return nxt == 6 ? 7 : 2;
}

// Many live values: clang spills some of them, the context among them.
SEC("tc")
int pressure(struct __sk_buff *skb)
{
	__u32 a = skb->len, b = skb->mark, c = skb->priority, d = skb->cb[0];
	__u32 e = skb->cb[1], f = skb->cb[2], g = skb->cb[3], h = skb->cb[4];
	__u32 x = a * 3 + b, y = c ^ d, z = e + f * 5, w = g - h;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 8; i++) {
		x = (x << 1) ^ y ^ i;
		y = (y >> 3) + z;
		z = z * 7 + w;
		w ^= x + i;
		if (x & 0x100)
			skb->cb[0] ^= x;
	}
	skb->priority = x ^ y;
	skb->mark = z + w + a + b + c + d + e + f + g + h;
	return (x + y) & 0xffff;
}
