package offload

import (
	"fmt"
	"sync"
	"syscall"
)

// Faulty wraps a driver and makes chosen calls fail, for testing how a
// classifier and its users cope with hardware that refuses: every call of
// a command in FailCommands fails, and so does the Nth call of Setup
// counted from 1 over all commands (0 disables it). A failing call returns
// Err (EIO when nil) without reaching Inner; every other call goes to
// Inner, or succeeds when Inner is nil. Faulty is safe for concurrent use.
type Faulty struct {
	// Inner is the wrapped driver; nil accepts everything and declares
	// Caps.
	Inner Offloader
	// Caps are the capabilities declared when Inner is nil.
	Caps Capabilities
	// FailCommands lists the commands that always fail.
	FailCommands []Command
	// FailNth makes the Nth call fail (1 is the first); 0 for none.
	FailNth int
	// Err is the error of a failing call; nil means EIO.
	Err error

	mu    sync.Mutex
	calls int
	log   []Command
}

// Capabilities returns Inner's capabilities, or Caps.
func (f *Faulty) Capabilities() Capabilities {
	if f.Inner != nil {
		return f.Inner.Capabilities()
	}
	return f.Caps
}

// Setup fails the call when it is chosen to fail, else passes it on.
func (f *Faulty) Setup(req *Request) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.log = append(f.log, req.Command)
	fail := f.FailNth == n
	for _, c := range f.FailCommands {
		fail = fail || c == req.Command
	}
	f.mu.Unlock()
	if fail {
		if f.Err != nil {
			return f.Err
		}
		return fmt.Errorf("injected fault on call %d (%s): %w", n, req.Command, syscall.EIO)
	}
	if f.Inner == nil {
		return nil
	}
	return f.Inner.Setup(req)
}

// Calls returns the commands Setup received, in order, failed ones
// included.
func (f *Faulty) Calls() []Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Command(nil), f.log...)
}
