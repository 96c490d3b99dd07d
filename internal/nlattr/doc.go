// Package nlattr parses netlink attribute streams the way the kernel's
// lib/nlattr.c does, so that a request this library accepts or refuses is
// the one the kernel accepts or refuses, with the same errno.
//
// # Model
//
// A stream is a run of struct nlattr {u16 nla_len; u16 nla_type} headers,
// each followed by its payload and padded to 4 bytes. Parse walks it as
// nla_for_each_attr does (a header that claims less than 4 bytes or more
// than what is left ends the walk; leftover bytes are ignored, as the
// kernel only warns about them), validates every attribute whose type has a
// policy entry (validate_nla in its liberal, "deprecated" mode, which is what
// nla_parse_nested_deprecated and therefore every tc classifier uses), and
// keeps the last attribute of each type, as the kernel's tb[] array does.
// The NLA_F_NESTED and NLA_F_NET_BYTEORDER bits are masked off the type and
// never checked in liberal mode.
//
// Encoding is left to github.com/mdlayher/netlink's AttributeEncoder; Append
// is a small helper for building requests by hand, malformed ones included.
//
// # Errors
//
// A failed validation is an *Error naming the attribute type, wrapping the
// errno validate_nla returns: ERANGE for a payload shorter than its integer
// type or longer than a binary or string limit, EINVAL for a NUL-terminated
// string without its NUL.
//
// # Limits
//
// Only the policy types cls_bpf and its callers use are modelled: unsigned
// integers, NUL-terminated and plain strings, binary, nested and flag
// attributes. Strict validation (NL_VALIDATE_STRICT) is not modelled because
// no tc classifier uses it.
//
// # Kernel source
//
// lib/nlattr.c (__nla_validate_parse, validate_nla) and
// include/net/netlink.h (nla_ok, nla_next).
package nlattr
