package main

import _ "embed"

// defaultObject is the name the default set gives the embedded eBPF
// object; it is also where the object lies next to this file, so tc run
// in this directory loads the same object.
const defaultObject = "testdata/arp.o"

// defaultObjectData is testdata/arp.o.
//
//go:embed testdata/arp.o
var defaultObjectData []byte

// The default filters. Each bytecode string is what
//
//	tcpdump -ddd -y EN10MB EXPRESSION | tr '\n' ','
//
// prints for the expression named above it (tcpdump 4.99.3, libpcap 1.10),
// with one change: tcpdump's "match" return, ret #262144 (its snap length,
// "6 0 0 262144"), is replaced by ret #-1 ("6 0 0 4294967295"). cls_bpf in
// classid mode reads any other non-zero return as the classid itself, so
// the unchanged bytecode would put every match in class 4: (0x40000)
// whatever classid the filter names; -1 selects the filter's classid.
// TestDefaultFiltersMatchTcpdump regenerates them when tcpdump is
// installed. One filter is an eBPF object instead, compiled from
// testdata/arp.c by testdata/build.sh and embedded, as operators load
// theirs with `bpf da obj FILE sec classifier`.
var defaultFilters = []struct {
	expr string // the tcpdump expression
	desc string
	spec string // tc filter arguments
}{
	{
		expr: "tcp dst port 80 or tcp dst port 443",
		desc: "web: tcp dst port 80 or tcp dst port 443",
		spec: `protocol all pref 1 bpf bytecode "17,40 0 0 12,21 0 4 34525,48 0 0 20,21 0 12 6,40 0 0 56,21 9 8 80,21 0 9 2048,48 0 0 23,21 0 7 6,40 0 0 20,69 5 0 8191,177 0 0 14,72 0 0 16,21 1 0 80,21 0 1 443,6 0 0 4294967295,6 0 0 0" classid 1:10`,
	},
	{
		expr: "tcp dst port 22",
		desc: "ssh: tcp dst port 22",
		spec: `protocol all pref 2 bpf bytecode "16,40 0 0 12,21 0 4 34525,48 0 0 20,21 0 11 6,40 0 0 56,21 8 9 22,21 0 8 2048,48 0 0 23,21 0 6 6,40 0 0 20,69 4 0 8191,177 0 0 14,72 0 0 16,21 0 1 22,6 0 0 4294967295,6 0 0 0" classid 1:20`,
	},
	{
		expr: "udp port 53",
		desc: "dns: udp port 53",
		spec: `protocol all pref 3 bpf bytecode "20,40 0 0 12,21 0 6 34525,48 0 0 20,21 0 15 17,40 0 0 54,21 12 0 53,40 0 0 56,21 10 11 53,21 0 10 2048,48 0 0 23,21 0 8 17,40 0 0 20,69 6 0 8191,177 0 0 14,72 0 0 14,21 2 0 53,72 0 0 16,21 0 1 53,6 0 0 4294967295,6 0 0 0" classid 1:30`,
	},
	{
		expr: "udp port 443",
		desc: "quic: udp port 443",
		spec: `protocol all pref 4 bpf bytecode "20,40 0 0 12,21 0 6 34525,48 0 0 20,21 0 15 17,40 0 0 54,21 12 0 443,40 0 0 56,21 10 11 443,21 0 10 2048,48 0 0 23,21 0 8 17,40 0 0 20,69 6 0 8191,177 0 0 14,72 0 0 14,21 2 0 443,72 0 0 16,21 0 1 443,6 0 0 4294967295,6 0 0 0" classid 1:40`,
	},
	{
		expr: "icmp or icmp6",
		desc: "icmp: icmp or icmp6",
		spec: `protocol all pref 5 bpf bytecode "12,40 0 0 12,21 0 2 2048,48 0 0 23,21 6 7 1,21 0 6 34525,48 0 0 20,21 3 0 58,21 0 3 44,48 0 0 54,21 0 1 58,6 0 0 4294967295,6 0 0 0" classid 1:50`,
	},
	{
		expr: "ip or ip6",
		desc: "other ip: ip or ip6",
		spec: `protocol all pref 6 bpf bytecode "5,40 0 0 12,21 1 0 2048,21 0 1 34525,6 0 0 4294967295,6 0 0 0" classid 1:90`,
	},
	{
		expr: "arp", // an eBPF program: not checked against tcpdump
		desc: "arp (eBPF, testdata/arp.c): skb->protocol == ETH_P_ARP",
		spec: `protocol all pref 7 bpf da obj ` + defaultObject + ` sec classifier classid 1:`,
	},
	{
		expr: "", // the empty expression: every frame
		desc: "catch-all: every other frame",
		spec: `protocol all pref 8 bpf bytecode "1,6 0 0 4294967295" classid 1:99`,
	},
}
