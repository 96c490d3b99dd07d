package ebpfvm

import "errors"

// Tail calls (bpf_tail_call, kernel/bpf/core.c JMP_TAIL_CALL). A tail call
// never returns to its caller: the target program runs on the same packet
// and its result is the caller's. The VM runs the target on a machine of
// its own (from the target's pool, so nothing is allocated once the pool
// is warm) and ends the caller's run with the target's R0 and error, which
// is what replacing the program in place would give; the count of tail
// calls so far travels with it, and the MaxTailCalls+1st call fails and
// the caller continues, as in the kernel.

// MaxTailCalls is MAX_TAIL_CALL_CNT: the tail calls one run may make.
const MaxTailCalls = 33

// errTailDone tells the run loop that a helper completed a tail call and
// the run ends with the target's result (Machine.tail).
var errTailDone = errors.New("ebpfvm: tail call completed")

// tailState is a machine's tail call bookkeeping.
type tailState struct {
	count uint32 // tail calls made in the chain before this run
	r0    uint64 // the target's result, while errTailDone unwinds
	err   error
}

// TailCall runs target in place of the current program, for the
// bpf_tail_call helper: when it returns ok, the helper must return its
// error unchanged so the run ends with the
// target's result. ok is false when the chain already made MaxTailCalls
// tail calls or target cannot run on this run's context; the helper then
// returns and the program continues, as the kernel's failed tail call
// does.
func (m *Machine) TailCall(target *Program) (ok bool, err error) {
	if target == nil || m.tail.count >= MaxTailCalls || target.opts.Context != m.prog.opts.Context || m.pkt == nil {
		return false, nil
	}
	t := target.pool.Get().(*Machine)
	t.tail.count = m.tail.count + 1
	t.pkt = m.pkt
	t.RefreshPacket()
	t.regions[regMem] = region{}
	r0, rerr := t.start(addrOf(regCtx, 0), 0)
	t.resetDynamic()
	t.pkt = nil
	t.regions[regPacket] = region{}
	target.pool.Put(t)
	m.tail.r0, m.tail.err = r0, rerr
	return true, errTailDone
}

// tailResult converts a helper error into the run's result: the target's
// result after a completed tail call, or a helper fault.
func (m *Machine) tailResult(pc int, err error) (uint64, error) {
	if err == errTailDone {
		r0, rerr := m.tail.r0, m.tail.err
		m.tail.r0, m.tail.err = 0, nil
		return r0, rerr
	}
	if re, ok := err.(*RunError); ok {
		return 0, re // a fault inside a callback (CallFunc) ends the run as it is
	}
	return 0, &RunError{PC: pc, Err: ErrHelper, Cause: err}
}
