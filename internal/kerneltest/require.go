package kerneltest

import (
	"os"
	"runtime"
	"testing"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "CLSBPF_REQUIRE_KERNEL"

// Skip skips the test with the reason, or fails it when RequireEnv is set.
func Skip(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("kernel oracle required (%s=1) but unavailable: %s", RequireEnv, reason)
	}
	tb.Skip("kernel oracle unavailable: " + reason)
}

// RequireLinux skips unless the test runs on Linux.
func RequireLinux(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		Skip(tb, "not linux ("+runtime.GOOS+")")
	}
}

// RequireRoot skips unless the test runs on Linux as root (network
// namespaces, tc and bpf() need it).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	RequireLinux(tb)
	if os.Geteuid() != 0 {
		Skip(tb, "needs root: network namespaces, tc and bpf() need CAP_SYS_ADMIN and CAP_NET_ADMIN")
	}
}
