// Package kerneltest holds the helpers that use the running Linux kernel as
// the oracle in differential tests: capability checks that skip with the
// reason where the machine does not allow a test, and private network
// namespaces that clean up after the test.
//
// A check skips only for a known, stated reason (not Linux, not root, the
// kernel refuses the feature). Setting CLSBPF_REQUIRE_KERNEL=1 turns every
// such skip into a failure, so the oracle cannot silently vanish from a CI
// run that is meant to have it.
package kerneltest
