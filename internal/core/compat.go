package core

// Type compatibility for type-based relocations and the stricter "match"
// relation behind bpf_core_type_matches(): __bpf_core_types_are_compat and
// __bpf_core_types_match of tools/lib/bpf/relo_core.c.

import (
	"syscall"

	"github.com/cilium/ebpf/btf"
)

// limits are the recursion bounds, the one place libbpf and the kernel
// differ when they walk types: libbpf allows 32 levels of function
// prototypes and struct members, the kernel 2 (MAX_TYPES_ARE_COMPAT_DEPTH
// and MAX_TYPES_MATCH_DEPTH in kernel/bpf/btf.c).
type limits struct {
	compatDepth int
	matchDepth  int
}

var (
	libbpfLimits = limits{compatDepth: 32, matchDepth: 32}
	kernelLimits = limits{compatDepth: 2, matchDepth: 2}
)

// maxChain is the "depth = 32" guard both walks put on one chain of
// pointers and arrays.
const maxChain = 32

// kindsCompatible is btf_kind_core_compat: same kind, or two enums.
func kindsCompatible(a, b btf.Type) bool { return kindOf(a) == kindOf(b) }

// typesCompatible is __bpf_core_types_are_compat: the relation
// type_exists, type_size and target_type_id relocations use. The caller
// has already matched the names.
func typesCompatible(local, target btf.Type, level int) (bool, error) {
	steps := maxMatchSteps
	return typesCompatibleN(local, target, level, &steps)
}

func typesCompatibleN(local, target btf.Type, level int, steps *int) (bool, error) {
	*steps--
	if *steps < 0 {
		return false, failf(syscall.E2BIG, "type compatibility walk longer than %d steps", maxMatchSteps)
	}
	if !kindsCompatible(local, target) {
		return false, nil
	}
	for depth := maxChain; ; {
		depth--
		if depth < 0 {
			return false, failf(syscall.EINVAL, "type chain deeper than %d", maxChain)
		}
		local, target = skipMods(local), skipMods(target)
		if local == nil || target == nil {
			return false, failf(syscall.EINVAL, "type has no end")
		}
		if !kindsCompatible(local, target) {
			return false, nil
		}
		switch kindOf(local) {
		case kindUnknown, kindStruct, kindUnion, kindEnum, kindFwd:
			return true, nil
		case kindInt:
			return true, nil
		case kindPtr:
			local, target = local.(*btf.Pointer).Target, target.(*btf.Pointer).Target
		case kindArray:
			local, target = local.(*btf.Array).Type, target.(*btf.Array).Type
		case kindFuncProto:
			lp, tp := local.(*btf.FuncProto), target.(*btf.FuncProto)
			if len(lp.Params) != len(tp.Params) {
				return false, nil
			}
			for i := range lp.Params {
				if level <= 0 {
					return false, failf(syscall.EINVAL, "function prototypes nested deeper than the limit")
				}
				ok, err := typesCompatibleN(skipModsOr(lp.Params[i].Type), skipModsOr(tp.Params[i].Type), level-1, steps)
				if !ok || err != nil {
					return false, err
				}
			}
			local, target = skipModsOr(lp.Return), skipModsOr(tp.Return)
		default:
			return false, nil
		}
	}
}

// namesMatch is bpf_core_names_match: an anonymous target matches only an
// anonymous local; otherwise the names match without their flavors.
func namesMatch(local, target string) bool {
	if target == "" {
		return local == ""
	}
	return essentialName(local) == essentialName(target)
}

// enumsMatch is bpf_core_enums_match: same size, and every local
// enumerator has a target enumerator of the same name.
func enumsMatch(local, target *btf.Enum) bool {
	if local.Size != target.Size || len(local.Values) > len(target.Values) {
		return false
	}
	for _, lv := range local.Values {
		found := false
		for _, tv := range target.Values {
			if namesMatch(lv.Name, tv.Name) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// compositesMatch is bpf_core_composites_match: every local member has a
// target member of the same name whose type matches.
func compositesMatch(local, target []btf.Member, behindPtr bool, level int, steps *int) (bool, error) {
	if len(local) > len(target) {
		return false, nil
	}
	for _, lm := range local {
		matched := false
		for _, tm := range target {
			if !namesMatch(lm.Name, tm.Name) {
				continue
			}
			ok, err := typesMatchN(lm.Type, tm.Type, behindPtr, level-1, steps)
			if err != nil {
				return false, err
			}
			if ok {
				matched = true
				break
			}
		}
		if !matched {
			return false, nil
		}
	}
	return true, nil
}

// maxMatchSteps bounds the work of one compatibility or match walk. BTF
// the kernel accepts never nests a struct inside itself, and real types
// finish in a few hundred steps; types built in Go may nest, and function
// prototypes whose parameters point back to them branch at every level,
// so without a bound the member-by-member search could run for hours.
const maxMatchSteps = 1 << 16

// typesMatch is __bpf_core_types_match: the relation type_matches
// relocations use.
func typesMatch(local, target btf.Type, behindPtr bool, level int) (bool, error) {
	steps := maxMatchSteps
	return typesMatchN(local, target, behindPtr, level, &steps)
}

func typesMatchN(local, target btf.Type, behindPtr bool, level int, steps *int) (bool, error) {
	*steps--
	if *steps < 0 {
		return false, failf(syscall.E2BIG, "type_matches walk longer than %d steps", maxMatchSteps)
	}
	if level <= 0 {
		return false, failf(syscall.EINVAL, "types nested deeper than the match limit")
	}
	for depth := maxChain; ; {
		depth--
		if depth < 0 {
			return false, failf(syscall.EINVAL, "type chain deeper than %d", maxChain)
		}
		local, target = skipMods(local), skipMods(target)
		if local == nil || target == nil {
			return false, failf(syscall.EINVAL, "type has no end")
		}
		if !namesMatch(local.TypeName(), target.TypeName()) {
			return false, nil
		}
		lk, tk := kindOf(local), kindOf(target)
		switch lk {
		case kindUnknown:
			return lk == tk, nil
		case kindFwd:
			lunion := local.(*btf.Fwd).Kind == btf.FwdUnion
			if behindPtr {
				if tk == kindFwd {
					return lunion == (target.(*btf.Fwd).Kind == btf.FwdUnion), nil
				}
				return (tk == kindStruct && !lunion) || (tk == kindUnion && lunion), nil
			}
			if tk != kindFwd {
				return false, nil
			}
			return lunion == (target.(*btf.Fwd).Kind == btf.FwdUnion), nil
		case kindEnum:
			te, ok := target.(*btf.Enum)
			if !ok {
				return false, nil
			}
			return enumsMatch(local.(*btf.Enum), te), nil
		case kindStruct, kindUnion:
			if behindPtr {
				if lk == tk {
					return true, nil
				}
				if tk != kindFwd {
					return false, nil
				}
				return (lk == kindUnion) == (target.(*btf.Fwd).Kind == btf.FwdUnion), nil
			}
			if lk != tk {
				return false, nil
			}
			lms, _ := members(local)
			tms, _ := members(target)
			return compositesMatch(lms, tms, behindPtr, level, steps)
		case kindInt:
			if tk != kindInt {
				return false, nil
			}
			li, ti := local.(*btf.Int), target.(*btf.Int)
			return li.Size == ti.Size && intSigned(li) == intSigned(ti), nil
		case kindPtr:
			if tk != kindPtr {
				return false, nil
			}
			behindPtr = true
			local, target = local.(*btf.Pointer).Target, target.(*btf.Pointer).Target
		case kindArray:
			if tk != kindArray {
				return false, nil
			}
			la, ta := local.(*btf.Array), target.(*btf.Array)
			if la.Nelems != ta.Nelems {
				return false, nil
			}
			local, target = la.Type, ta.Type
		case kindFuncProto:
			if tk != kindFuncProto {
				return false, nil
			}
			lp, tp := local.(*btf.FuncProto), target.(*btf.FuncProto)
			if len(lp.Params) != len(tp.Params) {
				return false, nil
			}
			for i := range lp.Params {
				ok, err := typesMatchN(lp.Params[i].Type, tp.Params[i].Type, behindPtr, level-1, steps)
				if !ok || err != nil {
					return false, err
				}
			}
			local, target = lp.Return, tp.Return
		default:
			return false, nil
		}
	}
}
