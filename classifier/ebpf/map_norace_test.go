//go:build !race

package ebpf

const raceEnabled = false
