// Command tun classifies the packets the kernel writes to a TUN device
// with tc filters and enforces the verdicts: a real packet path on Linux,
// the embedding example for TUN pipelines.
//
// It creates three kinds of TUN devices (root, or CAP_NET_ADMIN, needed):
// the input device, whose routed subnet applications send to; a pass
// device; and one device per redirect class. Every packet the kernel
// writes into the input device is classified; a passed packet is
// delivered into the pass device and a packet whose class has a redirect
// device into that one, each rewritten to come from the far side of the
// output device's subnet to its local address (ports kept), so the host's
// sockets on that address receive it; a dropped packet goes nowhere.
//
//	sudo go run ./examples/tun -in tin:10.9.0.1/24 -pass tpass:10.9.1.1/24 \
//	    -redirect 1:2=tred:10.9.2.1/24 \
//	    -rule "tc filter add dev tin ingress pref 2 bpf bytecode '4,32 0 0 16,21 0 1 168361987,6 0 0 4294967295,6 0 0 0' classid 1:2"
//
// On an interrupt it prints the filters as `tc -s filter show` does and
// the counters.
//
// # The model
//
// The devices are opened with IFF_TUN|IFF_NO_PI|IFF_VNET_HDR: packets are
// bare IP (no Ethernet header), each after a struct virtio_net_hdr. The
// input device advertises checksum offload (TUN_F_CSUM), so the kernel
// hands it UDP datagrams with partial checksums and
// VIRTIO_NET_HDR_F_NEEDS_CSUM. Each packet becomes a packet.Packet as the
// kernel's tun_get_user would build it on receipt (packet.ReceiveL3, then
// VnetHdr.Apply as virtio_net_hdr_to_skb: the partial checksum's start and
// offset, the GSO size and type), so filters see the skb state the kernel
// gives them. Before delivery a partial checksum is completed as
// skb_checksum_help does, and the rewrite recomputes both checksums;
// output devices get an empty virtio header. GSO packets are counted and
// not forwarded: the input device does not enable segmentation offloads.
//
// # Concurrency and limits
//
// One goroutine reads the input device (one queue); reading the header,
// classifying and delivering a packet allocates nothing. Only IPv4/UDP
// packets are delivered (the rewrite is UDP's); others are counted as not
// forwarded. Rules are fixed at start here; see examples/proxy for changes
// under traffic.
//
// # Sources
//
// drivers/net/tun.c (tun_get_user, tun_put_user), include/linux/virtio_net.h
// (virtio_net_hdr_to_skb), net/core/dev.c (skb_checksum_help); the rules
// follow iproute2's tc through classifier/tcsyntax.
package main
