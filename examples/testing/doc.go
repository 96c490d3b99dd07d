// Package testingexample shows the tctest kit on a tc program written in C:
// testdata/firewall.c, compiled by clang into the committed
// testdata/firewall.o, drops TCP to port 23, marks DNS queries with 0x53,
// rewrites TCP port 8080 to 80 with the checksum helpers and counts its
// decisions in an array map. firewall_test.go is the file to copy: each
// case builds a packet from gopacket layers, runs the program, and checks
// the verdict, the output frame, the mark and the counters.
//
//	go test ./examples/testing
//
// `go generate ./examples/testing` rebuilds the object (clang 14 or later
// and libbpf's headers, as Debian's clang and libbpf-dev install them).
package testingexample

//go:generate sh testdata/build.sh
