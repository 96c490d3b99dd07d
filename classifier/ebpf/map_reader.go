package ebpf

import (
	"os"
	"sync"
	"time"
)

// waiter is the blocking part shared by RingBufReader and PerfReader: a
// deadline, Close, and the wake-up channel of the producer side.
type waiter struct {
	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	poke     chan struct{}
	once     sync.Once
}

func newWaiter() waiter {
	return waiter{closed: make(chan struct{}), poke: make(chan struct{}, 1)}
}

// setDeadline sets the deadline of reads and interrupts a waiting one.
func (w *waiter) setDeadline(t time.Time) {
	w.mu.Lock()
	w.deadline = t
	w.mu.Unlock()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

func (w *waiter) close() {
	w.once.Do(func() { close(w.closed) })
}

// wait blocks until wake fires, the deadline passes (os.ErrDeadlineExceeded),
// the reader is closed (ErrClosed) or the deadline changes (nil).
func (w *waiter) wait(wake <-chan struct{}) error {
	select {
	case <-w.closed:
		return ErrClosed
	default:
	}
	w.mu.Lock()
	d := w.deadline
	w.mu.Unlock()
	var timeout <-chan time.Time
	if !d.IsZero() {
		left := time.Until(d)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(left)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-wake:
		return nil
	case <-w.poke:
		return nil
	case <-w.closed:
		return ErrClosed
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}
