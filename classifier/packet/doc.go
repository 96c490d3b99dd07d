// Package packet is the packet model every engine, action and the
// classifier share: a flat stand-in for the kernel's struct sk_buff as a tc
// program sees it.
//
// # The model
//
// A Packet owns one byte buffer laid out as the kernel lays out an skb:
//
//	| headroom | metadata (data_meta) | frame from the MAC header ... | tailroom |
//	                                  ^ data            ^ linear end  ^ end
//
// The frame starts at the MAC header, as it does while any tc program runs
// (on ingress the kernel pushes the link-layer header back for the run; the
// classifier does the same with Push and Pull). The bytes between data and
// the linear end are what direct packet access reaches (__sk_buff data to
// data_end); the bytes after it stand for the kernel's paged fragments, which
// only helpers and classic loads reach. By default the whole frame is linear.
//
// Metadata fields (mark, priority, VLAN tag, hash, cb[], checksum state,
// timestamps, tunnel key, ...) are plain exported fields, so engines read and
// write them directly with no call and no copy. Their widths are the
// kernel's: tc_classid and tc_index are 16 bits, as in struct qdisc_skb_cb
// and struct sk_buff.
//
// # Room to grow
//
// A new Packet keeps Headroom bytes in front of the frame and Tailroom bytes
// behind it, so helpers and actions that push headers (VLAN push, encap) or
// grow the tail need no allocation in the common case. When a push or put
// needs more room than is left, the buffer is reallocated with room to spare,
// as the kernel's pskb_expand_head does; no operation may make the frame
// longer than MaxLen, and one that would fails with an error instead.
//
// # Ways in
//
// SetFrame builds the packet as BPF_PROG_TEST_RUN builds it: the frame as
// given, Protocol from its header, no device, an in-frame VLAN tag left in
// place; SetL3 holds a bare IP packet the same way. Receive and Transmit build it as the kernel's datapath hands it to
// tc ingress and egress on a Device: pkt_type from the destination address
// as eth_type_trans computes it (Device.PktType), ifindex and skb_iif, the
// VLAN tag moved into the offload fields on receive (UntagVLAN), and the
// qdisc's wire length. ReceiveL3 and TransmitL3 do the same for bare IP
// packets on L3 devices such as TUN. Any field may be set directly
// afterwards.
//
// # Reuse and concurrency
//
// Every constructor resets a Packet for the next frame (all metadata but
// Slot) and reuses its buffer, so a Packet kept per worker costs no
// allocation per frame. A Packet is not
// safe for concurrent use: one goroutine runs one packet at a time, as one
// CPU runs one skb.
//
// # Errors
//
// Bad input is an error, never a panic, and a failed operation leaves the
// packet as it was. Every error wraps the errno of the kernel path it
// mirrors, so errors.Is works on both: ErrTooLong (EMSGSIZE), ErrOutOfRange
// (EFAULT), ErrTruncated and ErrNoVLAN (EINVAL), and EEXIST for a second
// offloaded VLAN tag.
//
// # Limits
//
// A frame holds at most MaxLen bytes and the metadata area at most
// MaxMetaLen. Only one VLAN tag can be offloaded, as in struct sk_buff; an
// inner tag stays in the frame. The transmit path's own parsing (an
// AF_PACKET sender naming skb->protocol, GSO, checksum offload state) is not
// modelled: set those fields directly.
//
// # Kernel sources
//
// The layout follows include/linux/skbuff.h and the __sk_buff view in
// net/core/filter.c; protocol and pkt_type follow eth_type_trans
// (net/ethernet/eth.c) and eth_skb_pkt_type (include/linux/etherdevice.h);
// VLAN untagging follows skb_vlan_untag (net/core/skbuff.c) and
// vlan_set_encap_proto (include/linux/if_vlan.h); the receive and transmit
// metadata follow __netif_receive_skb_core and __dev_queue_xmit
// (net/core/dev.c). The package's kernel tests compare all of it with what a
// SCHED_CLS program reads under BPF_PROG_TEST_RUN, at clsact on a veth
// pair and at clsact ingress of a TUN device.
package packet
