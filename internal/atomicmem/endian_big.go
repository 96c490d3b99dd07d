//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package atomicmem

// bigEndian reports whether the host stores words most significant byte
// first. Memory holds eBPF data, which is little-endian: on a big-endian
// host every word is byte-swapped between the memory and the value.
const bigEndian = true
