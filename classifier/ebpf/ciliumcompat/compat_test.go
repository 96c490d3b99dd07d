package ebpf_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDropInDiffersByImportOnly checks that the library's port test is the
// cilium/ebpf test run against the kernel with only its import line
// changed (and a build constraint added, as the kernel needs Linux).
func TestDropInDiffersByImportOnly(t *testing.T) {
	lib, err := os.ReadFile("example/library/port_test.go")
	require.NoError(t, err)
	ker, err := os.ReadFile("example/kernel/port_test.go")
	require.NoError(t, err)
	kl := strings.Split(string(ker), "\n")
	require.Equal(t, "//go:build linux", kl[0])
	require.Equal(t, "", kl[1])
	ll := strings.Split(string(lib), "\n")
	kl = kl[2:]
	require.Len(t, kl, len(ll))
	var diff []string
	for i := range ll {
		if ll[i] != kl[i] {
			diff = append(diff, ll[i]+" | "+kl[i])
		}
	}
	require.Equal(t, []string{
		"\tebpf \"github.com/clsbpf/clsbpf/classifier/ebpf/ciliumcompat\" | \t\"github.com/cilium/ebpf\"",
	}, diff)
}
