//go:build !race

package tctest_test

const raceEnabled = false
