package core

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Relocation is one CO-RE relocation record, struct bpf_core_relo of
// include/uapi/linux/bpf.h, with the instruction given by its index in the
// program's asm.Instructions rather than a byte offset.
type Relocation struct {
	Insn     int        // index of the instruction in the asm.Instructions
	Kind     Kind       // what to compute
	TypeID   btf.TypeID // the local type, an ID in the program's own BTF
	Accessor string     // access string: "0:1:2", or "0" for type-based kinds
}

// Options select whose rules apply. The zero value applies libbpf's, as a
// program loaded by libbpf or cilium/ebpf sees them.
type Options struct {
	// Kernel applies the rules of the kernel's own relocation
	// (BPF_PROG_LOAD with core_relos, kernel/bpf/relo_core.c and
	// kernel/bpf/btf.c): type compatibility and matching recurse two
	// levels instead of 32, each relocation searches all candidates
	// afresh instead of narrowing the candidates of earlier relocations of
	// the same type, and a 32-bit enum's candidates are 32-bit enums only
	// (libbpf also takes 64-bit ones).
	Kernel bool
}

// Relocations reads the CO-RE relocations cilium/ebpf's ELF reader
// attached to insns as metadata. local is the program's BTF
// (CollectionSpec.Types), which the relocations' type IDs index.
func Relocations(insns asm.Instructions, local *btf.Spec) ([]Relocation, error) {
	var relos []Relocation
	for i := range insns {
		cr := btf.CORERelocationMetadata(&insns[i])
		if cr == nil {
			continue
		}
		r, err := parseMetadata(cr.String())
		if err != nil {
			return nil, fmt.Errorf("insn #%d: %w", i, err)
		}
		r.Insn = i
		if local != nil {
			if _, err := local.TypeByID(r.TypeID); err != nil {
				return nil, fmt.Errorf("insn #%d: local type [%d]: %w: %w", i, r.TypeID, err, syscall.EINVAL)
			}
		}
		relos = append(relos, r)
	}
	return relos, nil
}

// parseMetadata reads cilium/ebpf's rendering of a relocation,
// "CORERelocation(<kind>, <type>[<accessor>], local_id=<id>)": v0.22.0
// keeps the fields themselves unexported.
func parseMetadata(s string) (Relocation, error) {
	bad := func(why string) (Relocation, error) {
		return Relocation{}, fmt.Errorf("co-re metadata %q: %s: %w", s, why, syscall.EINVAL)
	}
	const prefix, idKey = "CORERelocation(", ", local_id="
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, ")") {
		return bad("unknown format")
	}
	body := s[len(prefix) : len(s)-1]
	comma := strings.Index(body, ", ")
	if comma < 0 {
		return bad("no kind")
	}
	kind, ok := ParseKind(body[:comma])
	if !ok {
		return bad("unknown kind")
	}
	at := strings.LastIndex(body, idKey)
	if at < 0 {
		return bad("no local_id")
	}
	id, err := strconv.ParseUint(body[at+len(idKey):], 10, 32)
	if err != nil {
		return bad("local_id")
	}
	head := body[:at]
	open := strings.LastIndexByte(head, '[')
	if open < 0 || !strings.HasSuffix(head, "]") {
		return bad("no accessor")
	}
	return Relocation{Kind: kind, TypeID: btf.TypeID(id), Accessor: head[open+1 : len(head)-1]}, nil
}

// Apply relocates a program read by cilium/ebpf against target: local is
// the object's BTF (CollectionSpec.Types). It returns new instructions
// and leaves prog unchanged.
func Apply(prog *ebpf.ProgramSpec, local *btf.Spec, target *Target, opts *Options) (asm.Instructions, error) {
	if prog == nil {
		return nil, fmt.Errorf("co-re: no program: %w", syscall.EINVAL)
	}
	relos, err := Relocations(prog.Instructions, local)
	if err != nil {
		return nil, fmt.Errorf("co-re: program %s: %w", prog.Name, err)
	}
	out, err := Relocate(prog.Instructions, relos, local, target, opts)
	if err != nil {
		return nil, fmt.Errorf("co-re: program %s: %w", prog.Name, err)
	}
	return out, nil
}

// Relocate applies relos, in order, to a copy of insns and returns it;
// insns is not modified, and the returned instructions carry no CO-RE
// metadata for the relocations applied. Each relocation's local type is looked up in
// local by ID and resolved against target with libbpf's candidate rules
// (or the kernel's, see Options). A relocation that finds no target is
// not an error where libbpf poisons instead: the instruction becomes a
// call of helper PoisonImm, which fails verification only if reached.
// Anything else wrong is an *Error naming the relocation.
func Relocate(insns asm.Instructions, relos []Relocation, local *btf.Spec, target *Target, opts *Options) (asm.Instructions, error) {
	if local == nil || target == nil {
		return nil, fmt.Errorf("co-re: local and target BTF are both required: %w", syscall.EINVAL)
	}
	lim, prune := libbpfLimits, true
	if opts != nil && opts.Kernel {
		lim, prune = kernelLimits, false
	}
	out := make(asm.Instructions, len(insns))
	copy(out, insns)
	cache := map[btf.TypeID][]candidate{}
	wide := map[int]bool{}
	for n, r := range relos {
		extra, err := relocateOne(out, r, local, target, lim, prune, cache)
		if err != nil {
			return nil, wrapErr(n, r, local, insns, err)
		}
		if extra {
			wide[r.Insn] = true
		}
		// The relocation is applied: the instruction no longer carries it,
		// so a loader that relocates by metadata will not apply it twice.
		out[r.Insn] = btf.WithCORERelocationMetadata(out[r.Insn], nil)
	}
	if len(wide) == 0 {
		return out, nil
	}
	expanded := make(asm.Instructions, 0, len(out)+len(wide))
	for i, ins := range out {
		expanded = append(expanded, ins)
		if wide[i] {
			expanded = append(expanded, poisonInsn(asm.Metadata{}))
		}
	}
	return expanded, nil
}

func relocateOne(insns asm.Instructions, r Relocation, local *btf.Spec, target *Target, lim limits, prune bool, cache map[btf.TypeID][]candidate) (bool, error) {
	if r.Insn < 0 || r.Insn >= len(insns) {
		return false, failf(syscall.EINVAL, "instruction index %d outside the program's %d", r.Insn, len(insns))
	}
	if r.Kind > TypeMatches {
		return false, failf(syscall.EINVAL, "unknown relocation kind %d", uint32(r.Kind))
	}
	root, err := local.TypeByID(r.TypeID)
	if err != nil {
		return false, failf(syscall.EINVAL, "local type [%d]: %v", r.TypeID, err)
	}
	res, err := resolve(r, root, target, lim, prune, cache)
	if err != nil {
		return false, err
	}
	return patch(insns, r.Insn, res)
}

// resolve is bpf_core_calc_relo_insn after the candidate search of
// bpf_core_resolve_relo: it matches the local spec against every
// candidate, requires them all to agree, and falls back to "no target"
// (zero or poison) when none matches.
func resolve(r Relocation, root btf.Type, target *Target, lim limits, prune bool, cache map[btf.TypeID][]candidate) (result, error) {
	var cands []candidate
	if r.Kind != TypeIDLocal {
		if root.TypeName() == "" {
			return result{}, failf(syscall.EINVAL, "relocation against an anonymous type")
		}
		var ok bool
		if cands, ok = cache[r.TypeID]; !ok || !prune {
			cands = target.candidates(root, !prune)
			cache[r.TypeID] = cands
		}
	}
	local, err := parseSpec(root, r.TypeID, r.Accessor, r.Kind)
	if err != nil {
		if f, ok := err.(*fail); ok {
			return result{}, failf(syscall.EINVAL, "parsing spec failed: %s", f.msg)
		}
		return result{}, err
	}
	if r.Kind == TypeIDLocal {
		return result{orig: uint64(r.TypeID), new: uint64(r.TypeID)}, nil
	}

	var (
		best    result
		matched []candidate
	)
	for _, c := range cands {
		ok, ts, err := matchSpec(local, c.typ, c.id, lim)
		if err != nil {
			return result{}, err
		}
		if !ok {
			continue
		}
		res, err := calcRelo(local, ts)
		if err != nil {
			return result{}, err
		}
		if len(matched) == 0 {
			best = res
		} else if res.targetBitOff != best.targetBitOff {
			return result{}, failf(syscall.EINVAL, "field offset ambiguity: %d != %d", res.targetBitOff, best.targetBitOff)
		} else if res.poison != best.poison || res.new != best.new {
			return result{}, failf(syscall.EINVAL, "relocation decision ambiguity: %d != %d", res.new, best.new)
		}
		matched = append(matched, c)
	}
	if len(matched) > 0 {
		if prune {
			cache[r.TypeID] = matched
		}
		return best, nil
	}
	return calcRelo(local, nil)
}

// wrapErr turns an internal failure into an *Error naming the relocation.
func wrapErr(n int, r Relocation, local *btf.Spec, insns asm.Instructions, err error) error {
	e := &Error{Relo: n, Insn: r.Insn, RawInsn: -1, Kind: r.Kind, Accessor: r.Accessor, Errno: syscall.EINVAL, Msg: err.Error()}
	if r.Insn >= 0 && r.Insn < len(insns) {
		e.RawInsn = 0
		for _, ins := range insns[:r.Insn] {
			e.RawInsn += int(ins.Size() / asm.InstructionSize)
		}
	}
	if f, ok := err.(*fail); ok {
		e.Errno = f.errno
	}
	var root btf.Type
	if local != nil {
		root, _ = local.TypeByID(r.TypeID)
	}
	e.Type = typeLabel(root, r.TypeID)
	return e
}
