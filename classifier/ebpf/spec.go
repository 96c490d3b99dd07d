package ebpf

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ciliumadapt"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// ProgramType is a program type, enum bpf_prog_type.
type ProgramType uint32

// Program types. NewProgram loads SchedCLS and SchedACT; the others exist
// so that a spec read from an object names its type.
const (
	UnspecifiedProgram ProgramType = 0
	SocketFilter       ProgramType = 1
	Kprobe             ProgramType = 2
	// SchedCLS is BPF_PROG_TYPE_SCHED_CLS: a tc classifier (cls_bpf).
	SchedCLS ProgramType = 3
	// SchedACT is BPF_PROG_TYPE_SCHED_ACT: a tc action (act_bpf).
	SchedACT   ProgramType = 4
	Tracepoint ProgramType = 5
	XDP        ProgramType = 6
)

// String returns the Go name of the type, or ProgramType(n).
func (t ProgramType) String() string {
	switch t {
	case UnspecifiedProgram:
		return "UnspecifiedProgram"
	case SocketFilter:
		return "SocketFilter"
	case Kprobe:
		return "Kprobe"
	case SchedCLS:
		return "SchedCLS"
	case SchedACT:
		return "SchedACT"
	case Tracepoint:
		return "Tracepoint"
	case XDP:
		return "XDP"
	}
	return fmt.Sprintf("ProgramType(%d)", uint32(t))
}

// Instruction is one eBPF instruction slot in the kernel's struct bpf_insn
// form (an LD_IMM64 takes two slots; the second has Op 0 and the upper
// half of the constant in Imm).
type Instruction struct {
	Op  uint8 // opcode
	Dst uint8 // destination register (low nibble of the regs byte)
	Src uint8 // source register or pseudo kind (high nibble)
	Off int16
	Imm int32
}

// String formats the slot as "op dst src off imm" in hex and decimal.
func (i Instruction) String() string {
	return fmt.Sprintf("op=%#02x dst=r%d src=%d off=%d imm=%d", i.Op, i.Dst, i.Src, i.Off, i.Imm)
}

// Pinning says where a map of an object lives across objects, as
// iproute2's struct bpf_elf_map pinning field does for tc.
type Pinning uint8

// Pinning kinds.
const (
	// PinNone is PIN_NONE: the map belongs to its collection.
	PinNone Pinning = iota
	// PinObjectNS is PIN_OBJECT_NS: maps of the same name in collections
	// made from the same object (ObjectSpec.ID) are one map.
	PinObjectNS
	// PinGlobalNS is PIN_GLOBAL_NS (and libbpf's LIBBPF_PIN_BY_NAME): maps
	// of the same name in any collection sharing a PinNamespace are one
	// map.
	PinGlobalNS
)

// ProgramSpec describes a program: its instructions in the kernel's raw
// form and the maps its LD_IMM64 instructions refer to by name. It is
// plain data; NewProgram verifies and compiles it.
type ProgramSpec struct {
	// Name is the program's function name.
	Name string
	// SectionName is the ELF section it came from ("tc", "classifier",
	// "action", "tcx/ingress", ...).
	SectionName string
	Type        ProgramType
	// License is the object's license string.
	License string
	// Instructions are the program's slots. An LD_IMM64 that loads a map
	// (src 1, BPF_PSEUDO_MAP_FD, or 5, BPF_PSEUDO_MAP_IDX) or a pointer
	// into a map's value (src 2, BPF_PSEUDO_MAP_VALUE, or 6,
	// BPF_PSEUDO_MAP_IDX_VALUE; the second slot's Imm is the offset) names
	// its map in MapRefs; its first Imm (the fd or fd_array index) is
	// replaced when linked.
	Instructions []Instruction
	// MapRefs names the map of each map-loading LD_IMM64, by slot index.
	MapRefs map[int]string
	// FuncInfo says the program comes with BTF function information (as
	// clang -g objects do); the kernel requires it for bpf-to-bpf function
	// pointers and LD_ABS in subprograms.
	FuncInfo bool
	// Kfuncs names the kfunc each kfunc call (src 2, BPF_PSEUDO_KFUNC_CALL)
	// calls, by slot index. The library serves no kfunc: NewProgram
	// refuses a program in which a path reaches one, naming it.
	Kfuncs map[int]string
	// Lines holds the C source line of each instruction slot, from the
	// object's BTF line information; nil when the object has none.
	// Traces, coverage reports and run faults name these lines.
	Lines []trace.Source
}

// Copy returns a deep copy of the spec.
func (ps *ProgramSpec) Copy() *ProgramSpec {
	if ps == nil {
		return nil
	}
	c := *ps
	c.Instructions = append([]Instruction(nil), ps.Instructions...)
	if ps.Lines != nil {
		c.Lines = append([]trace.Source(nil), ps.Lines...)
	}
	c.MapRefs = make(map[int]string, len(ps.MapRefs))
	for k, v := range ps.MapRefs {
		c.MapRefs[k] = v
	}
	if ps.Kfuncs != nil {
		c.Kfuncs = make(map[int]string, len(ps.Kfuncs))
		for k, v := range ps.Kfuncs {
			c.Kfuncs[k] = v
		}
	}
	return &c
}

// Tag returns the program tag the kernel computes (bpf_prog_calc_tag in
// kernel/bpf/core.c since Linux 6.18): the first 8 bytes of the SHA-256
// of the instructions, with the immediates of map-loading LD_IMM64 pairs
// zeroed so that the tag does not depend on map file descriptors.
func (ps *ProgramSpec) Tag() [8]byte {
	return calcTag(toVM(ps.Instructions))
}

func toVM(insns []Instruction) []ebpfvm.Instruction {
	out := make([]ebpfvm.Instruction, len(insns))
	for i, in := range insns {
		out[i] = ebpfvm.Instruction{Op: in.Op, Dst: in.Dst, Src: in.Src, Off: in.Off, Imm: in.Imm}
	}
	return out
}

func fromVM(insns []ebpfvm.Instruction) []Instruction {
	out := make([]Instruction, len(insns))
	for i, in := range insns {
		out[i] = Instruction{Op: in.Op, Dst: in.Dst, Src: in.Src, Off: in.Off, Imm: in.Imm}
	}
	return out
}

// ObjectSpec is what an ELF object holds: its programs and maps by name.
// Global data sections (.data, .bss, .rodata*) are single-element Array
// maps named after the section, with their initial value as Contents;
// .rodata* maps have FlagRdOnlyProg. It is plain data; NewCollection
// makes maps and programs from it.
type ObjectSpec struct {
	// ID identifies the object for PinObjectNS maps: the hex SHA-1 of the
	// object file, as iproute2 names an object's pinning directory.
	ID       string
	Programs map[string]*ProgramSpec
	Maps     map[string]*MapSpec
	// Variables are the object's global variables by name.
	Variables map[string]*VariableSpec
}

// Copy returns a deep copy of the spec.
func (s *ObjectSpec) Copy() *ObjectSpec {
	if s == nil {
		return nil
	}
	c := &ObjectSpec{ID: s.ID, Programs: make(map[string]*ProgramSpec, len(s.Programs)), Maps: make(map[string]*MapSpec, len(s.Maps)),
		Variables: make(map[string]*VariableSpec, len(s.Variables))}
	for k, v := range s.Variables {
		vc := *v
		c.Variables[k] = &vc
	}
	for k, v := range s.Programs {
		c.Programs[k] = v.Copy()
	}
	for k, v := range s.Maps {
		c.Maps[k] = v.Copy()
	}
	return c
}

// ProgramNames returns the names of the programs, sorted.
func (s *ObjectSpec) ProgramNames() []string {
	names := make([]string, 0, len(s.Programs))
	for n := range s.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProgramBySection returns the programs of an ELF section (tc's "sec"
// argument), sorted by name.
func (s *ObjectSpec) ProgramBySection(section string) []*ProgramSpec {
	var out []*ProgramSpec
	for _, n := range s.ProgramNames() {
		if s.Programs[n].SectionName == section {
			out = append(out, s.Programs[n])
		}
	}
	return out
}

// MaxObjectSize bounds the objects LoadObject reads (256 MiB).
const MaxObjectSize = 256 << 20

// LoadObject reads a clang-compiled ELF object (clang -target bpf) from r:
// programs by section, BTF (.maps) and legacy (maps) map definitions,
// including iproute2's struct bpf_elf_map with its pinning, global data
// sections, bpf-to-bpf calls and map references. Objects that need CO-RE
// relocations, kfuncs, ksyms or kconfig externs are refused with an error
// wrapping EOPNOTSUPP that names the relocation or extern
// (LoadObjectWithOptions resolves them); a malformed object is an EINVAL
// error.
func LoadObject(r io.ReaderAt) (*ObjectSpec, error) {
	b, err := readObject(r)
	if err != nil {
		return nil, err
	}
	return loadObject(b, nil)
}

func readObject(r io.ReaderAt) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.NewSectionReader(r, 0, MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("ebpf: read object: %w", err)
	}
	if n > MaxObjectSize {
		return nil, fmt.Errorf("ebpf: object larger than %d bytes: %w", MaxObjectSize, syscall.E2BIG)
	}
	return buf.Bytes(), nil
}

// LoadObjectFile is LoadObject of the file at path.
func LoadObjectFile(path string) (*ObjectSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ebpf: %w", err)
	}
	defer f.Close()
	return LoadObject(f)
}

func loadObject(elf []byte, opts *ciliumadapt.Options) (*ObjectSpec, error) {
	obj, err := ciliumadapt.LoadObjectOptions(elf, opts)
	if err != nil {
		return nil, fmt.Errorf("ebpf: load object: %w", err)
	}
	sum := sha1.Sum(elf)
	spec := &ObjectSpec{
		ID:       hex.EncodeToString(sum[:]),
		Programs: make(map[string]*ProgramSpec, len(obj.Programs)),
		Maps:     make(map[string]*MapSpec, len(obj.Maps)),
	}
	for i := range obj.Maps {
		spec.Maps[obj.Maps[i].Name] = mapSpecOf(&obj.Maps[i])
	}
	spec.Variables = make(map[string]*VariableSpec, len(obj.Vars))
	for _, v := range obj.Vars {
		spec.Variables[v.Name] = &VariableSpec{Name: v.Name, Section: v.Section, Offset: v.Offset, Size: v.Size}
	}
	lines := sourceLines(elf)
	for _, p := range obj.Programs {
		spec.Programs[p.Name] = &ProgramSpec{
			Lines:        linesOf(lines, p.Name, len(p.Insns)),
			Name:         p.Name,
			SectionName:  p.Section,
			Type:         ProgramType(p.Type),
			License:      p.License,
			Instructions: fromVM(p.Insns),
			MapRefs:      p.MapRefs,
			FuncInfo:     p.FuncInfo,
			Kfuncs:       p.Kfuncs,
		}
	}
	return spec, nil
}

func mapSpecOf(m *ciliumadapt.ObjMap) *MapSpec {
	if m == nil {
		return nil
	}
	ms := &MapSpec{
		Name:       m.Name,
		Type:       MapType(m.Type),
		KeySize:    m.KeySize,
		ValueSize:  m.ValueSize,
		MaxEntries: m.MaxEntries,
		Flags:      m.Flags,
		Pinning:    Pinning(m.Pinning),
		InnerMap:   mapSpecOf(m.Inner),
	}
	for _, kv := range m.Contents {
		var v any = kv.Value
		if kv.Ref != "" {
			v = ObjectRef(kv.Ref)
		}
		ms.Contents = append(ms.Contents, MapKV{Key: kv.Key, Value: v})
	}
	return ms
}

// ObjectRef is a MapSpec.Contents value naming a program or map of the
// same object by name: the initial slots of prog arrays and maps of maps
// that BTF map definitions (.values) declare. NewCollection resolves it.
type ObjectRef string
