//go:build race

package classifier

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are not zero under it.
const raceEnabled = true
