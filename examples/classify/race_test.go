//go:build race

package main

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts of pooled run paths mean nothing under it.
const raceEnabled = true
