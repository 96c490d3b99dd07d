package ebpfvm

import "errors"

// Callbacks: helpers such as bpf_loop and bpf_for_each_map_elem call a
// function of the program (a BPF_PSEUDO_FUNC pointer the program passed)
// any number of times. CallFunc runs it in a new frame above the frame of
// the instruction that called the helper, with the same stack, call depth
// limit (MAX_CALL_FRAMES) and instruction budget as the run; the
// callback's R0 comes back to the helper. Both engines run callbacks on
// the compiled form.

// ErrNotFunc is the cause of the helper error a run gets when a callback
// argument is not a pointer to one of the program's functions.
var ErrNotFunc = errors.New("ebpfvm: callback argument is not a function of the program")

// CallFunc calls the program's function fn (what LD_IMM64 with
// BPF_PSEUDO_FUNC put in a register) with R1..R5 set to a1..a5 and
// returns its R0. A fault inside the callback is returned as the run's
// *RunError; the helper should return it unchanged.
func (m *Machine) CallFunc(fn, a1, a2, a3, a4, a5 uint64) (uint64, error) {
	p := m.prog
	if fn>>32 != funcTag {
		return 0, ErrNotFunc
	}
	t := int(uint32(fn))
	if t <= 0 || t >= len(p.insns) || p.subOf[t] == p.subOf[t-1] {
		return 0, ErrNotFunc
	}
	base := m.depth + 1
	if base >= maxFrames {
		return 0, &RunError{PC: t, Err: ErrCallDepth}
	}
	if m.steps -= p.subLen[p.subOf[t]]; m.steps <= 0 {
		return 0, &RunError{PC: t, Err: ErrBudget}
	}
	saved := m.depth
	r0, err := m.execAt(t, base, a1, a2, a3, a4, a5)
	m.depth = saved
	return r0, err
}

// DynamicMark returns the state of the dynamic region table, for a
// helper that creates regions valid only during one callback
// (bpf_for_each_map_elem's key and value): ReleaseDynamic(mark) drops
// the regions created after the mark, so that iterating over a large map
// does not fill the table. Pointers to released regions fault, or reach
// the region that later reuses the id, always within its bounds.
func (m *Machine) DynamicMark() int { return m.dyn.used }

// ReleaseDynamic drops the dynamic regions created after mark.
func (m *Machine) ReleaseDynamic(mark int) {
	d := &m.dyn
	if mark < 0 || mark > d.used {
		return
	}
	clear(m.regions[d.first+mark : d.first+d.used])
	d.used = mark
}
