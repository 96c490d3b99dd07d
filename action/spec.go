package action

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Spec describes one action to create or bind, as the Go form of the
// action nest tc sends: the kind's option struct (*Gact, *Mirred,
// *Skbedit, *Police, *Vlan, *Csum, *Bpf) with the common Params embedded.
// A Spec is validated by encoding it into that nest and parsing it as the
// kernel would, so both forms accept and refuse the same configurations
// with the same errors.
type Spec interface {
	// Kind is the action kind.
	Kind() string
	params() *Params
	// options appends the kind's TCA_ACT_OPTIONS payload.
	options(e *encoder)
}

// Params are the parameters every action kind takes: the tc_gen fields a
// user sets and the per-action netlink attributes.
type Params struct {
	// Index is the action's index in its kind's table; 0 lets the table
	// pick the lowest free index. A filter naming an existing index binds
	// to that action and ignores every other parameter.
	Index uint32
	// Verdict is the control action the action returns (tc_gen action).
	// The zero value is OK ("pass"); tc's defaults differ per kind (see
	// each kind).
	Verdict Verdict
	// Cookie is an opaque value of at most 16 bytes kept with the action
	// (TCA_ACT_COOKIE); nil for none.
	Cookie []byte
	// Flags are the action flags (TCA_ACT_FLAGS).
	Flags Flags
}

func (p *Params) params() *Params { return p }

// gen returns the tc_gen header a request carries.
func (p *Params) gen() tcGen { return tcGen{index: p.Index, action: p.Verdict} }

// EncodeSpec returns the action nest payload of one spec: TCA_ACT_KIND,
// TCA_ACT_OPTIONS, and TCA_ACT_COOKIE and TCA_ACT_FLAGS when set.
func EncodeSpec(s Spec) []byte {
	var e encoder
	p := s.params()
	e.str(uapi.TCA_ACT_KIND, s.Kind())
	e.nest(uapi.TCA_ACT_OPTIONS, s.options)
	if p.Cookie != nil {
		e.bytes(uapi.TCA_ACT_COOKIE, p.Cookie)
	}
	if p.Flags != 0 {
		b := binary.LittleEndian.AppendUint32(nil, uint32(p.Flags))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Flags))
		e.bytes(uapi.TCA_ACT_FLAGS, b)
	}
	return e.b
}

// EncodeSpecs returns the action list of the specs as TCA_BPF_ACT or
// TCA_ACT_TAB carries it: nests numbered from 1.
func EncodeSpecs(specs []Spec) []byte {
	var e encoder
	for i, s := range specs {
		e.bytes(uint16(i+1), EncodeSpec(s))
	}
	return e.b
}
