package classifier

import (
	"errors"
	"slices"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/offload"
)

// OffloadProgrammer is implemented by programs that describe themselves to
// offload drivers (instructions, helpers, map types, device binding). A
// classic program needs none: its instructions are its description. An
// eBPF program without it is offered with its ID, tag and name only, and
// with itself as the software form.
type OffloadProgrammer interface {
	OffloadProgram() offload.Program
}

// OffloadActioner is implemented by action chains that describe their
// actions to offload drivers.
type OffloadActioner interface {
	OffloadActions() []offload.Action
}

// HWStatsUpdater is implemented by action chains that take the counters
// hardware reports for their filter (tcf_exts_hw_stats_update): they add
// them to every action's statistics.
type HWStatsUpdater interface {
	UpdateHWStats(c offload.Counters)
}

// hwState is a filter's hardware bookkeeping: in_hw_count and gen_flags,
// changed as tc_cls_offload_cnt_update and tc_cls_offload_cnt_reset do.
type hwState struct {
	count int
	flags uint32
}

func (h *hwState) inc(n int) {
	if n <= 0 {
		return
	}
	if h.count == 0 {
		h.flags |= InHW
	}
	h.count += n
}

// dec counts one driver less; a count already at 0 stays there (the
// kernel's unsigned counter would wrap when a driver acknowledges a
// destroy of a filter it never held).
func (h *hwState) dec() {
	if h.count == 0 {
		return
	}
	h.count--
	if h.count == 0 {
		h.flags &^= InHW
	}
}

func (h *hwState) reset() {
	h.flags &^= InHW
	h.count = 0
}

// offloadProgram is the engine-neutral form of f's program.
func offloadProgram(f *Filter) *offload.Program {
	if f == nil {
		return nil
	}
	if f.classic != nil {
		return &offload.Program{Kind: offload.Classic, Classic: f.classic.Instructions()}
	}
	p := offload.Program{}
	if op, ok := f.ebpf.(OffloadProgrammer); ok {
		p = op.OffloadProgram()
	}
	p.Kind = offload.Extended
	p.ID, p.Tag = f.ebpf.ID(), f.ebpf.Tag()
	if f.hasName {
		p.Name = f.name
	}
	if p.Runner == nil {
		p.Runner = f.ebpf
	}
	return &p
}

// request builds the driver request about obj (tc_cls_common_offload_init
// and the tc_cls_bpf_offload fields).
func (c *Chain) request(cmd offload.Command, prog, old *Filter) *offload.Request {
	obj := prog
	if obj == nil {
		obj = old
	}
	id := c.id
	id.Handle = obj.handle
	req := &offload.Request{
		Command:      cmd,
		Filter:       id,
		Prog:         offloadProgram(prog),
		OldProg:      offloadProgram(old),
		ClassID:      uint32(obj.classID),
		DirectAction: obj.direct,
		Flags:        obj.genFlags,
		SkipSW:       obj.genFlags&SkipSW != 0,
	}
	if a, ok := obj.actions.(OffloadActioner); ok {
		req.Actions = a.OffloadActions()
	}
	return req
}

// offload is cls_bpf_offload: the skip-flag rule, then the command for
// whichever of f (new) and old go to hardware. f's hardware state is
// updated in place (it is not yet published); old's is returned in
// oldHW, which differs from old's own when a failed replace was rolled
// back.
func (c *Chain) offload(f, old *Filter) (oldHW hwState, err *Error) {
	if old != nil {
		oldHW = hwState{old.inHW, old.genFlags}
		if f.genFlags&supportedGenFlags != old.genFlags&supportedGenFlags {
			return oldHW, errorf("change", "TCA_BPF_FLAGS_GEN", syscall.EINVAL, "skip flags %#x of filter %s may not change to %#x", old.genFlags&supportedGenFlags, hexs(old.handle), f.genFlags&supportedGenFlags)
		}
	}
	prog, oldprog := f, old
	if prog.genFlags&SkipHW != 0 {
		prog = nil
	}
	if oldprog != nil && oldprog.genFlags&SkipHW != 0 {
		oldprog = nil
	}
	if prog == nil && oldprog == nil {
		return oldHW, nil
	}
	newHW := hwState{f.inHW, f.genFlags}
	e := c.offloadCmd(prog, oldprog, &newHW, &oldHW, false)
	f.inHW, f.genFlags = newHW.count, newHW.flags
	if e != nil {
		return oldHW, offloadError(e)
	}
	return oldHW, nil
}

// offloadCmd is cls_bpf_offload_cmd with tc_setup_cb_add, _replace and
// _destroy. progHW and oldHW are the two filters' hardware states. A
// failure of a command with a new program is rolled back once with the
// roles swapped (replace back, or destroy the new program), and the
// original error is returned.
func (c *Chain) offloadCmd(prog, old *Filter, progHW, oldHW *hwState, rollback bool) error {
	hw := c.cfg.Offload
	skipSW := prog != nil && prog.genFlags&SkipSW != 0
	var err error
	switch {
	case prog != nil:
		cmd := offload.Add
		if old != nil {
			cmd = offload.Replace
		}
		if skipSW && hw.NoOffloadDevices() > 0 {
			err = &offload.Error{Msg: "a device of the block cannot offload", Errno: syscall.EOPNOTSUPP}
			break
		}
		if old != nil {
			oldHW.reset()
		}
		var n int
		n, err = hw.Call(c.request(cmd, prog, old), skipSW)
		if err == nil {
			progHW.inc(n)
		}
	default:
		_, _ = hw.Call(c.request(offload.Destroy, nil, old), false)
		oldHW.reset()
	}
	if prog != nil && err != nil {
		if !rollback {
			_ = c.offloadCmd(old, prog, oldHW, progHW, true)
		}
		return err
	}
	if prog != nil && skipSW && progHW.flags&InHW == 0 {
		return errSkipSWNotInHW
	}
	return nil
}

var errSkipSWNotInHW = &Error{Op: "change", Attr: "TCA_BPF_FLAGS_GEN", Msg: "skip_sw: no driver took the filter", Errno: syscall.EINVAL}

func offloadError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	out := &Error{Op: "change", Attr: "TCA_BPF_FLAGS_GEN", Errno: errnoOf(err, syscall.EOPNOTSUPP), Err: err}
	var oe *offload.Error
	if errors.As(err, &oe) {
		out.Extack = oe.Extack
	}
	return out
}

// stopOffload is cls_bpf_stop_offload: every filter leaving the chain is
// destroyed in hardware, whatever its flags; errors are ignored.
func (c *Chain) stopOffload(f *Filter) {
	var progHW hwState
	oldHW := hwState{f.inHW, f.genFlags}
	_ = c.offloadCmd(nil, f, &progHW, &oldHW, false)
}

// updateStats is cls_bpf_offload_update_stats: a Stats request to every
// driver, the sums going to the filter's actions.
func (c *Chain) updateStats(f *Filter) {
	req := c.request(offload.Stats, f, nil)
	_, _ = c.cfg.Offload.Call(req, false)
	if u, ok := f.actions.(HWStatsUpdater); ok && req.Stats != (offload.Counters{}) {
		u.UpdateHWStats(req.Stats)
	}
}

// reoffload is cls_bpf_reoffload for one device binding (add) or
// unbinding the block: every filter without SKIP_HW (or, with only, every
// filter whose handle is listed) is offered to the device alone, and its
// in-hardware count follows. Binding stops at the first refusal of a
// SKIP_SW filter and returns it, after withdrawing from the device what
// this call installed; other refusals only leave the filter out. It
// returns the handles the device took, and publishes the new counts once.
func (c *Chain) reoffload(dev *offload.Device, add bool, only []uint32) ([]uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.load()
	next := &snapshot{filters: slices.Clone(s.filters)}
	var took []uint32
	for i, f := range s.filters {
		if f.genFlags&SkipHW != 0 || (only != nil && !slices.Contains(only, f.handle)) {
			continue
		}
		var req *offload.Request
		if add {
			req = c.request(offload.Add, f, nil)
		} else {
			req = c.request(offload.Destroy, nil, f)
		}
		if err := dev.Setup(req); err != nil {
			if add && f.genFlags&SkipSW != 0 {
				for _, h := range took {
					if g := s.find(h); g != nil {
						_ = dev.Setup(c.request(offload.Destroy, nil, g))
					}
				}
				return nil, offloadError(err)
			}
			continue
		}
		took = append(took, f.handle)
		nf := *f
		h := hwState{nf.inHW, nf.genFlags}
		if add {
			h.inc(1)
		} else {
			h.dec()
		}
		nf.inHW, nf.genFlags = h.count, h.flags
		next.filters[i] = &nf
	}
	if len(took) > 0 {
		c.snap.Store(next)
	}
	return took, nil
}

// inHWAny reports whether any filter of the chain is in hardware (the
// block's offloadcnt is not 0).
func (c *Chain) inHWAny() bool {
	for _, f := range c.load().filters {
		if f.genFlags&InHW != 0 {
			return true
		}
	}
	return false
}

// actionVerdicts lists the configured verdicts of an action chain that
// exposes its actions, for the goto-chain references a block tracks.
func actionVerdicts(a ActionChain) []action.Verdict {
	oa, ok := a.(OffloadActioner)
	if !ok {
		return nil
	}
	var out []action.Verdict
	for _, x := range oa.OffloadActions() {
		out = append(out, action.Verdict(x.Verdict))
	}
	return out
}
