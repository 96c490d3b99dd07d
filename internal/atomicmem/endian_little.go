//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package atomicmem

// bigEndian reports whether the host stores words most significant byte
// first; a constant so that little-endian hosts pay nothing for the swap.
const bigEndian = false
