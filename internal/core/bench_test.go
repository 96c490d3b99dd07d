package core

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkApply relocates the vmlinux.h-style parser against the shipped
// target: load-time work, done once per program.
func BenchmarkApply(b *testing.B) {
	tg := shipped(b)
	cs := object(b, "parse.o")
	p := cs.Programs["parse_ipv4"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(p, cs.Types, tg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewTarget indexes the shipped target.
func BenchmarkNewTarget(b *testing.B) {
	tg := shipped(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTarget(tg.Spec()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentApply relocates from several goroutines against one
// Target: it is read-only after NewTarget (run under -race).
func TestConcurrentApply(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "parse.o")
	p := cs.Programs["parse_ipv4"]
	want, err := Apply(p, cs.Types, tg, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				got, err := Apply(p, cs.Types, tg, nil)
				if assert.NoError(t, err) {
					assert.Equal(t, want.String(), got.String())
				}
			}
		})
	}
	wg.Wait()
}
