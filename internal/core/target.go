package core

import (
	"fmt"
	"syscall"

	"github.com/cilium/ebpf/btf"
)

// Target is the BTF relocations resolve against, indexed for candidate
// search: every named type by its essential (flavor-less) name, in type ID
// order, as libbpf's and the kernel's linear scans visit them. A Target
// never changes after NewTarget and is safe for concurrent use.
type Target struct {
	spec   *btf.Spec
	byName map[string][]candidate
}

// candidate is one target type whose essential name matches a local type.
type candidate struct {
	typ btf.Type
	id  btf.TypeID
}

// NewTarget indexes spec, a kernel's BTF (the library's shipped target,
// or a full vmlinux), for relocation.
func NewTarget(spec *btf.Spec) (*Target, error) {
	if spec == nil {
		return nil, fmt.Errorf("core target: no spec: %w", syscall.EINVAL)
	}
	t := &Target{spec: spec, byName: make(map[string][]candidate)}
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("core target: %w: %w", err, syscall.EINVAL)
		}
		name := typ.TypeName()
		if name == "" {
			continue
		}
		id, err := spec.TypeID(typ)
		if err != nil {
			return nil, fmt.Errorf("core target: type %s: %w: %w", name, err, syscall.EINVAL)
		}
		ess := essentialName(name)
		t.byName[ess] = append(t.byName[ess], candidate{typ, id})
	}
	return t, nil
}

// Spec returns the BTF the target indexes.
func (t *Target) Spec() *btf.Spec { return t.spec }

// candidates is bpf_core_find_cands: the target types with the local
// type's essential name and a compatible kind. libbpf takes any enum for
// an enum; the kernel (exactKind) keeps BTF_KIND_ENUM and ENUM64 apart
// when it searches. (The kernel also caches candidates by name alone, so
// a 32-bit enum can be handed the 64-bit candidates an earlier load of a
// 64-bit enum of that name found: an answer that depends on history,
// which this package does not model.)
func (t *Target) candidates(local btf.Type, exactKind bool) []candidate {
	all := t.byName[essentialName(local.TypeName())]
	le, localEnum := local.(*btf.Enum)
	var out []candidate
	for _, c := range all {
		if !kindsCompatible(c.typ, local) {
			continue
		}
		if ce, ok := c.typ.(*btf.Enum); ok && localEnum && exactKind && enumIs32(ce) != enumIs32(le) {
			continue
		}
		out = append(out, c)
	}
	return out
}
