package ebpfvm

import (
	"fmt"
	"syscall"
)

// HelperFunc implements one helper (the kernel's BPF_CALL_x functions).
// args holds R1..R5; the returned value becomes R0. A non-nil error ends
// the run with ErrHelper. The helper reads and writes program memory only
// through m.Mem, so it obeys the same regions the program does.
type HelperFunc func(m *Machine, args *[5]uint64) (uint64, error)

// RetKind says what a helper returns in R0, for the load-time checks
// (struct bpf_func_proto ret_type, reduced to what the VM tracks).
type RetKind uint8

// Return kinds.
const (
	// RetScalar: a number (RET_INTEGER, RET_VOID).
	RetScalar RetKind = iota
	// RetMapValueOrNull: a pointer into a map value or 0
	// (RET_PTR_TO_MAP_VALUE_OR_NULL). The program may dereference it after
	// a comparison with 0; a run-time access through 0 faults.
	RetMapValueOrNull
)

// Helper describes a helper function by its kernel id (enum bpf_func_id).
type Helper struct {
	ID   int32      // BPF_FUNC_* number
	Name string     // kernel name without the bpf_ prefix, for errors
	Func HelperFunc // implementation
	// Args is how many of R1..R5 the helper reads; the verifier demands
	// that they be initialised, as check_helper_call does per argument.
	Args int
	// Ret is the kind of R0 after the call.
	Ret RetKind
	// ChangesPacket marks helpers after which packet pointers are stale
	// (bpf_helper_changes_pkt_data): the verifier forgets them, and the VM
	// re-reads the packet's layout after the call.
	ChangesPacket bool
}

// Helpers is a registry of helpers by id. It is filled before programs are
// loaded and only read afterwards; Load resolves every call through it, so
// the per-packet path does no look-up for a direct call.
type Helpers struct {
	byID    map[int32]*Helper
	missing map[int32]string // names of known helpers the registry lacks
}

// NameMissing gives the names of helpers the registry does not provide,
// so that a program calling one fails to load with an error naming it
// ("helper bpf_NAME#ID is not available") instead of "invalid func
// unknown#ID". Call it before the registry is used.
func (r *Helpers) NameMissing(names map[int32]string) {
	r.missing = names
}

// missingName returns the name NameMissing gave id, or "".
func (r *Helpers) missingName(id int32) string {
	if r == nil {
		return ""
	}
	return r.missing[id]
}

// NewHelpers returns a registry holding hs. Two helpers with the same id,
// a nil Func or an Args above 5 are an EINVAL error.
func NewHelpers(hs ...Helper) (*Helpers, error) {
	r := &Helpers{byID: make(map[int32]*Helper, len(hs))}
	for i := range hs {
		h := hs[i]
		if h.Func == nil || h.Args < 0 || h.Args > 5 {
			return nil, fmt.Errorf("ebpfvm: helper %d (%s): missing function or bad argument count: %w", h.ID, h.Name, syscall.EINVAL)
		}
		if _, dup := r.byID[h.ID]; dup {
			return nil, fmt.Errorf("ebpfvm: helper %d (%s) registered twice: %w", h.ID, h.Name, syscall.EINVAL)
		}
		r.byID[h.ID] = &h
	}
	return r, nil
}

// Lookup returns the helper with the given id.
func (r *Helpers) Lookup(id int32) (*Helper, bool) {
	if r == nil {
		return nil, false
	}
	h, ok := r.byID[id]
	return h, ok
}

// Linker resolves what LD_IMM64 pseudo sources name (the kernel's
// resolve_pseudo_ldimm64): maps by file descriptor or fd_array index. Issue
// 5's map package implements it; the VM only needs the answers.
type Linker interface {
	// Map returns the object standing for a map handle (BPF_PSEUDO_MAP_FD
	// with kind 1, BPF_PSEUDO_MAP_IDX with kind 5). Helpers get it back
	// through Machine.Object.
	Map(kind uint8, ref int32) (any, error)
	// MapValue returns the memory of the value of a single-element array
	// map (BPF_PSEUDO_MAP_VALUE, kind 2, or BPF_PSEUDO_MAP_IDX_VALUE, kind
	// 6) and whether the program may only read it (BPF_F_RDONLY_PROG). The
	// program's pointer is the start of that memory plus the second slot's
	// offset, which must be inside it.
	MapValue(kind uint8, ref int32) (mem []byte, readOnly bool, err error)
}
