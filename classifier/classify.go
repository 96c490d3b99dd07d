package classifier

import (
	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

// Classify runs the chain on pkt exactly as cls_bpf_classify does and
// returns the verdict and result. It loads one snapshot and takes no lock;
// it allocates nothing as long as the programs and actions it runs do not.
//
// For each filter in list order (the most recently added first):
//
//  1. pkt.TCClassID is preset to the low 16 bits of the filter's classid,
//     for every filter visited, skipped ones included.
//  2. A SkipSW filter is not run in software: when the packet arrived on
//     a bound device whose driver runs offloaded filters and holds this
//     one (offload.HardwareRunner, such as package soft's device), its
//     result is the device's; otherwise it is Unspec in direct-action
//     mode and 0 (no match) in classic mode. Any other program runs on the
//     packet from its MAC header: a packet at Ingress whose data sits at the
//     network header (as the kernel holds it on receive: MACLen > 0 and
//     NetworkOffset 0) has the MAC header pushed for the run and pulled
//     again after it; a packet whose data is already at the MAC header (as
//     packet.SetFrame leaves it) runs as it is.
//  3. Direct-action mode: the classid becomes the filter classid's major
//     ORed with pkt.TCClassID (which the program may have rewritten); the
//     return value is the verdict if it is OK, Shot, Stolen, Trap, Redirect
//     or Unspec, and Unspec otherwise. Unspec goes on to the next filter,
//     anything else ends classification.
//  4. Classic mode: 0 is no match (next filter); -1 selects the filter's
//     own classid and class; any other value is the classid itself. The
//     filter's action chain then runs (with none the verdict is OK); a
//     negative verdict goes on to the next filter, anything else ends
//     classification.
//
// When no filter decides, the verdict is Unspec or the last negative
// verdict an action chain returned.
func (c *Chain) Classify(pkt *packet.Packet) Result {
	res := Result{Verdict: action.Unspec}
	ret := action.Unspec
	for _, f := range c.load().filters {
		pkt.TCClassID = uint16(f.classID)

		// The kernel's __skb_push/__skb_pull around the run at ingress.
		// The MAC header lies in the buffer before data, so Push needs no
		// room and cannot fail; a program that shrank the frame below the
		// MAC header length leaves data where it is.
		pushed := pkt.Direction == packet.Ingress && pkt.NetworkOffset() == 0 && pkt.MACLen() > 0
		if pushed {
			_ = pkt.Push(pkt.MACLen())
		}
		out, ran := c.run(f, pkt)
		if pushed {
			_ = pkt.Pull(pkt.MACLen())
		}
		var fr int32
		switch {
		case ran:
			fr = int32(out)
		case f.direct:
			fr = int32(action.Unspec)
		}

		if f.direct {
			res.Class = 0
			res.ClassID = f.classID&0xFFFF0000 | handle.Handle(pkt.TCClassID)
			res.Filter = f.handle
			res.Hardware = f.genFlags&SkipSW != 0
			ret = directVerdict(action.Verdict(fr))
			if ret == action.Unspec {
				continue
			}
			break
		}

		if fr == 0 {
			continue
		}
		if fr == -1 {
			res.Class, res.ClassID = f.class, f.classID
		} else {
			res.Class, res.ClassID = 0, handle.Handle(uint32(fr))
		}
		res.Filter = f.handle
		res.Hardware = f.genFlags&SkipSW != 0
		ret = action.OK
		if f.actions != nil {
			res.Verdict = action.OK
			res = f.actions.Exec(pkt, res)
			ret = res.Verdict
		}
		if ret < 0 {
			continue
		}
		break
	}
	res.Verdict = ret
	return res
}

// run runs f's program, or, for a SKIP_SW filter, its offloaded copy on
// the device the packet arrived on when that device runs it (see
// offload.HardwareRunner); ran is false when nothing ran.
func (c *Chain) run(f *Filter, pkt *packet.Packet) (ret uint32, ran bool) {
	if f.genFlags&SkipSW == 0 {
		return f.prog.Run(pkt), true
	}
	if c.cfg.Offload == nil {
		return 0, false
	}
	id := c.id
	id.Handle = f.handle
	return c.cfg.Offload.Run(id, pkt)
}

// directVerdict is cls_bpf_exec_opcode: the verdicts a direct-action
// program may return; anything else reads as Unspec.
func directVerdict(v action.Verdict) action.Verdict {
	switch v {
	case action.OK, action.Shot, action.Stolen, action.Trap, action.Redirect, action.Unspec:
		return v
	}
	return action.Unspec
}
