package ebpf

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// ProgramOptions are the choices NewProgram makes that the spec does not.
// The zero value uses DefaultHelpers, no maps and the next program id.
type ProgramOptions struct {
	// Maps resolves the spec's MapRefs by name.
	Maps map[string]*Map
	// Helpers is the helper registry; nil means DefaultHelpers.
	Helpers *HelperRegistry
	// ID is the program id (TCA_BPF_ID in dumps, the value a prog array
	// lookup returns); 0 takes the next of a process-wide counter, as the
	// kernel's idr does.
	ID uint32
	// Budget is the per-run instruction budget of the VM's backstop; 0
	// means the VM's default.
	Budget uint64
}

var nextProgramID atomic.Uint32

// Program is a verified, compiled SCHED_CLS or SCHED_ACT program. It never
// changes after NewProgram and is safe for concurrent use: runs on
// different execution slots may proceed at once.
type Program struct {
	vm     *ebpfvm.Program
	spec   *ProgramSpec
	typ    ProgramType
	tag    [8]byte
	id     uint32
	maps   []*Map
	faults atomic.Uint64
}

// NewProgram verifies spec as the kernel's BPF_PROG_LOAD does and
// compiles it. Map references are resolved through opts.Maps, helper
// calls through opts.Helpers. Errors wrap the kernel's errno: EINVAL for a
// program type other than SchedCLS or SchedACT or a helper the registry
// lacks, EBADF for a map reference that resolves to no map, and the
// verifier's errno (EACCES, EINVAL, E2BIG) for a rejected program.
func NewProgram(spec *ProgramSpec, opts ProgramOptions) (*Program, error) {
	if spec == nil {
		return nil, fmt.Errorf("ebpf: new program: nil spec: %w", syscall.EINVAL)
	}
	if spec.Type != SchedCLS && spec.Type != SchedACT {
		return nil, fmt.Errorf("ebpf: new program %s: type %v is not a tc program (SchedCLS or SchedACT): %w", spec.Name, spec.Type, syscall.EINVAL)
	}
	reg := opts.Helpers
	if reg == nil {
		var err error
		if reg, err = DefaultHelpers(); err != nil {
			return nil, fmt.Errorf("ebpf: new program %s: helpers: %w", spec.Name, err)
		}
	}
	insns := toVM(spec.Instructions)
	if err := checkLicense(spec, insns); err != nil {
		return nil, err
	}
	tag := calcTag(insns)
	l := &linker{}
	for i := 0; i < len(insns); i++ {
		in := &insns[i]
		if in.Op != uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
			continue
		}
		switch in.Src {
		case uapi.BPF_PSEUDO_MAP_FD, uapi.BPF_PSEUDO_MAP_VALUE, uapi.BPF_PSEUDO_MAP_IDX, uapi.BPF_PSEUDO_MAP_IDX_VALUE:
			name, ok := spec.MapRefs[i]
			if !ok {
				return nil, fmt.Errorf("ebpf: new program %s: insn %d loads a map but MapRefs names none: %w", spec.Name, i, syscall.EBADF)
			}
			m := opts.Maps[name]
			if m == nil {
				return nil, fmt.Errorf("ebpf: new program %s: insn %d: map %q not given: %w", spec.Name, i, name, syscall.EBADF)
			}
			in.Imm = int32(l.add(m))
		}
		i++ // the second slot
	}
	vm, err := ebpfvm.Load(insns, ebpfvm.Options{
		Context:  ebpfvm.ContextSkb,
		Helpers:  reg.h,
		Linker:   l,
		FuncInfo: spec.FuncInfo,
		Budget:   opts.Budget,
	})
	if err != nil {
		var ve *ebpfvm.VerifyError
		if errors.As(err, &ve) && spec.Kfuncs[ve.Index] != "" {
			return nil, fmt.Errorf("ebpf: new program %s: insn %d: call of kfunc %q, which the library does not serve: %w", spec.Name, ve.Index, spec.Kfuncs[ve.Index], syscall.EOPNOTSUPP)
		}
		if me := missingHelper(err, insns); me != nil {
			return nil, fmt.Errorf("ebpf: new program %s: %w", spec.Name, me)
		}
		return nil, fmt.Errorf("ebpf: new program %s: %w", spec.Name, err)
	}
	p := &Program{vm: vm, spec: spec.Copy(), typ: spec.Type, tag: tag, id: opts.ID, maps: l.maps}
	if p.id == 0 {
		p.id = nextProgramID.Add(1)
	}
	return p, nil
}

// gplOnlyHelpers are the helpers a tc program may call only under a
// GPL-compatible license (gpl_only in their struct bpf_func_proto).
var gplOnlyHelpers = map[int32]bool{
	6:  true, // bpf_trace_printk
	25: true, // bpf_perf_event_output (bpf_skb_event_output_proto)
}

// gplCompatible is license_is_gpl_compatible (include/linux/license.h).
func gplCompatible(license string) bool {
	switch license {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}

// checkLicense is check_helper_call's "cannot call GPL-restricted function
// from non-GPL compatible program" (EINVAL).
func checkLicense(spec *ProgramSpec, insns []ebpfvm.Instruction) error {
	if gplCompatible(spec.License) {
		return nil
	}
	for i, in := range insns {
		if in.Op == uapi.BPF_JMP|uapi.BPF_CALL && in.Src == 0 && gplOnlyHelpers[in.Imm] {
			return fmt.Errorf("ebpf: new program %s: insn %d: cannot call GPL-restricted function %s from non-GPL compatible program (license %q): %w",
				spec.Name, i, HelperName(in.Imm), spec.License, syscall.EINVAL)
		}
	}
	return nil
}

// MissingHelperError is the load error of a program that calls a helper
// the registry lacks (the verifier's "invalid func unknown#N"). It
// unwraps to the verifier's error, which wraps EINVAL.
type MissingHelperError struct {
	ID   int32  // enum bpf_func_id
	Name string // the kernel's name, "bpf_map_lookup_elem"
	Insn int    // the calling instruction
	Err  error
}

// Error names the helper.
func (e *MissingHelperError) Error() string {
	return fmt.Sprintf("helper %s (%d) called at insn %d is not available: %v", e.Name, e.ID, e.Insn, e.Err)
}

// Unwrap returns the verifier's error.
func (e *MissingHelperError) Unwrap() error { return e.Err }

// missingHelper turns an "invalid func unknown#N" rejection into a
// *MissingHelperError.
func missingHelper(err error, insns []ebpfvm.Instruction) *MissingHelperError {
	var ve *ebpfvm.VerifyError
	if !errors.As(err, &ve) || ve.Index < 0 || ve.Index >= len(insns) || ve.Errno != syscall.EINVAL {
		return nil
	}
	in := insns[ve.Index]
	if in.Op != uapi.BPF_JMP|uapi.BPF_CALL || in.Src != 0 {
		return nil
	}
	return &MissingHelperError{ID: in.Imm, Name: HelperName(in.Imm), Insn: ve.Index, Err: err}
}

// calcTag is bpf_prog_calc_tag: SHA-256 over the instructions with the
// immediates of BPF_PSEUDO_MAP_FD and BPF_PSEUDO_MAP_VALUE loads (and of
// the plain second slot that follows) cleared; the first 8 bytes.
func calcTag(insns []ebpfvm.Instruction) [8]byte {
	buf := make([]byte, 0, 8*len(insns))
	wasLdMap := false
	for _, in := range insns {
		switch {
		case !wasLdMap && in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW &&
			(in.Src == uapi.BPF_PSEUDO_MAP_FD || in.Src == uapi.BPF_PSEUDO_MAP_VALUE):
			wasLdMap = true
			in.Imm = 0
		case wasLdMap && in.Op == 0 && in.Dst == 0 && in.Src == 0 && in.Off == 0:
			wasLdMap = false
			in.Imm = 0
		default:
			wasLdMap = false
		}
		buf = append(buf, in.Op, in.Dst&0x0f|in.Src<<4)
		buf = binary.LittleEndian.AppendUint16(buf, uint16(in.Off))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(in.Imm))
	}
	sum := sha256.Sum256(buf)
	var tag [8]byte
	copy(tag[:], sum[:8])
	return tag
}

// linker resolves a program's LD_IMM64 map references: the first slot's
// immediate is an index into maps.
type linker struct {
	maps []*Map
}

func (l *linker) add(m *Map) int {
	for i, have := range l.maps {
		if have == m {
			return i
		}
	}
	l.maps = append(l.maps, m)
	return len(l.maps) - 1
}

func (l *linker) get(ref int32) (*Map, error) {
	if ref < 0 || int(ref) >= len(l.maps) {
		return nil, fmt.Errorf("map reference %d: %w", ref, syscall.EBADF)
	}
	return l.maps[ref], nil
}

// Map returns the internal map for BPF_PSEUDO_MAP_FD and
// BPF_PSEUDO_MAP_IDX.
func (l *linker) Map(kind uint8, ref int32) (any, error) {
	if kind != uapi.BPF_PSEUDO_MAP_FD && kind != uapi.BPF_PSEUDO_MAP_IDX {
		return nil, fmt.Errorf("pseudo source %d: %w", kind, syscall.EINVAL)
	}
	m, err := l.get(ref)
	if err != nil {
		return nil, err
	}
	return m.m, nil
}

// MapValue returns the value memory of a single-element array for
// BPF_PSEUDO_MAP_VALUE and BPF_PSEUDO_MAP_IDX_VALUE
// (array_map_direct_value_addr).
func (l *linker) MapValue(kind uint8, ref int32) ([]byte, bool, error) {
	if kind != uapi.BPF_PSEUDO_MAP_VALUE && kind != uapi.BPF_PSEUDO_MAP_IDX_VALUE {
		return nil, false, fmt.Errorf("pseudo source %d: %w", kind, syscall.EINVAL)
	}
	m, err := l.get(ref)
	if err != nil {
		return nil, false, err
	}
	dv, ok := m.m.(maps.DirectValuer)
	var mem []byte
	if ok {
		mem = dv.DirectValue()
	}
	if mem == nil {
		return nil, false, fmt.Errorf("map %s has no direct value access (only single-element arrays do): %w", m, syscall.EINVAL)
	}
	return mem, m.spec.Flags&FlagRdOnlyProg != 0, nil
}

// Run runs the program on pkt, as cls_bpf and act_bpf run it: the packet
// and its metadata are changed in place, and the result is R0's low 32
// bits, which cls_bpf reads as a signed verdict or classid. The run uses
// pkt.Slot as its execution slot. A run fault, which the kernel's
// verifier would have prevented and the VM's sandbox catches instead,
// ends the run with 0, what a kernel program returns when it aborts by
// default, and is counted in Faults; RunChecked reports it. Run does not
// allocate.
func (p *Program) Run(pkt *packet.Packet) uint32 {
	r0, err := p.vm.Run(pkt)
	if err != nil {
		p.faults.Add(1)
		return 0
	}
	return uint32(r0)
}

// RunChecked is Run that returns a run fault (a *ebpfvm.RunError naming
// the instruction and the cause, described with the C source line of the
// faulting instruction when the object carries line information; see
// SourceError) instead of counting it.
func (p *Program) RunChecked(pkt *packet.Packet) (uint32, error) {
	r0, err := p.vm.Run(pkt)
	if err != nil {
		if serr := p.SourceError(err); serr != err {
			return 0, serr // names the C source line of the fault
		}
		return 0, fmt.Errorf("ebpf: run %s: %w", p.spec.Name, err)
	}
	return uint32(r0), nil
}

// Faults is the number of runs Run ended with a fault.
func (p *Program) Faults() uint64 { return p.faults.Load() }

// Tag is the kernel's program tag (TCA_BPF_TAG, bpftool's "tag").
func (p *Program) Tag() [8]byte { return p.tag }

// ID is the program id (TCA_BPF_ID).
func (p *Program) ID() uint32 { return p.id }

// Name is the program's name from its spec.
func (p *Program) Name() string { return p.spec.Name }

// Type is the program type.
func (p *Program) Type() ProgramType { return p.typ }

// ProgramType is the bpf_prog_type, for prog arrays (TailCallTarget).
func (p *Program) ProgramType() uint32 { return uint32(p.typ) }

// ProgramID is the id, for prog arrays (TailCallTarget).
func (p *Program) ProgramID() uint32 { return p.id }

// VMProgram is the compiled program, for the tail call helper that runs
// it when a prog array slot holds p. It is of no use outside the library.
func (p *Program) VMProgram() *ebpfvm.Program { return p.vm }

// Spec returns a copy of the spec the program was made from.
func (p *Program) Spec() *ProgramSpec { return p.spec.Copy() }

// String describes the program: "SchedCLS(name)#id".
func (p *Program) String() string {
	return fmt.Sprintf("%v(%s)#%d", p.typ, p.spec.Name, p.id)
}
