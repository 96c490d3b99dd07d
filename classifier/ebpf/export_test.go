package ebpf

// RaceEnabled tells the external tests whether the race detector is on:
// it makes sync.Pool drop items at random, so allocation counts of pooled
// paths are not meaningful then.
const RaceEnabled = raceEnabled
