package tctest

// The kernel test's program under testdata is C compiled with clang into a
// committed object, so that tests need no clang; `go generate` rebuilds it.
//
//go:generate sh testdata/build.sh
