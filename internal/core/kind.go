package core

import "fmt"

// Kind is the kind of a CO-RE relocation, enum bpf_core_relo_kind of
// include/uapi/linux/bpf.h; the values are the kernel's.
type Kind uint32

// The relocation kinds, in the kernel's numbering.
const (
	FieldByteOffset Kind = iota // BPF_CORE_FIELD_BYTE_OFFSET: field offset in bytes
	FieldByteSize               // BPF_CORE_FIELD_BYTE_SIZE: field size in bytes
	FieldExists                 // BPF_CORE_FIELD_EXISTS: 1 if the field exists in the target
	FieldSigned                 // BPF_CORE_FIELD_SIGNED: 1 if the field is a signed integer or enum
	FieldLShiftU64              // BPF_CORE_FIELD_LSHIFT_U64: bitfield left shift for a 64-bit load
	FieldRShiftU64              // BPF_CORE_FIELD_RSHIFT_U64: bitfield right shift after it
	TypeIDLocal                 // BPF_CORE_TYPE_ID_LOCAL: type ID in the program's own BTF
	TypeIDTarget                // BPF_CORE_TYPE_ID_TARGET: type ID in the target BTF
	TypeExists                  // BPF_CORE_TYPE_EXISTS: 1 if a compatible type exists
	TypeSize                    // BPF_CORE_TYPE_SIZE: size of the target type in bytes
	EnumvalExists               // BPF_CORE_ENUMVAL_EXISTS: 1 if the enumerator exists
	EnumvalValue                // BPF_CORE_ENUMVAL_VALUE: the enumerator's value in the target
	TypeMatches                 // BPF_CORE_TYPE_MATCHES: 1 if a matching type exists
)

// kindNames are the kernel's (and libbpf's) names, core_relo_kind_str.
var kindNames = [...]string{
	FieldByteOffset: "byte_off",
	FieldByteSize:   "byte_sz",
	FieldExists:     "field_exists",
	FieldSigned:     "signed",
	FieldLShiftU64:  "lshift_u64",
	FieldRShiftU64:  "rshift_u64",
	TypeIDLocal:     "local_type_id",
	TypeIDTarget:    "target_type_id",
	TypeExists:      "type_exists",
	TypeSize:        "type_size",
	EnumvalExists:   "enumval_exists",
	EnumvalValue:    "enumval_value",
	TypeMatches:     "type_matches",
}

// String returns the kernel's name for the kind ("byte_off", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("unknown(%d)", uint32(k))
}

// ParseKind returns the kind the kernel names s ("byte_off", ...).
func ParseKind(s string) (Kind, bool) {
	for k, name := range kindNames {
		if name == s {
			return Kind(k), true
		}
	}
	return 0, false
}

func (k Kind) fieldBased() bool { return k <= FieldRShiftU64 }

func (k Kind) typeBased() bool {
	switch k {
	case TypeIDLocal, TypeIDTarget, TypeExists, TypeSize, TypeMatches:
		return true
	}
	return false
}

func (k Kind) enumBased() bool { return k == EnumvalExists || k == EnumvalValue }
