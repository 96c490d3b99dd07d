// Package port is a cilium/ebpf-style test of the port classifier that
// runs on the library through package ciliumcompat: the kernel directory
// holds the same test importing github.com/cilium/ebpf.
package port
