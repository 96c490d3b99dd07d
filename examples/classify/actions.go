package main

import (
	"math/rand/v2"
	"strings"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

// otherActionKinds are tc action kinds this command does not configure yet;
// naming one gives EOPNOTSUPP rather than "unknown".
var otherActionKinds = map[string]bool{
	"mirred": true, "skbedit": true, "vlan": true, "police": true, "csum": true, "bpf": true,
	"pedit": true, "tunnel_key": true, "connmark": true, "nat": true, "ct": true, "ctinfo": true,
	"sample": true, "ife": true, "mpls": true, "skbmod": true, "gate": true, "simple": true,
}

// parseActions parses the action list that starts at words[i] ("action"),
// as tc's parse_action does, for the gact kind:
//
//	action [gact] CONTROL [random {netrand|determ} CONTROL VAL] [index N] [action ...]
//
// CONTROL is a tc control action (pass, ok, drop, shot, continue,
// reclassify, pipe, trap, stolen, jump N, a number; "gact" may be left out
// when CONTROL follows "action" directly). It returns the specs and the
// index of the first word after the list.
func parseActions(fail func(i int, tok, msg string, err error) error, words []string, i int) ([]action.Spec, int, error) {
	var specs []action.Spec
	for i < len(words) && words[i] == "action" {
		if i+1 >= len(words) {
			return nil, 0, fail(i, words[i], "missing action", nil)
		}
		i++
		kind := words[i]
		switch {
		case kind == "gact":
			i++
		case otherActionKinds[kind]:
			return nil, 0, fail(i, kind, "action kind not supported by this example yet (only gact)", syscall.EOPNOTSUPP)
		}
		g := &action.Gact{}
		v, n, err := parseControl(words[i:])
		if err != nil {
			tok := ""
			if i < len(words) {
				tok = words[i]
			}
			return nil, 0, fail(i, tok, "bad action control", err)
		}
		g.Verdict = v
		i += n
		if i < len(words) && words[i] == "random" {
			if i+3 >= len(words) {
				return nil, 0, fail(i, words[i], "random needs a type, a control action and a value", nil)
			}
			switch words[i+1] {
			case "netrand":
				g.Prob = action.ProbRandom
			case "determ":
				g.Prob = action.ProbDeterm
			default:
				return nil, 0, fail(i+1, words[i+1], "random type must be netrand or determ", nil)
			}
			pv, n, err := parseControl(words[i+2:])
			if err != nil {
				return nil, 0, fail(i+2, words[i+2], "bad random control", err)
			}
			g.ProbVerdict = pv
			j := i + 2 + n
			if j >= len(words) {
				return nil, 0, fail(i, words[i], "random needs a value", nil)
			}
			val, err := handle.ParseFilter(words[j])
			if err != nil || val > 0xFFFF {
				return nil, 0, fail(j, words[j], "illegal random value", nil)
			}
			g.ProbVal = uint16(val)
			i = j + 1
		}
		if i < len(words) && words[i] == "index" {
			if i+1 >= len(words) {
				return nil, 0, fail(i, words[i], "missing index", nil)
			}
			idx, err := handle.ParseFilter(words[i+1])
			if err != nil {
				return nil, 0, fail(i+1, words[i+1], "illegal index", err)
			}
			g.Index = idx
			i += 2
		}
		specs = append(specs, g)
	}
	return specs, i, nil
}

// parseControl reads one control action from the start of words: one
// word, or "jump N" / "goto chain N". "goto chain" is refused: the command
// models chain 0 only.
func parseControl(words []string) (action.Verdict, int, error) {
	if len(words) == 0 {
		return 0, 0, &action.ParseVerdictError{Input: "", Reason: "missing control action"}
	}
	for n := min(3, len(words)); n >= 1; n-- {
		v, err := action.ParseVerdict(strings.Join(words[:n], " "))
		if err != nil {
			continue
		}
		if v.IsGotoChain() {
			return 0, 0, &action.ParseVerdictError{Input: strings.Join(words[:n], " "), Reason: "goto chain: only chain 0 is modelled"}
		}
		return v, n, nil
	}
	_, err := action.ParseVerdict(words[0])
	return 0, 0, err
}

// actionChain runs a filter's tc actions for the classifier: the adapter
// from action.Chain (tcf_exts) to classifier.ActionChain.
type actionChain struct{ c *action.Chain }

// Exec runs the actions as tcf_exts_exec does and returns their verdict
// with the class they leave.
func (a actionChain) Exec(pkt *packet.Packet, res classifier.Result) classifier.Result {
	ar := action.Result{ClassID: uint32(res.ClassID)}
	res.Verdict = a.c.Run(pkt, &ar)
	res.ClassID = handle.Handle(ar.ClassID)
	return res
}

// Release gives the actions back to their table when the filter goes.
func (a actionChain) Release() { a.c.Release() }

// fixedClock is the actions' clock: a constant, so that printed ages are
// reproducible (tc prints none when they are 0).
type fixedClock struct{}

func (fixedClock) Now() int64 { return 1 }

// newActionTable returns the table the command's actions live in, with a
// fixed clock and a seeded random source for gact's netrand.
func newActionTable() *action.Table {
	return action.NewTable(action.Config{Clock: fixedClock{}, Rand: action.NewLockedRand(rand.NewPCG(1, 2))})
}
