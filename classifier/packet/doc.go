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
// # Reuse and concurrency
//
// SetFrame and SetL3 reset a Packet for the next frame and reuse its buffer,
// so a Packet kept per worker costs no allocation per frame. A Packet is not
// safe for concurrent use: one goroutine runs one packet at a time, as one
// CPU runs one skb.
package packet
