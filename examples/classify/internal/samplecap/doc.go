// Package samplecap builds the sample capture that examples/classify embeds:
// a small, deterministic mix of the traffic a host sees (IPv4 and IPv6 TCP
// handshakes and data, DNS, QUIC-like UDP, ICMP, ARP, an 802.1Q-tagged
// flow, a spanning-tree frame and a frame cut short by the snap length),
// written as a classic pcap file with Ethernet framing.
//
// Everything is fixed: addresses, ports, payload bytes (from a seeded
// generator) and timestamps, so the same bytes come out on every run and
// `go generate` reproduces the committed file exactly.
//
// # Concurrency, errors and limits
//
// Frames and Write build everything afresh on each call and are safe for
// concurrent use; they fail only if gopacket refuses to serialize a layer
// or the writer fails. The capture is Ethernet only (LINKTYPE_ETHERNET).
package samplecap
