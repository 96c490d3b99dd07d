// Command proxy is a small UDP forwarder on loopback that classifies
// every datagram with tc filters, written exactly as for `tc filter add`,
// and forwards it to the upstream its class names; the embedding example
// for Go programs that move packets.
//
//	go run ./examples/proxy -listen 127.0.0.1:5300 \
//	    -upstream 1:1=127.0.0.1:5301 -upstream 1:2=127.0.0.1:5302 \
//	    -rule "tc filter add dev lo ingress pref 1 bpf bytecode '4,48 0 0 28,21 0 1 66,6 0 0 4294967295,6 0 0 0' classid 1:2" \
//	    -rule "tc filter add dev lo ingress pref 9 bpf bytecode '1,6 0 0 4294967295' classid 1:1" \
//	    -stdin
//
// With -stdin, tc filter commands typed while it serves (add, replace,
// change, del) change the rules under traffic; at the end of input, or on
// an interrupt, it prints the filters as `tc -s filter show` does and the
// datagrams and bytes per upstream and mark.
//
// # The model
//
// Each datagram is wrapped in an IPv4 and UDP header (from the client to
// the proxy, payload at byte 28) and handed to a classifier.Block as an L3
// device hands a packet to tc ingress (packet.ReceiveL3; no Ethernet
// header). The result decides: a drop (shot, stolen, trap, queued) ends
// the datagram; otherwise the class it selects names the upstream
// (-upstream CLASSID=ADDRESS), and datagrams no filter classifies, or
// whose class has no upstream, go to -default or are dropped. A mark the
// filters' actions set (skbedit mark) is counted per upstream. Replies
// from an upstream go back to the client from the proxy's address.
//
// # Concurrency
//
// Each worker owns a socket bound with SO_REUSEPORT to the listening
// address (the kernel keeps each flow on one socket), a packet.Packet and
// an execution slot (packet.Slot), so workers classify in parallel
// without locks; wrapping and classifying a datagram allocates nothing.
// Rule changes (Proxy.Apply) go through the Block's copy-on-write update:
// a datagram meets the rules before or after a change, never a mix.
//
// # Errors and limits
//
// A refused rule is reported with tcsyntax's error, which names the word
// at fault; a rule the kernel would refuse is refused with the kernel's
// errno. Only loopback addresses are served, IPv4 only. Flows are never
// expired. mirred has no devices to send to here.
//
// # Sources
//
// The rules follow iproute2's tc (classifier/tcsyntax) and the kernel's
// cls_bpf and act_* modules (classifier, action); the L3 receive path
// follows drivers/net/tun.c as packet.ReceiveL3 documents.
package main
