package ciliumadapt

// ELF object reading: cilium/ebpf's LoadCollectionSpec parses a
// clang-compiled object (programs, BTF and legacy map definitions, data
// sections, bpf-to-bpf calls) without a kernel; this file turns its
// CollectionSpec into plain data the rest of the project owns, and refuses
// what needs the kernel's own types (CO-RE relocations, kfuncs, ksyms,
// kconfig externs) with an error naming it.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Pinning values of a map definition: iproute2's struct bpf_elf_map
// pinning field (PIN_NONE, PIN_OBJECT_NS, PIN_GLOBAL_NS); libbpf's
// LIBBPF_PIN_BY_NAME in a BTF map definition counts as PinGlobalNS, the
// namespace tc shares between objects.
const (
	PinNone     = 0
	PinObjectNS = 1
	PinGlobalNS = 2
)

// ObjMap is a map definition read from an object.
type ObjMap struct {
	Name       string
	Type       uint32
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	Pinning    uint32
	// ID and InnerID are iproute2's bpf_elf_map id and inner_id: a map of
	// maps names the template of its values by the id of another map.
	ID, InnerID uint32
	Inner       *ObjMap
	// Data marks a global data section (.data, .bss, .rodata*).
	Data     bool
	Contents []ObjKV
}

// ObjKV is an initial element. Value is raw bytes, or, for prog arrays and
// maps of maps, the name of the program or map in Ref.
type ObjKV struct {
	Key   []byte
	Value []byte
	Ref   string
}

// ObjProgram is a program read from an object, its instructions in the
// kernel's raw form with every LD_IMM64 map reference's immediate zeroed
// (the second slot keeps a direct value load's offset) and the referenced
// map named by slot index in MapRefs.
type ObjProgram struct {
	Name     string
	Section  string
	Type     uint32
	License  string
	Insns    []ebpfvm.Instruction
	MapRefs  map[int]string
	FuncInfo bool
}

// ObjVar is a global variable: where it lives in its data section.
type ObjVar struct {
	Name    string
	Section string
	Offset  uint32
	Size    uint32
}

// Object is everything LoadObject read.
type Object struct {
	Programs []ObjProgram // sorted by name
	Maps     []ObjMap     // sorted by name
	Vars     []ObjVar     // sorted by name
}

// ErrObject is wrapped by every LoadObject error that is not about an
// unsupported feature (those wrap EOPNOTSUPP).
var ErrObject = syscall.EINVAL

// LoadObject parses an ELF object. It never panics: a parser panic on a
// malformed object is an EINVAL error.
func LoadObject(b []byte) (obj *Object, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("ciliumadapt: malformed object: %v: %w", r, syscall.EINVAL)
		}
	}()
	if err := checkSections(b); err != nil {
		return nil, err
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(b))
	if err != nil {
		errno := syscall.EINVAL
		if errors.Is(err, ebpf.ErrNotSupported) {
			errno = syscall.EOPNOTSUPP
		}
		return nil, fmt.Errorf("ciliumadapt: read object: %v: %w", err, errno)
	}
	return convert(spec)
}

// MaxSectionSize bounds the size of an object's sections, NOBITS ones
// (.bss) included: array maps, which data sections become, cannot hold a
// larger value (KMALLOC_MAX_SIZE on x86-64, E2BIG from array_map_alloc_check),
// and the bound keeps a crafted section header from making the reader
// allocate gigabytes.
const MaxSectionSize = 4 << 20

// checkSections refuses objects whose section headers claim more than
// MaxSectionSize bytes, before cilium's reader allocates for them.
func checkSections(b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("ciliumadapt: read object: %v: %w", err, syscall.EINVAL)
	}
	for _, s := range f.Sections {
		if s.Size > MaxSectionSize && (s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC != 0) {
			return fmt.Errorf("ciliumadapt: section %s of %d bytes (limit %d): %w", s.Name, s.Size, MaxSectionSize, syscall.E2BIG)
		}
	}
	return nil
}

func convert(spec *ebpf.CollectionSpec) (*Object, error) {
	obj := &Object{}
	for _, name := range sortedKeys(spec.Maps) {
		m, err := convertMap(spec.Maps[name])
		if err != nil {
			return nil, fmt.Errorf("ciliumadapt: map %s: %w", name, err)
		}
		obj.Maps = append(obj.Maps, *m)
	}
	// iproute2 maps of maps: inner_id names the template by its id.
	for i := range obj.Maps {
		m := &obj.Maps[i]
		if m.Inner != nil || m.InnerID == 0 {
			continue
		}
		for j := range obj.Maps {
			if j != i && obj.Maps[j].ID == m.InnerID {
				inner := obj.Maps[j]
				inner.Contents = nil
				m.Inner = &inner
				break
			}
		}
		if m.Inner == nil {
			return nil, fmt.Errorf("ciliumadapt: map %s: inner_id %d names no map of the object: %w", m.Name, m.InnerID, syscall.EINVAL)
		}
	}
	for _, name := range sortedKeys(spec.Variables) {
		v := spec.Variables[name]
		obj.Vars = append(obj.Vars, ObjVar{Name: v.Name, Section: v.SectionName, Offset: v.Offset, Size: v.Size()})
	}
	for _, name := range sortedKeys(spec.Programs) {
		p, err := convertProgram(spec.Programs[name], spec.Maps, spec.Types)
		if err != nil {
			return nil, fmt.Errorf("ciliumadapt: program %s: %w", name, err)
		}
		obj.Programs = append(obj.Programs, *p)
	}
	return obj, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func convertMap(ms *ebpf.MapSpec) (*ObjMap, error) {
	m := &ObjMap{
		Name:       ms.Name,
		Type:       uint32(ms.Type),
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		Data:       isDataSection(ms.Name),
	}
	if ms.Pinning == ebpf.PinByName {
		m.Pinning = PinGlobalNS
	} else if ms.Pinning != ebpf.PinNone {
		return nil, fmt.Errorf("pinning type %d: %w", ms.Pinning, syscall.EINVAL)
	}
	if ms.Extra != nil && ms.Extra.Len() > 0 {
		// iproute2's struct bpf_elf_map continues bpf_map_def with id,
		// pinning, inner_id and inner_idx.
		tail := make([]byte, ms.Extra.Len())
		if _, err := ms.Extra.ReadAt(tail, 0); err != nil {
			return nil, fmt.Errorf("map definition tail: %v: %w", err, syscall.EINVAL)
		}
		var w [4]uint32
		for i := range w {
			if len(tail) >= 4*(i+1) {
				w[i] = binary.LittleEndian.Uint32(tail[4*i:])
			}
		}
		if len(tail)%4 != 0 || len(tail) > 16 && !allZero(tail[16:]) {
			return nil, fmt.Errorf("map definition of %d bytes is neither bpf_map_def nor bpf_elf_map: %w", 20+len(tail), syscall.EINVAL)
		}
		m.ID, m.InnerID = w[0], w[2]
		switch w[1] {
		case PinNone, PinObjectNS, PinGlobalNS:
			m.Pinning = w[1]
		default:
			return nil, fmt.Errorf("bpf_elf_map pinning %d (custom pinning is not supported): %w", w[1], syscall.EOPNOTSUPP)
		}
	}
	if ms.InnerMap != nil {
		inner, err := convertMap(ms.InnerMap)
		if err != nil {
			return nil, fmt.Errorf("inner map: %w", err)
		}
		inner.Contents = nil
		m.Inner = inner
	}
	for i, kv := range ms.Contents {
		key, err := toBytes(kv.Key)
		if err != nil {
			return nil, fmt.Errorf("contents[%d] key: %w", i, err)
		}
		c := ObjKV{Key: key}
		switch v := kv.Value.(type) {
		case string:
			c.Ref = v
		default:
			if c.Value, err = toBytes(v); err != nil {
				return nil, fmt.Errorf("contents[%d] value: %w", i, err)
			}
		}
		m.Contents = append(m.Contents, c)
	}
	return m, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// isDataSection reports whether a map stands for a global data section.
func isDataSection(name string) bool {
	for _, p := range []string{".data", ".bss", ".rodata"} {
		if name == p || len(name) > len(p) && name[:len(p)+1] == p+"." {
			return true
		}
	}
	return false
}

func toBytes(v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return append([]byte(nil), b...), nil
	case nil:
		return nil, fmt.Errorf("missing: %w", syscall.EINVAL)
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
		return nil, fmt.Errorf("%T: %v: %w", v, err, syscall.EINVAL)
	}
	return buf.Bytes(), nil
}

func convertProgram(ps *ebpf.ProgramSpec, maps map[string]*ebpf.MapSpec, types *btf.Spec) (*ObjProgram, error) {
	insns := make(asm.Instructions, len(ps.Instructions))
	copy(insns, ps.Instructions)
	refs := map[int]string{}
	funcInfo := false
	iter := insns.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if btf.FuncMetadata(ins) != nil {
			funcInfo = true
		}
		if r := btf.CORERelocationMetadata(ins); r != nil {
			return nil, fmt.Errorf("insn %d: CO-RE relocation %s is not supported yet: %w", iter.Offset, r, syscall.EOPNOTSUPP)
		}
		if ins.IsKfuncCall() {
			return nil, fmt.Errorf("insn %d: call of kfunc %q is not supported yet: %w", iter.Offset, ins.Reference(), syscall.EOPNOTSUPP)
		}
		if ins.IsLoadFromMap() && ins.Reference() == "" {
			// cilium rewrites a __kconfig extern's load into a map value
			// load of a virtual .kconfig map it does not list.
			return nil, fmt.Errorf("insn %d: kconfig extern %s is not supported yet: %w", iter.Offset, kconfigName(types, uint32(uint64(ins.Constant)>>32)), syscall.EOPNOTSUPP)
		}
		if !ins.OpCode.IsDWordLoad() || ins.Reference() == "" {
			continue
		}
		ref := ins.Reference()
		if ref == ".kconfig" || ref == ".ksyms" {
			return nil, fmt.Errorf("insn %d: %s extern is not supported yet: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
		}
		if ins.IsLoadFromMap() {
			if _, ok := maps[ref]; ok {
				refs[int(iter.Offset)] = ref
				// Zero the handle, keep a direct load's offset.
				ins.Constant = int64(uint64(ins.Constant) &^ 0xFFFFFFFF)
				*ins = ins.WithReference("")
				continue
			}
			if ins.Src == asm.PseudoMapValue {
				return nil, fmt.Errorf("insn %d: kconfig extern %q is not supported yet: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
			}
		}
		if ins.Src == asm.PseudoFunc {
			continue // bpf-to-bpf function pointer, resolved by Marshal
		}
		return nil, fmt.Errorf("insn %d: extern %q (ksym, kfunc or kconfig) is not supported yet: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
	}
	raw, err := Instructions(insns)
	if err != nil {
		return nil, err
	}
	for slot := range refs {
		if slot+1 >= len(raw) || raw[slot].Op != uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
			return nil, fmt.Errorf("insn %d: map reference on something other than LD_IMM64: %w", slot, syscall.EINVAL)
		}
	}
	return &ObjProgram{
		Name:     ps.Name,
		Section:  ps.SectionName,
		Type:     uint32(ps.Type),
		License:  ps.License,
		Insns:    raw,
		MapRefs:  refs,
		FuncInfo: funcInfo,
	}, nil
}

// kconfigName names the .kconfig variable at offset off, or says "at
// offset N" when the object's BTF does not tell.
func kconfigName(types *btf.Spec, off uint32) string {
	var ds *btf.Datasec
	if types != nil && types.TypeByName(".kconfig", &ds) == nil {
		for _, v := range ds.Vars {
			if v.Offset == off {
				return fmt.Sprintf("%q", v.Type.TypeName())
			}
		}
	}
	return fmt.Sprintf("at .kconfig offset %d", off)
}
