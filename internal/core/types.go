package core

import (
	"math"
	"syscall"

	"github.com/cilium/ebpf/btf"
)

// btfKind is the BTF_KIND_* of a cilium type, the unit the kernel's
// compatibility rules compare.
type btfKind uint8

const (
	kindUnknown btfKind = iota // BTF_KIND_UNKN (void)
	kindInt
	kindPtr
	kindArray
	kindStruct
	kindUnion
	kindEnum // BTF_KIND_ENUM and BTF_KIND_ENUM64 (cilium merges them)
	kindFwd
	kindTypedef
	kindModifier // volatile, const, restrict, type tag
	kindFunc
	kindFuncProto
	kindVar
	kindDatasec
	kindFloat
	kindOther
)

func kindOf(t btf.Type) btfKind {
	switch t.(type) {
	case *btf.Void:
		return kindUnknown
	case *btf.Int:
		return kindInt
	case *btf.Pointer:
		return kindPtr
	case *btf.Array:
		return kindArray
	case *btf.Struct:
		return kindStruct
	case *btf.Union:
		return kindUnion
	case *btf.Enum:
		return kindEnum
	case *btf.Fwd:
		return kindFwd
	case *btf.Typedef:
		return kindTypedef
	case *btf.Volatile, *btf.Const, *btf.Restrict, *btf.TypeTag:
		return kindModifier
	case *btf.Func:
		return kindFunc
	case *btf.FuncProto:
		return kindFuncProto
	case *btf.Var:
		return kindVar
	case *btf.Datasec:
		return kindDatasec
	case *btf.Float:
		return kindFloat
	}
	return kindOther
}

// kindName names a type's kind as the kernel's btf_type_str does.
func kindName(t btf.Type) string {
	switch t.(type) {
	case *btf.Void:
		return "UNKNOWN"
	case *btf.Int:
		return "int"
	case *btf.Pointer:
		return "ptr"
	case *btf.Array:
		return "array"
	case *btf.Struct:
		return "struct"
	case *btf.Union:
		return "union"
	case *btf.Enum:
		return "enum"
	case *btf.Fwd:
		return "fwd"
	case *btf.Typedef:
		return "typedef"
	case *btf.Volatile:
		return "volatile"
	case *btf.Const:
		return "const"
	case *btf.Restrict:
		return "restrict"
	case *btf.TypeTag:
		return "type_tag"
	case *btf.Func:
		return "func"
	case *btf.FuncProto:
		return "func_proto"
	case *btf.Var:
		return "var"
	case *btf.Datasec:
		return "datasec"
	case *btf.Float:
		return "float"
	}
	return "unknown"
}

// maxModifiers bounds modifier and typedef chains; kernel BTF is checked
// for loops at load, a spec built in Go is not.
const maxModifiers = 64

// skipMods strips modifiers and typedefs, btf_type_skip_modifiers. It
// returns nil for a chain that does not end (a loop built in Go).
func skipMods(t btf.Type) btf.Type {
	for range maxModifiers {
		switch v := t.(type) {
		case *btf.Typedef:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Const:
			t = v.Type
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		case nil:
			return nil
		default:
			return t
		}
	}
	return nil
}

// maxResolveDepth is the kernel's MAX_RESOLVE_DEPTH for btf_resolve_size.
const maxResolveDepth = 32

// resolveSize is btf_resolve_size: the size of a type in bytes through
// modifiers, typedefs and arrays. Types without a size (void, functions,
// forward declarations, variables, data sections) and sizes past 32 bits
// are errors.
func resolveSize(t btf.Type) (uint32, error) {
	nelems := uint64(1)
	for range maxResolveDepth {
		var size uint64
		switch v := t.(type) {
		case *btf.Int:
			size = uint64(v.Size)
		case *btf.Struct:
			size = uint64(v.Size)
		case *btf.Union:
			size = uint64(v.Size)
		case *btf.Enum:
			size = uint64(v.Size)
		case *btf.Float:
			size = uint64(v.Size)
		case *btf.Pointer:
			size = 8
		case *btf.Typedef:
			t = v.Type
			continue
		case *btf.Volatile:
			t = v.Type
			continue
		case *btf.Const:
			t = v.Type
			continue
		case *btf.Restrict:
			t = v.Type
			continue
		case *btf.TypeTag:
			t = v.Type
			continue
		case *btf.Array:
			if nelems != 0 && uint64(v.Nelems) > math.MaxUint32/nelems {
				return 0, failf(syscall.EINVAL, "array size overflows")
			}
			nelems *= uint64(v.Nelems)
			t = v.Type
			continue
		default:
			name := "nil"
			if t != nil {
				name = kindName(t)
			}
			return 0, failf(syscall.EINVAL, "type of kind %s has no size", name)
		}
		if nelems != 0 && size > math.MaxUint32/nelems {
			return 0, failf(syscall.EINVAL, "size overflows")
		}
		return uint32(nelems * size), nil
	}
	return 0, failf(syscall.EINVAL, "type chain deeper than %d", maxResolveDepth)
}

func skipModsOr(t btf.Type) btf.Type {
	if s := skipMods(t); s != nil {
		return s
	}
	return t
}

// members returns the members of a struct or union, and whether t is one.
func members(t btf.Type) ([]btf.Member, bool) {
	switch c := t.(type) {
	case *btf.Struct:
		return c.Members, true
	case *btf.Union:
		return c.Members, true
	}
	return nil, false
}

// essentialName strips a flavor suffix, bpf_core_essential_name_len: the
// name up to the last "___" that has a non-underscore on both sides
// ("sk_buff___old" → "sk_buff"; "__sk_buff" stays).
func essentialName(name string) string {
	for i := len(name) - 5; i >= 0; i-- {
		if name[i] != '_' && name[i+1] == '_' && name[i+2] == '_' && name[i+3] == '_' && name[i+4] != '_' {
			return name[:i+1]
		}
	}
	return name
}

// intSigned reports BTF_INT_SIGNED in an int's encoding.
func intSigned(i *btf.Int) bool { return i.Encoding&btf.Signed != 0 }

// enumIs32 reports whether a cilium enum stands for BTF_KIND_ENUM (32-bit
// values) rather than BTF_KIND_ENUM64: clang emits ENUM64 exactly for
// enums of 8 bytes.
func enumIs32(e *btf.Enum) bool { return e.Size <= 4 }

// enumValue is the value the kernel reads for an enumerator: a
// BTF_KIND_ENUM value is an s32 and widens with its sign whatever the
// enum's signedness; an ENUM64 value is used as is.
func enumValue(e *btf.Enum, i int) uint64 {
	v := e.Values[i].Value
	if enumIs32(e) {
		return uint64(int64(int32(uint32(v))))
	}
	return v
}

// typeLabel renders a local type for error messages: "struct name".
func typeLabel(t btf.Type, id btf.TypeID) string {
	if t == nil {
		return "[" + itoa(uint64(id)) + "]"
	}
	name := t.TypeName()
	if name == "" {
		name = "<anon>"
	}
	return "[" + itoa(uint64(id)) + "] " + kindName(t) + " " + name
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
