// Package csum computes Internet checksums (RFC 1071) and updates them
// incrementally (RFC 1624) exactly as the Linux kernel does on a
// little-endian 64-bit machine, so that engines and actions built on it
// leave the same bytes in a packet as the kernel would.
//
// # Model
//
// Values are kept in the kernel's representation. A Wsum is the kernel's
// __wsum: a 32-bit one's-complement partial sum whose lanes are the packet
// bytes read as little-endian words, exactly what csum_partial returns on
// x86-64. A folded 16-bit checksum (__sum16) is likewise the value whose
// little-endian store gives the checksum bytes in the packet: read and write
// checksum fields with Load16 and Store16, and 32-bit packet words (addresses,
// ports) that take part in an update with Load32. With these conventions the
// eBPF helpers that expose __wsum values (bpf_csum_diff, l3/l4_csum_replace)
// can return and accept the very numbers the kernel's do.
//
// Full sums: Partial (csum_partial), Fold (csum_fold), TCPUDPMagic and
// TCPUDPNoFold (the IPv4 pseudo-header), IPv6Magic (csum_ipv6_magic),
// IPFast (ip_fast_csum), CRC32c (sctp_compute_cksum). Incremental updates:
// Replace2, Replace4, ReplaceByDiff (csum_replace*), and the
// Proto* functions, which follow inet_proto_csum_replace4/16/_by_diff,
// including their handling of CHECKSUM_PARTIAL and CHECKSUM_COMPLETE
// packets.
//
// # Concurrency
//
// Pure functions; the Proto* functions write only the state they are
// handed.
//
// # Errors and limits
//
// Nothing here fails: callers bound their slices. The representation of a
// zero sum follows x86-64: Partial of all-zero data and a zero start is 0,
// any other sum lies in 1..0xFFFFFFFF.
//
// # Kernel sources
//
// arch/x86/lib/csum-partial_64.c, arch/x86/include/asm/checksum_64.h,
// include/net/checksum.h, lib/checksum.c, net/core/utils.c
// (inet_proto_csum_replace*), include/net/sctp/checksum.h.
package csum
