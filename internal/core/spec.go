package core

// This file turns an access string into a spec over the local type and
// matches it against a target type: bpf_core_parse_spec and
// bpf_core_spec_match of tools/lib/bpf/relo_core.c (built into the kernel
// as kernel/bpf/relo_core.c).

import (
	"syscall"

	"github.com/cilium/ebpf/btf"
)

// maxSpecLen is BPF_CORE_SPEC_MAX_LEN: the deepest access string, and the
// deepest nesting a target match may walk through.
const maxSpecLen = 64

// accessor is one high-level step of a spec: a named field of a struct or
// union (typ is the composite, idx the member), or an array element (typ
// is the element type, name empty). The first accessor is the initial
// pointer-as-array index on the root type.
type accessor struct {
	typ   btf.Type
	idx   int
	name  string
	named bool
}

// coreSpec is struct bpf_core_spec: the raw access indices, the
// high-level accessors and the bit offset they reach.
type coreSpec struct {
	root      btf.Type // the relocated type as given (typedefs kept)
	rootID    btf.TypeID
	kind      Kind
	raw       []int
	acc       []accessor
	bitOffset uint32
}

// parseAccessString splits "0:1:2" as the kernel's loop of
// sscanf("%d%n") does: one optional ':' before each number, leading white
// space and a sign allowed. Negative indices, which the kernel would use
// to index before its arrays, are rejected.
func parseAccessString(s string) ([]int, error) {
	if s == "" || s[0] == ':' {
		return nil, failf(syscall.EINVAL, "access string %q is empty or starts with ':'", s)
	}
	var raw []int
	for i := 0; i < len(s); {
		if s[i] == ':' {
			i++
		}
		for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
			i++
		}
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		start := i
		var v int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			v = v*10 + int64(s[i]-'0')
			if v > 1<<31 {
				return nil, failf(syscall.EINVAL, "access string %q: index out of range", s)
			}
			i++
		}
		if i == start {
			return nil, failf(syscall.EINVAL, "access string %q: no index at byte %d", s, i)
		}
		if neg && v != 0 {
			return nil, failf(syscall.EINVAL, "access string %q: negative index", s)
		}
		if v > 1<<31-1 {
			return nil, failf(syscall.EINVAL, "access string %q: index out of range", s)
		}
		if len(raw) == maxSpecLen {
			return nil, failf(syscall.E2BIG, "access string %q: more than %d indices", s, maxSpecLen)
		}
		raw = append(raw, int(v))
	}
	return raw, nil
}

// parseSpec is bpf_core_parse_spec: it checks the access string against
// the local type and computes the local bit offset.
func parseSpec(root btf.Type, rootID btf.TypeID, access string, kind Kind) (*coreSpec, error) {
	if access == "" || access[0] == ':' {
		return nil, failf(syscall.EINVAL, "access string %q is empty or starts with ':'", access)
	}
	spec := &coreSpec{root: root, rootID: rootID, kind: kind}
	if kind.typeBased() {
		if access != "0" {
			return nil, failf(syscall.EINVAL, "type-based relocation with access string %q, want \"0\"", access)
		}
		return spec, nil
	}
	raw, err := parseAccessString(access)
	if err != nil {
		return nil, err
	}
	spec.raw = raw
	t := skipMods(root)
	if t == nil {
		return nil, failf(syscall.EINVAL, "type has no end")
	}
	spec.acc = append(spec.acc, accessor{typ: t, idx: raw[0]})

	if kind.enumBased() {
		e, ok := t.(*btf.Enum)
		if !ok || len(raw) > 1 || raw[0] >= len(e.Values) {
			return nil, failf(syscall.EINVAL, "enum access %q does not name an enumerator of %s", access, kindName(t))
		}
		spec.acc[0].name = e.Values[raw[0]].Name
		spec.acc[0].named = true
		return spec, nil
	}
	if !kind.fieldBased() {
		return nil, failf(syscall.EINVAL, "unknown relocation kind %d", uint32(kind))
	}

	sz, err := resolveSize(t)
	if err != nil {
		return nil, err
	}
	spec.bitOffset = uint32(uint64(raw[0]) * uint64(sz) * 8)

	for i := 1; i < len(raw); i++ {
		t = skipMods(t)
		if t == nil {
			return nil, failf(syscall.EINVAL, "type has no end")
		}
		idx := raw[i]
		if ms, ok := members(t); ok {
			if idx >= len(ms) {
				return nil, failf(syscall.EINVAL, "access %q: %s %s has no member #%d", access, kindName(t), t.TypeName(), idx)
			}
			m := ms[idx]
			spec.bitOffset += uint32(m.Offset)
			if m.Name != "" {
				spec.acc = append(spec.acc, accessor{typ: t, idx: idx, name: m.Name, named: true})
			}
			t = m.Type
		} else if a, ok := t.(*btf.Array); ok {
			elem := skipMods(a.Type)
			if elem == nil {
				return nil, failf(syscall.EINVAL, "array element type has no end")
			}
			if !isFlexArray(spec.acc[len(spec.acc)-1], a) && uint64(idx) >= uint64(a.Nelems) {
				return nil, failf(syscall.EINVAL, "access %q: index %d past %d elements", access, idx, a.Nelems)
			}
			spec.acc = append(spec.acc, accessor{typ: elem, idx: idx})
			sz, err := resolveSize(elem)
			if err != nil {
				return nil, err
			}
			spec.bitOffset += uint32(uint64(idx) * uint64(sz) * 8)
			t = elem
		} else {
			return nil, failf(syscall.EINVAL, "access %q (at idx %d) captures type of unexpected kind %s", access, i, kindName(t))
		}
	}
	return spec, nil
}

// isFlexArray is is_flex_arr: a zero-length array that is the last member
// of the struct the previous accessor named.
func isFlexArray(prev accessor, a *btf.Array) bool {
	if !prev.named || a.Nelems > 0 {
		return false
	}
	ms, _ := members(prev.typ)
	return prev.idx == len(ms)-1
}

// fieldsCompatible is bpf_core_fields_are_compat: whether a local field
// type may be relocated to a target field type.
func fieldsCompatible(local, target btf.Type) (bool, error) {
	for range maxModifiers {
		local, target = skipMods(local), skipMods(target)
		if local == nil || target == nil {
			return false, failf(syscall.EINVAL, "type has no end")
		}
		lk, tk := kindOf(local), kindOf(target)
		if (lk == kindStruct || lk == kindUnion) && (tk == kindStruct || tk == kindUnion) {
			return true, nil
		}
		if lk != tk {
			return false, nil
		}
		switch lk {
		case kindPtr, kindFloat:
			return true, nil
		case kindFwd, kindEnum:
			ln, tn := essentialName(local.TypeName()), essentialName(target.TypeName())
			return ln == "" || tn == "" || ln == tn, nil
		case kindInt:
			// Ints with a bit offset (deprecated bitfields) do not survive
			// cilium's decoder; all others are compatible.
			return true, nil
		case kindArray:
			local, target = local.(*btf.Array).Type, target.(*btf.Array).Type
			continue
		default:
			return false, nil
		}
	}
	return false, failf(syscall.EINVAL, "array nesting too deep")
}

// matchMember is bpf_core_match_member: find the local accessor's field by
// name in the target composite, descending into anonymous members, and
// extend the target spec along the way. It returns the field's type.
func matchMember(local accessor, target btf.Type, spec *coreSpec) (bool, btf.Type, error) {
	target = skipMods(target)
	if target == nil {
		return false, nil, failf(syscall.EINVAL, "type has no end")
	}
	tms, ok := members(target)
	if !ok {
		return false, nil, nil
	}
	lms, _ := members(local.typ)
	lm := lms[local.idx]
	for i, m := range tms {
		if len(spec.raw) == maxSpecLen {
			return false, nil, failf(syscall.E2BIG, "struct/union/array nesting deeper than %d", maxSpecLen)
		}
		spec.bitOffset += uint32(m.Offset)
		spec.raw = append(spec.raw, i)
		if m.Name == "" {
			found, next, err := matchMember(local, m.Type, spec)
			if found || err != nil {
				return found, next, err
			}
		} else if m.Name == lm.Name {
			compat, err := fieldsCompatible(lm.Type, m.Type)
			if err != nil || !compat {
				return false, nil, err
			}
			spec.acc = append(spec.acc, accessor{typ: target, idx: i, name: m.Name, named: true})
			return true, m.Type, nil
		}
		spec.bitOffset -= uint32(m.Offset)
		spec.raw = spec.raw[:len(spec.raw)-1]
	}
	return false, nil, nil
}

// matchSpec is bpf_core_spec_match: whether the local spec resolves in the
// target type (a candidate of the same essential name), and the target
// spec if it does.
func matchSpec(local *coreSpec, target btf.Type, targetID btf.TypeID, lim limits) (bool, *coreSpec, error) {
	ts := &coreSpec{root: target, rootID: targetID, kind: local.kind}
	if local.kind.typeBased() {
		var ok bool
		var err error
		if local.kind == TypeMatches {
			ok, err = typesMatch(local.root, target, false, lim.matchDepth)
		} else {
			ok, err = typesCompatible(local.root, target, lim.compatDepth)
		}
		return ok, ts, err
	}
	if local.kind.enumBased() {
		t := skipMods(target)
		e, ok := t.(*btf.Enum)
		if !ok {
			return false, ts, nil
		}
		want := essentialName(local.acc[0].name)
		for i, v := range e.Values {
			if essentialName(v.Name) == want {
				ts.acc = append(ts.acc, accessor{typ: e, idx: i, name: v.Name, named: true})
				ts.raw = append(ts.raw, i)
				return true, ts, nil
			}
		}
		return false, ts, nil
	}
	if !local.kind.fieldBased() {
		return false, ts, failf(syscall.EINVAL, "unknown relocation kind %d", uint32(local.kind))
	}
	t := target
	for i, la := range local.acc {
		t = skipMods(t)
		if t == nil {
			return false, ts, failf(syscall.EINVAL, "type has no end")
		}
		if la.named {
			found, next, err := matchMember(la, t, ts)
			if !found || err != nil {
				return false, ts, err
			}
			t = next
			continue
		}
		if i > 0 {
			a, ok := t.(*btf.Array)
			if !ok {
				return false, ts, nil
			}
			if !isFlexArray(ts.acc[len(ts.acc)-1], a) && uint64(la.idx) >= uint64(a.Nelems) {
				return false, ts, nil
			}
			t = skipMods(a.Type)
			if t == nil {
				return false, ts, failf(syscall.EINVAL, "array element type has no end")
			}
		}
		if len(ts.raw) == maxSpecLen {
			return false, ts, failf(syscall.E2BIG, "struct/union/array nesting deeper than %d", maxSpecLen)
		}
		ts.acc = append(ts.acc, accessor{typ: t, idx: la.idx})
		ts.raw = append(ts.raw, la.idx)
		sz, err := resolveSize(t)
		if err != nil {
			return false, ts, err
		}
		ts.bitOffset += uint32(uint64(la.idx) * uint64(sz) * 8)
	}
	return true, ts, nil
}
