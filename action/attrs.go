package action

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// pol is one attribute policy: an nlattr policy plus the two policy forms
// nlattr does not cover, NLA_BITFIELD32 with its valid mask and
// NLA_POLICY_MIN on an integer.
type pol struct {
	nlattr.Policy
	bitfield uint32 // NLA_BITFIELD32 with this valid mask
	min      uint64 // NLA_POLICY_MIN, checked when hasMin
	hasMin   bool
	exact    int // NLA_POLICY_EXACT_LEN under strict validation
}

var (
	polU8     = pol{Policy: nlattr.Policy{Type: nlattr.U8}}
	polU16    = pol{Policy: nlattr.Policy{Type: nlattr.U16}}
	polU32    = pol{Policy: nlattr.Policy{Type: nlattr.U32}}
	polU64    = pol{Policy: nlattr.Policy{Type: nlattr.U64}}
	polNested = pol{Policy: nlattr.Policy{Type: nlattr.Nested}}
)

// polLen is a { .len = n } entry: NLA_UNSPEC with a minimum length.
func polLen(n int) pol { return pol{Policy: nlattr.Policy{Type: nlattr.Unspec, Len: n}} }

// attrs is the kernel's tb[] after a parse: the last attribute of each
// type, nil when absent.
type attrs []*nlattr.Attr

func (tb attrs) has(t int) bool { return t < len(tb) && tb[t] != nil }

func (tb attrs) data(t int) []byte { return tb[t].Data }

func (tb attrs) u8(t int) uint8   { return tb[t].Data[0] }
func (tb attrs) u16(t int) uint16 { return binary.LittleEndian.Uint16(tb[t].Data) }
func (tb attrs) u32(t int) uint32 { return binary.LittleEndian.Uint32(tb[t].Data) }
func (tb attrs) u64(t int) uint64 { return binary.LittleEndian.Uint64(tb[t].Data) }

// be16 is nla_get_be16: the first two bytes in network order.
func (tb attrs) be16(t int) uint16 { return binary.BigEndian.Uint16(tb[t].Data) }

// errPolicy is the extack validate_nla sets for a refused attribute.
const errPolicy = "Attribute failed policy validation"

// parse is nla_parse_nested_deprecated: walk b, skip types 0 and above
// max, validate the rest against policy in stream order, keep the last of
// each type. Trailing bytes that do not form an attribute are ignored, as
// the liberal parser only warns about them.
func parse(b []byte, max int, policy []pol) (attrs, error) {
	tb := make(attrs, max+1)
	var err error
	nlattr.Walk(b, func(a nlattr.Attr) bool {
		t := int(a.Type)
		if t == 0 || t > max {
			return true
		}
		var p pol
		if t < len(policy) {
			p = policy[t]
		}
		if err = validate(a, p); err != nil {
			return false
		}
		aa := a
		tb[t] = &aa
		return true
	})
	if err != nil {
		return nil, err
	}
	return tb, nil
}

func validate(a nlattr.Attr, p pol) error {
	if p.bitfield != 0 {
		if len(a.Data) != uapi.SizeofNlaBitfield32 {
			return &Error{Errno: syscall.ERANGE, Msg: errPolicy, Err: fmt.Errorf("attribute %d: bitfield32 of %d bytes", a.Type, len(a.Data))}
		}
		value := binary.LittleEndian.Uint32(a.Data)
		selector := binary.LittleEndian.Uint32(a.Data[4:])
		if selector&^p.bitfield != 0 || value&^p.bitfield != 0 || value&^selector != 0 {
			return &Error{Errno: syscall.EINVAL, Msg: errPolicy, Err: fmt.Errorf("attribute %d: bitfield32 value %#x selector %#x outside %#x", a.Type, value, selector, p.bitfield)}
		}
		return nil
	}
	if p.exact > 0 {
		if len(a.Data) != p.exact {
			return &Error{Errno: syscall.ERANGE, Msg: "binary attribute size out of range"}
		}
		return nil
	}
	if err := nlattr.Validate(a, p.Policy); err != nil {
		return &Error{Errno: err.(*nlattr.Error).Errno, Msg: errPolicy, Err: err}
	}
	if p.hasMin {
		var v uint64
		switch p.Type {
		case nlattr.U32:
			v = uint64(binary.LittleEndian.Uint32(a.Data))
		case nlattr.U64:
			v = binary.LittleEndian.Uint64(a.Data)
		}
		if v < p.min {
			return &Error{Errno: syscall.ERANGE, Msg: "integer out of range"}
		}
	}
	return nil
}

// tcGen is the tc_gen header every kind's parameter struct starts with.
type tcGen struct {
	index   uint32
	capab   uint32
	action  Verdict
	refcnt  int32
	bindcnt int32
}

func getGen(b []byte) tcGen {
	return tcGen{
		index:   binary.LittleEndian.Uint32(b),
		capab:   binary.LittleEndian.Uint32(b[4:]),
		action:  Verdict(binary.LittleEndian.Uint32(b[8:])),
		refcnt:  int32(binary.LittleEndian.Uint32(b[12:])),
		bindcnt: int32(binary.LittleEndian.Uint32(b[16:])),
	}
}

func putGen(b []byte, g tcGen) []byte {
	b = binary.LittleEndian.AppendUint32(b, g.index)
	b = binary.LittleEndian.AppendUint32(b, g.capab)
	b = binary.LittleEndian.AppendUint32(b, uint32(g.action))
	b = binary.LittleEndian.AppendUint32(b, uint32(g.refcnt))
	return binary.LittleEndian.AppendUint32(b, uint32(g.bindcnt))
}

// encoder builds attribute streams the way the kernel's nla_put family
// does: no NLA_F_NESTED on nests, 4-byte padding, host byte order.
type encoder struct{ b []byte }

func (e *encoder) bytes(t uint16, d []byte) { e.b = nlattr.Append(e.b, t, d) }
func (e *encoder) u8(t uint16, v uint8)     { e.bytes(t, []byte{v}) }
func (e *encoder) u16(t uint16, v uint16)   { e.b = nlattr.AppendUint16(e.b, t, v) }
func (e *encoder) be16(t uint16, v uint16) {
	e.bytes(t, binary.BigEndian.AppendUint16(nil, v))
}
func (e *encoder) u32(t uint16, v uint32) { e.b = nlattr.AppendUint32(e.b, t, v) }
func (e *encoder) u64(t uint16, v uint64) {
	e.bytes(t, binary.LittleEndian.AppendUint64(nil, v))
}
func (e *encoder) str(t uint16, s string) { e.b = nlattr.AppendString(e.b, t, s) }

// nest writes a nest of type t whose payload fn appends.
func (e *encoder) nest(t uint16, fn func(e *encoder)) {
	start := len(e.b)
	e.b = append(e.b, 0, 0, 0, 0)
	fn(e)
	binary.LittleEndian.PutUint16(e.b[start:], uint16(len(e.b)-start))
	binary.LittleEndian.PutUint16(e.b[start+2:], t)
}

// tm appends a struct tcf_t as tcf_tm_dump fills it: ages in USER_HZ
// ticks, firstuse 0 when the action never ran, expires 0.
func (e *encoder) tm(t uint16, c *Common) {
	now := c.clock.Now()
	age := func(stamp int64) uint64 {
		d := now - stamp
		if d < 0 {
			d = 0
		}
		return uint64(d / (1e9 / uapi.USER_HZ))
	}
	var first uint64
	if f := c.firstuse.Load(); f != 0 {
		first = age(f)
	}
	b := make([]byte, 0, uapi.SizeofTcfT)
	b = binary.LittleEndian.AppendUint64(b, age(c.install))
	b = binary.LittleEndian.AppendUint64(b, age(c.lastuse.Load()))
	b = binary.LittleEndian.AppendUint64(b, 0) // expires
	b = binary.LittleEndian.AppendUint64(b, first)
	e.bytes(t, b)
}
