// Package port is the port-classifier test of the library directory,
// run against cilium/ebpf and the kernel: the same file but for its
// import line (and a Linux build constraint), so both pass or neither
// does.
package port
