package action

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindGact = "gact"

// ProbType selects gact's random form (tc_gact_p ptype).
type ProbType uint16

// gact random forms.
const (
	// ProbNone is PGACT_NONE: always the configured verdict.
	ProbNone ProbType = uapi.PGACT_NONE
	// ProbRandom is PGACT_NETRAND ("random netrand"): the fallback verdict
	// with probability 1/ProbVal, drawn from the Table's Rand.
	ProbRandom ProbType = uapi.PGACT_NETRAND
	// ProbDeterm is PGACT_DETERM ("random determ"): the fallback verdict
	// for every ProbVal-th packet.
	ProbDeterm ProbType = uapi.PGACT_DETERM
)

// String returns tc's name: "none", "netrand" or "determ".
func (p ProbType) String() string {
	switch p {
	case ProbRandom:
		return "netrand"
	case ProbDeterm:
		return "determ"
	}
	return "none"
}

// Gact is the spec of a generic action (kind "gact", act_gact.c): it
// returns its verdict, or with a random form sometimes a fallback verdict.
// tc's default verdict is "pass" (OK).
type Gact struct {
	Params
	// Prob selects the random form; ProbNone sends no TCA_GACT_PROB.
	Prob ProbType
	// ProbVal is the divisor of the random form (0 counts as 1).
	ProbVal uint16
	// ProbVerdict is the fallback verdict; "goto chain" is refused.
	ProbVerdict Verdict
}

// Kind returns "gact".
func (*Gact) Kind() string { return kindGact }

func (g *Gact) options(e *encoder) {
	e.bytes(uapi.TCA_GACT_PARMS, putGen(nil, g.gen()))
	if g.Prob != ProbNone {
		b := binary.LittleEndian.AppendUint16(nil, uint16(g.Prob))
		b = binary.LittleEndian.AppendUint16(b, g.ProbVal)
		b = binary.LittleEndian.AppendUint32(b, uint32(g.ProbVerdict))
		e.bytes(uapi.TCA_GACT_PROB, b)
	}
}

type gactProb struct {
	ptype   ProbType
	pval    uint16
	paction Verdict
}

type gactAction struct {
	Common
	prob    atomic.Pointer[gactProb]
	packets atomic.Uint32
	rand    Rand
}

var gactPolicy = []pol{
	uapi.TCA_GACT_PARMS: polLen(uapi.SizeofTcGact),
	uapi.TCA_GACT_PROB:  polLen(uapi.SizeofTcGactProb),
}

func init() { kinds[kindGact] = &kindOps{id: uapi.TCA_ID_GACT, offload: true, init: gactInit} }

// gactInit is tcf_gact_init.
func gactInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_GACT_MAX, gactPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_GACT_PARMS) {
		return nil, errno(syscall.EINVAL, "")
	}
	parm := getGen(tb.data(uapi.TCA_GACT_PARMS))
	var prob *gactProb
	if tb.has(uapi.TCA_GACT_PROB) {
		d := tb.data(uapi.TCA_GACT_PROB)
		prob = &gactProb{
			ptype:   ProbType(binary.LittleEndian.Uint16(d)),
			pval:    max(1, binary.LittleEndian.Uint16(d[2:])),
			paction: Verdict(binary.LittleEndian.Uint32(d[4:])),
		}
		if prob.ptype >= uapi.MAX_RAND {
			return nil, errno(syscall.EINVAL, "")
		}
		if prob.paction.IsGotoChain() {
			return nil, errno(syscall.EINVAL, "goto chain not allowed on fallback")
		}
	}
	index := parm.index
	a, exists, err := x.checkAlloc(kindGact, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists {
		if f.bind {
			return a, nil
		}
		if !f.replace {
			return nil, errno(syscall.EEXIST, "")
		}
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	apply := func(g *gactAction) {
		g.setCtrl(parm.action)
		if prob != nil {
			g.prob.Store(prob)
		}
	}
	if exists {
		g := a.(*gactAction)
		x.commits = append(x.commits, func() { apply(g) })
		return g, nil
	}
	g := &gactAction{rand: f.t.cfg.Rand}
	f.newCommon(&g.Common, kindGact, index)
	apply(g)
	x.created = append(x.created, g)
	return g, nil
}

// Act is tcf_gact_act.
func (g *gactAction) Act(pkt *packet.Packet, res *Result) Verdict {
	action := g.Verdict()
	if p := g.prob.Load(); p != nil && p.ptype != ProbNone {
		switch p.ptype {
		case ProbRandom:
			if g.rand.Uint32N(uint32(p.pval)) == 0 {
				action = p.paction
			}
		case ProbDeterm:
			if g.packets.Add(1)%uint32(p.pval) == 0 {
				action = p.paction
			}
		}
	}
	g.count(pkt, res)
	if action == Shot {
		g.drop(res)
	}
	g.touch(res)
	return action
}

func (g *gactAction) dumpOptions(e *encoder, bind, ref int32) {
	e.bytes(uapi.TCA_GACT_PARMS, putGen(nil, tcGen{index: g.index, action: g.Verdict(), refcnt: g.refcnt - ref, bindcnt: g.bindcnt - bind}))
	if p := g.prob.Load(); p != nil && p.ptype != ProbNone {
		b := binary.LittleEndian.AppendUint16(nil, uint16(p.ptype))
		b = binary.LittleEndian.AppendUint16(b, p.pval)
		b = binary.LittleEndian.AppendUint32(b, uint32(p.paction))
		e.bytes(uapi.TCA_GACT_PROB, b)
	}
	e.tm(uapi.TCA_GACT_TM, &g.Common)
}

// format is iproute2's print_gact.
func (g *gactAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	fmt.Fprintf(w, "gact action %s\n", ctrlString(g.Verdict()))
	p := g.prob.Load()
	if p == nil || p.ptype == ProbNone {
		p = &gactProb{}
	}
	fmt.Fprintf(w, "\t random type %s %s val %d\n", p.ptype, ctrlString(p.paction), p.pval)
	formatGen(w, &g.Common, bind, ref, stats, "\t ")
}
