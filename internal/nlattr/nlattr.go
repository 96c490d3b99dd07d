package nlattr

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Type is the type of a policy entry (the kernel's NLA_* policy types).
type Type uint8

// Policy types.
const (
	Unspec    Type = iota // NLA_UNSPEC: any payload of at least Len bytes
	U8                    // NLA_U8
	U16                   // NLA_U16
	U32                   // NLA_U32
	U64                   // NLA_U64
	String                // NLA_STRING: at most Len bytes, a trailing NUL not counted
	NulString             // NLA_NUL_STRING: a NUL within the first Len+1 bytes
	Binary                // NLA_BINARY: at most Len bytes
	Nested                // NLA_NESTED: empty or at least one header
	Flag                  // NLA_FLAG: no payload
)

// Policy says how one attribute type is validated (struct nla_policy).
// Len is the limit whose meaning depends on Type, 0 for none.
type Policy struct {
	Type Type
	Len  int
}

// minLen is nla_attr_minlen for the integer types.
var minLen = [...]int{U8: 1, U16: 2, U32: 4, U64: 8, Nested: uapi.NLA_HDRLEN}

// Attr is one attribute as found in a stream.
type Attr struct {
	// Type is nla_type with the NESTED and NET_BYTEORDER bits masked off.
	Type uint16
	// Flags holds the NESTED and NET_BYTEORDER bits of nla_type.
	Flags uint16
	// Data is the payload, nla_len-4 bytes, aliasing the parsed buffer.
	Data []byte
}

// Table holds the last attribute of each type 1..max after Parse, indexed by
// type; a nil entry means the type was absent (the kernel's tb[]).
type Table []*Attr

// Has reports whether attribute typ was present.
func (t Table) Has(typ uint16) bool { return int(typ) < len(t) && t[typ] != nil }

// Uint16 is nla_get_u16: the first two payload bytes, host (little-endian)
// order. The policy guarantees at least two bytes.
func (t Table) Uint16(typ uint16) uint16 { return binary.LittleEndian.Uint16(t[typ].Data) }

// Uint32 is nla_get_u32: the first four payload bytes, host order.
func (t Table) Uint32(typ uint16) uint32 { return binary.LittleEndian.Uint32(t[typ].Data) }

// Error is a policy violation of one attribute.
type Error struct {
	// Type is the attribute type that failed.
	Type uint16
	// Errno is what validate_nla returns (EINVAL or ERANGE).
	Errno syscall.Errno
	// Reason says what was wrong.
	Reason string
}

// Error returns "attribute N: reason: errno text".
func (e *Error) Error() string {
	return fmt.Sprintf("attribute %d: %s: %v", e.Type, e.Reason, e.Errno)
}

// Unwrap returns the errno so errors.Is(err, syscall.ERANGE) holds.
func (e *Error) Unwrap() error { return e.Errno }

// Walk calls fn for each attribute of the stream b in order, stopping where
// nla_for_each_attr stops (a header shorter than 4 bytes, or claiming more
// bytes than remain), and returns the number of leftover bytes. fn returning
// false ends the walk early.
func Walk(b []byte, fn func(a Attr) bool) (leftover int) {
	for len(b) >= uapi.NLA_HDRLEN {
		l := int(binary.LittleEndian.Uint16(b[0:2]))
		t := binary.LittleEndian.Uint16(b[2:4])
		if l < uapi.NLA_HDRLEN || l > len(b) {
			break
		}
		a := Attr{Type: t & uapi.NLA_TYPE_MASK, Flags: t &^ uapi.NLA_TYPE_MASK, Data: b[uapi.NLA_HDRLEN:l:l]}
		if !fn(a) {
			return 0
		}
		next := align(l)
		if next >= len(b) {
			return 0
		}
		b = b[next:]
	}
	return len(b)
}

// Parse walks the attribute stream b as __nla_validate_parse does in liberal
// mode: types 0 and above maxType are skipped without validation, every
// other attribute is validated against policy[type] (entries beyond the
// policy slice are Unspec with Len 0), and the last attribute of each type
// is kept. It returns the first validation error.
func Parse(b []byte, maxType int, policy []Policy) (Table, error) {
	tb := make(Table, maxType+1)
	attrs := make([]Attr, 0, 8)
	var err error
	Walk(b, func(a Attr) bool {
		if a.Type == 0 || int(a.Type) > maxType {
			return true
		}
		var p Policy
		if int(a.Type) < len(policy) {
			p = policy[a.Type]
		}
		if err = Validate(a, p); err != nil {
			return false
		}
		attrs = append(attrs, a)
		return true
	})
	if err != nil {
		return nil, err
	}
	for i := range attrs {
		tb[attrs[i].Type] = &attrs[i]
	}
	return tb, nil
}

// Validate checks one attribute against its policy entry as validate_nla
// does with NL_VALIDATE_LIBERAL.
func Validate(a Attr, p Policy) error {
	n := len(a.Data)
	fail := func(errno syscall.Errno, reason string) error {
		return &Error{Type: a.Type, Errno: errno, Reason: reason}
	}
	switch p.Type {
	case Flag:
		if n > 0 {
			return fail(syscall.ERANGE, "flag attribute carries a payload")
		}
	case NulString:
		m := n
		if p.Len > 0 {
			m = min(n, p.Len+1)
		}
		if m == 0 || indexNul(a.Data[:m]) < 0 {
			return fail(syscall.EINVAL, "string is not NUL-terminated")
		}
		fallthrough
	case String:
		if n < 1 {
			return fail(syscall.ERANGE, "empty string")
		}
		if p.Len > 0 {
			if a.Data[n-1] == 0 {
				n--
			}
			if n > p.Len {
				return fail(syscall.ERANGE, fmt.Sprintf("string longer than %d bytes", p.Len))
			}
		}
	case Binary:
		if p.Len > 0 && n > p.Len {
			return fail(syscall.ERANGE, fmt.Sprintf("binary payload of %d bytes exceeds %d", n, p.Len))
		}
	case Nested:
		if n != 0 && n < uapi.NLA_HDRLEN {
			return fail(syscall.ERANGE, "nested payload shorter than an attribute header")
		}
	case Unspec:
		if n < p.Len {
			return fail(syscall.ERANGE, fmt.Sprintf("payload of %d bytes, need %d", n, p.Len))
		}
	default:
		want := minLen[p.Type]
		if p.Len > 0 {
			want = p.Len
		}
		if n < want {
			return fail(syscall.ERANGE, fmt.Sprintf("payload of %d bytes, need %d", n, want))
		}
	}
	return nil
}

func indexNul(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func align(n int) int { return (n + uapi.NLA_ALIGNTO - 1) &^ (uapi.NLA_ALIGNTO - 1) }

// Append appends one attribute of type typ (flags included) with payload
// data to b, padded with zero bytes to 4, and returns the extended slice.
// nla_len is 4+len(data); a payload longer than 0xFFFB bytes is written with
// a truncated nla_len, which is what a malformed request looks like.
func Append(b []byte, typ uint16, data []byte) []byte {
	var h [uapi.NLA_HDRLEN]byte
	binary.LittleEndian.PutUint16(h[0:2], uint16(uapi.NLA_HDRLEN+len(data)))
	binary.LittleEndian.PutUint16(h[2:4], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for pad := align(len(data)) - len(data); pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// AppendUint16 appends a u16 attribute in host order.
func AppendUint16(b []byte, typ uint16, v uint16) []byte {
	return Append(b, typ, binary.LittleEndian.AppendUint16(nil, v))
}

// AppendUint32 appends a u32 attribute in host order.
func AppendUint32(b []byte, typ uint16, v uint32) []byte {
	return Append(b, typ, binary.LittleEndian.AppendUint32(nil, v))
}

// AppendString appends a string attribute with its trailing NUL.
func AppendString(b []byte, typ uint16, s string) []byte {
	return Append(b, typ, append([]byte(s), 0))
}
