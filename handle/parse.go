package handle

import (
	"fmt"
	"strings"
)

// ParseError reports a string that tc would refuse as a handle, class id or
// parent. It is a user input error: it wraps no errno, since the kernel
// never sees such a string.
type ParseError struct {
	// Kind is what was being parsed: "classid", "qdisc handle", "filter
	// handle" or "parent".
	Kind string
	// Input is the string as given.
	Input string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error: parse <kind> "<input>": <reason>.
func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %s %q: %s", e.Kind, e.Input, e.Reason)
}

func parseErr(kind, input, reason string) error {
	return &ParseError{Kind: kind, Input: input, Reason: reason}
}

// ParseClassID parses a class id as iproute2's get_tc_classid does (used
// for tc's parent, classid and flowid arguments):
//
//   - "root" is Root and "none" is Unspec;
//   - "MAJ:MIN", "MAJ:" and ":MIN" (and ":" alone, which is 0) are hex
//     numbers, each with an optional 0x prefix and below 0x10000;
//   - a hex number with no colon is the full 32-bit value ("10" is 0x10,
//     printed ":10");
//   - anything after the number is an error.
//
// Numbers are read as C's strtoul reads them on a 64-bit host: leading
// white space and a sign are accepted, and a bare number is truncated to 32
// bits only after it was read in 64, so inputs such as "-1" (Root) or
// "100000001" (1) give what tc gives, while "10000ffff:1" is refused.
// Strings with a NUL byte, which tc cannot receive, are refused.
func ParseClassID(s string) (Handle, error) {
	const kind = "classid"
	switch s {
	case "root":
		return Root, nil
	case "none":
		return Unspec, nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return 0, parseErr(kind, s, "contains a NUL byte")
	}
	// tc keeps both numbers as unsigned long: the range checks see all
	// 64 bits, and only a bare number is truncated to 32.
	maj, p, _ := strtoul(s, 16)
	if p == 0 {
		maj = 0
		if !at(s, p, ':') {
			return 0, parseErr(kind, s, "not a hex number, \"root\" or \"none\"")
		}
	}
	if at(s, p, ':') {
		if maj >= 1<<16 {
			return 0, parseErr(kind, s, "major number exceeds ffff")
		}
		rest := s[p+1:]
		minor, mp, _ := strtoul(rest, 16)
		if mp != len(rest) {
			return 0, parseErr(kind, s, "minor number is not a hex number")
		}
		if minor >= 1<<16 {
			return 0, parseErr(kind, s, "minor number exceeds ffff")
		}
		return Handle(maj<<16 | minor), nil
	}
	if p != len(s) {
		return 0, parseErr(kind, s, "trailing characters after the number")
	}
	return Handle(uint32(maj)), nil
}

// ParseQdisc parses a qdisc handle as iproute2's get_qdisc_handle does:
// "none" is 0; otherwise a hex major below 0x10000 (optional 0x prefix),
// followed by ":" or the end of the string. Anything after the colon is
// ignored, so "1:", "1" and "1:ab" are all 1:0.
func ParseQdisc(s string) (Handle, error) {
	const kind = "qdisc handle"
	if s == "none" {
		return Unspec, nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return 0, parseErr(kind, s, "contains a NUL byte")
	}
	maj, p, _ := strtoul(s, 16)
	if p == 0 {
		return 0, parseErr(kind, s, "not a hex number or \"none\"")
	}
	if maj >= 1<<16 {
		return 0, parseErr(kind, s, "major number exceeds ffff")
	}
	if p != len(s) && s[p] != ':' {
		return 0, parseErr(kind, s, "major number not followed by ':'")
	}
	return Handle(maj << 16), nil
}

// ParseFilter parses a filter handle as tc's bpf filter does
// (tc/f_bpf.c: get_u32(&handle, str, 0)): an unsigned number with C's
// automatic base (0x or 0X prefix for hex, a leading 0 for octal, else
// decimal), no trailing characters, at most 0xFFFFFFFF. A cls_bpf handle
// is an opaque number, not major:minor; 0 asks the kernel to pick one.
//
// As with strtoul, leading white space and a sign are accepted ("-0" is 0;
// any other negative number is out of range). The "0b" binary prefix, which
// glibc 2.38 and later read under C23 rules, is refused, as by tc built
// against glibc 2.36 (Debian 12), the build this was checked against.
func ParseFilter(s string) (uint32, error) {
	const kind = "filter handle"
	if s == "" {
		return 0, parseErr(kind, s, "empty")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return 0, parseErr(kind, s, "contains a NUL byte")
	}
	v, p, _ := strtoul(s, 0)
	if p == 0 || p != len(s) {
		return 0, parseErr(kind, s, "not a number")
	}
	if v > 0xFFFFFFFF {
		return 0, parseErr(kind, s, "exceeds 0xffffffff")
	}
	return uint32(v), nil
}

// ParseParent parses a filter's parent as tc filter does: the keywords
// "root" (Root), "ingress" (IngressParent, 0xFFFFFFF2) and "egress"
// (EgressParent, 0xFFFFFFF3), which tc takes as options of their own, or a
// class id as ParseClassID reads it (tc's "parent CLASSID"). Note that tc
// itself refuses "parent ingress": the keywords are accepted here because a
// single string stands for both spellings.
func ParseParent(s string) (Handle, error) {
	switch s {
	case "ingress":
		return IngressParent, nil
	case "egress":
		return EgressParent, nil
	}
	h, err := ParseClassID(s)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Kind = "parent"
		}
		return 0, err
	}
	return h, nil
}

// at reports whether s[i] == c; past the end of s reads as C's NUL.
func at(s string, i int, c byte) bool {
	return i < len(s) && s[i] == c
}

// strtoul reads s as glibc's strtoul does on an LP64 host with base 0, 10 or
// 16: optional white space, an optional sign, an optional 0x/0X prefix
// (base 0 or 16), then digits. It returns the value (ULONG_MAX on overflow,
// negated modulo 2^64 after a minus sign), the index just past what was
// read (0 when nothing was converted, as strtoul then sets endptr to its
// argument; 1 past the 0 of a "0x" with no hex digit after it), and whether
// the value overflowed (errno ERANGE).
func strtoul(s string, base int) (v uint64, end int, overflow bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	prefixed := false
	if (base == 0 || base == 16) && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		i += 2
		base = 16
		prefixed = true
	} else if base == 0 {
		if i < len(s) && s[i] == '0' {
			base = 8
		} else {
			base = 10
		}
	}
	start := i
	const max = ^uint64(0)
	for ; i < len(s); i++ {
		d, ok := digit(s[i])
		if !ok || d >= uint64(base) {
			break
		}
		if overflow {
			continue
		}
		if v > (max-d)/uint64(base) {
			overflow = true
			continue
		}
		v = v*uint64(base) + d
	}
	if i == start {
		if prefixed {
			// "0x" with no hex digit: the 0 was the number.
			return 0, start - 1, false
		}
		return 0, 0, false
	}
	if overflow {
		return max, i, true
	}
	if neg {
		v = -v
	}
	return v, i, false
}

func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func digit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}
