package core

// Relocation values for one local spec against one target spec (or none):
// bpf_core_calc_field_relo, bpf_core_calc_type_relo,
// bpf_core_calc_enumval_relo and bpf_core_calc_relo of
// tools/lib/bpf/relo_core.c.

import (
	"syscall"

	"github.com/cilium/ebpf/btf"
)

// result is struct bpf_core_relo_res: the value the compiler put in the
// instruction (orig) and the one the target needs (new), the memory access
// sizes for loads and stores, and whether to poison instead.
type result struct {
	orig, new     uint64
	poison        bool
	validate      bool
	failMemszAdj  bool
	origSz, newSz uint32
	origTy, newTy btf.Type
	targetBitOff  uint32
}

// errPoison stands for the kernel's -EUCLEAN: the relocation cannot be
// satisfied and the instruction is to be poisoned. It never leaves the
// package (EUCLEAN is not an errno on every OS).
var errPoison = &fail{msg: "poison"}

// fieldValue computes a field-based relocation's value on one side; spec
// is nil when no target candidate matched.
func fieldValue(kind Kind, spec *coreSpec, validate *bool) (val uint64, sz uint32, ty btf.Type, err error) {
	if kind == FieldExists {
		if spec != nil {
			return 1, 0, nil, nil
		}
		return 0, 0, nil, nil
	}
	if spec == nil {
		return 0, 0, nil, errPoison
	}
	acc := spec.acc[len(spec.acc)-1]
	if !acc.named {
		switch kind {
		case FieldByteOffset:
			s, err := resolveSize(acc.typ)
			if err != nil {
				return 0, 0, nil, failf(syscall.EINVAL, "array element size: %v", err)
			}
			val, sz, ty = uint64(spec.bitOffset/8), s, acc.typ
		case FieldByteSize:
			s, err := resolveSize(acc.typ)
			if err != nil {
				return 0, 0, nil, failf(syscall.EINVAL, "array element size: %v", err)
			}
			val = uint64(s)
		default:
			return 0, 0, nil, failf(syscall.EINVAL, "relocation %s can't be applied to array access", kind)
		}
		if validate != nil {
			*validate = true
		}
		return val, sz, ty, nil
	}

	ms, _ := members(acc.typ)
	m := ms[acc.idx]
	mt := skipMods(m.Type)
	if mt == nil {
		return 0, 0, nil, failf(syscall.EINVAL, "member type has no end")
	}
	bitOff := spec.bitOffset
	bitSz := uint32(m.BitfieldSize)
	bitfield := bitSz > 0
	var byteOff, byteSz uint32
	if bitfield {
		s, err := resolveSize(mt)
		if err != nil || s == 0 {
			return 0, 0, nil, failf(syscall.EINVAL, "bitfield of unsized type %s", kindName(mt))
		}
		byteSz = s
		byteOff = bitOff / 8 / byteSz * byteSz
		for bitOff+bitSz-byteOff*8 > byteSz*8 {
			if byteSz >= 8 {
				return 0, 0, nil, failf(syscall.E2BIG, "relo %s can't be satisfied for bitfield", kind)
			}
			byteSz *= 2
			byteOff = bitOff / 8 / byteSz * byteSz
		}
	} else {
		s, err := resolveSize(mt)
		if err != nil {
			return 0, 0, nil, failf(syscall.EINVAL, "field size: %v", err)
		}
		byteSz = s
		byteOff = bitOff / 8
		bitSz = byteSz * 8
	}
	if validate != nil {
		*validate = !bitfield
	}
	switch kind {
	case FieldByteOffset:
		val = uint64(byteOff)
		if !bitfield {
			sz, ty = byteSz, mt
		}
	case FieldByteSize:
		val = uint64(byteSz)
	case FieldSigned:
		switch v := mt.(type) {
		case *btf.Enum:
			if v.Signed {
				val = 1
			}
		case *btf.Int:
			if intSigned(v) {
				val = 1
			}
		}
		if validate != nil {
			*validate = true
		}
	case FieldLShiftU64:
		// Little-endian: the target of every program this library runs.
		val = uint64(uint32(64 - (bitOff + bitSz - byteOff*8)))
	case FieldRShiftU64:
		val = uint64(uint32(64 - bitSz))
		if validate != nil {
			*validate = true
		}
	default:
		return 0, 0, nil, failf(syscall.EOPNOTSUPP, "unrecognized CO-RE relocation %s", kind)
	}
	return val, sz, ty, nil
}

// typeValue computes a type-based relocation's value on one side.
func typeValue(kind Kind, spec *coreSpec, validate *bool) (uint64, error) {
	if validate != nil {
		*validate = true
	}
	if spec == nil {
		return 0, nil
	}
	switch kind {
	case TypeIDTarget:
		if validate != nil {
			*validate = false
		}
		return uint64(spec.rootID), nil
	case TypeExists, TypeMatches:
		return 1, nil
	case TypeSize:
		sz, err := resolveSize(spec.root)
		if err != nil {
			return 0, failf(syscall.EINVAL, "type size: %v", err)
		}
		return uint64(sz), nil
	}
	return 0, failf(syscall.EOPNOTSUPP, "unrecognized CO-RE relocation %s", kind)
}

// enumValueOf computes an enum-based relocation's value on one side.
func enumValueOf(kind Kind, spec *coreSpec) (uint64, error) {
	switch kind {
	case EnumvalExists:
		if spec != nil {
			return 1, nil
		}
		return 0, nil
	case EnumvalValue:
		if spec == nil {
			return 0, errPoison
		}
		e := spec.acc[0].typ.(*btf.Enum)
		return enumValue(e, spec.acc[0].idx), nil
	}
	return 0, failf(syscall.EOPNOTSUPP, "unrecognized CO-RE relocation %s", kind)
}

// calcRelo is bpf_core_calc_relo: both sides' values and whether a load
// or store may change size.
func calcRelo(local, target *coreSpec) (result, error) {
	res := result{validate: true}
	var err error
	kind := local.kind
	switch {
	case kind.fieldBased():
		res.orig, res.origSz, res.origTy, err = fieldValue(kind, local, &res.validate)
		if err == nil {
			res.new, res.newSz, res.newTy, err = fieldValue(kind, target, nil)
		}
		if err == nil && res.origSz != res.newSz {
			op, okp := res.origTy.(*btf.Pointer)
			np, oknp := res.newTy.(*btf.Pointer)
			oi, oki := res.origTy.(*btf.Int)
			ni, okni := res.newTy.(*btf.Int)
			switch {
			case okp && oknp && op != nil && np != nil:
			case oki && okni && oi.Encoding != btf.Signed && ni.Encoding != btf.Signed:
			default:
				res.failMemszAdj = true
			}
		}
	case kind.typeBased():
		res.orig, err = typeValue(kind, local, &res.validate)
		if err == nil {
			res.new, err = typeValue(kind, target, nil)
		}
	case kind.enumBased():
		res.orig, err = enumValueOf(kind, local)
		if err == nil {
			res.new, err = enumValueOf(kind, target)
		}
	default:
		err = failf(syscall.EOPNOTSUPP, "unrecognized CO-RE relocation %s", kind)
	}
	if err == errPoison {
		return result{poison: true, validate: res.validate}, nil
	}
	if target != nil {
		res.targetBitOff = target.bitOffset
	}
	return res, err
}
