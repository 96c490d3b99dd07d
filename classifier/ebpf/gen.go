package ebpf

// The test programs under testdata are C compiled with clang into
// committed objects, so that tests need no clang; `go generate` rebuilds
// them (clang 14 or later and libbpf's headers, as Debian's clang and
// libbpf-dev install them).
//
//go:generate sh testdata/build.sh
