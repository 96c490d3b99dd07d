package ciliumadapt

// ELF object reading: cilium/ebpf's LoadCollectionSpec parses a
// clang-compiled object (programs, BTF and legacy map definitions, data
// sections, bpf-to-bpf calls) without a kernel; this file turns its
// CollectionSpec into plain data the rest of the project owns, and refuses
// CO-RE relocations and externs as libbpf does (elf_extern.go); kfunc
// calls stay in the program, named in ObjProgram.Kfuncs.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/core"
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
	// Kfuncs names the kfunc each kfunc call (src 2) calls, by slot
	// index: the library serves none, so a path that reaches one fails
	// verification.
	Kfuncs map[int]string
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
	return LoadObjectOptions(b, nil)
}

// LoadObjectOptions is LoadObject resolving CO-RE relocations and externs
// against opts; with nil opts an object that has any is refused with
// EOPNOTSUPP.
func LoadObjectOptions(b []byte, opts *Options) (obj *Object, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("ciliumadapt: malformed object: %v: %w", r, syscall.EINVAL)
		}
	}()
	if err := checkSections(b); err != nil {
		return nil, err
	}
	b, weak, err := weakExterns(b)
	if err != nil {
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
	return convert(spec, opts, weak)
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

func convert(spec *ebpf.CollectionSpec, opts *Options, weak map[string]bool) (*Object, error) {
	obj := &Object{}
	var kconfig *btf.Datasec
	if spec.Types != nil && spec.Types.TypeByName(KconfigMap, &kconfig) == nil {
		if opts == nil {
			return nil, fmt.Errorf("ciliumadapt: kconfig extern %s is not resolved without load options: %w", kconfigNames(kconfig), syscall.EOPNOTSUPP)
		}
		data, err := kconfigData(kconfig, weak, opts)
		if err != nil {
			return nil, fmt.Errorf("ciliumadapt: %w", err)
		}
		obj.Maps = append(obj.Maps, ObjMap{
			Name: KconfigMap, Type: uint32(ebpf.Array), KeySize: 4, ValueSize: kconfig.Size,
			MaxEntries: 1, Flags: bpfFRdonlyProg, Data: true,
			Contents: []ObjKV{{Key: make([]byte, 4), Value: data}},
		})
	}
	for _, name := range sortedKeys(spec.Maps) {
		m, err := convertMap(spec.Maps[name])
		if err != nil {
			return nil, fmt.Errorf("ciliumadapt: map %s: %w", name, err)
		}
		obj.Maps = append(obj.Maps, *m)
	}
	sort.SliceStable(obj.Maps, func(i, j int) bool { return obj.Maps[i].Name < obj.Maps[j].Name })
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
		p, err := convertProgram(spec.Programs[name], spec.Maps, spec.Types, opts, weak, kconfig)
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

func convertProgram(ps *ebpf.ProgramSpec, maps map[string]*ebpf.MapSpec, types *btf.Spec, opts *Options, weak map[string]bool, kconfig *btf.Datasec) (*ObjProgram, error) {
	insns := make(asm.Instructions, len(ps.Instructions))
	copy(insns, ps.Instructions)
	for i := range insns {
		if r := btf.CORERelocationMetadata(&insns[i]); r != nil {
			if opts == nil || opts.Target == nil {
				return nil, fmt.Errorf("insn %d: CO-RE relocation %s needs a target BTF: %w", i, r, syscall.EOPNOTSUPP)
			}
			relocated, err := core.Apply(ps, types, opts.Target, nil)
			if err != nil {
				return nil, err
			}
			insns = relocated
			break
		}
	}
	refs := map[int]string{}
	var kfuncs map[int]string
	funcInfo := false
	iter := insns.Iterate()
	for iter.Next() {
		ins := iter.Ins
		if btf.FuncMetadata(ins) != nil {
			funcInfo = true
		}
		if r := btf.CORERelocationMetadata(ins); r != nil {
			return nil, fmt.Errorf("insn %d: CO-RE relocation %s left unapplied: %w", iter.Offset, r, syscall.EINVAL)
		}
		if name, ok := kfuncName(ins); ok {
			if opts == nil {
				return nil, fmt.Errorf("insn %d: kfunc %q: %w", iter.Offset, name, syscall.EOPNOTSUPP)
			}
			if ins.IsKfuncCall() {
				// The call stays: the verifier rejects it on a path
				// that reaches it, and the loader names the kfunc.
				if kfuncs == nil {
					kfuncs = map[int]string{}
				}
				kfuncs[int(iter.Offset)] = name
				*ins = asm.Instruction{OpCode: ins.OpCode, Src: asm.PseudoKfuncCall, Constant: 0}
				continue
			}
			// bpf_ksym_exists(kfunc): libbpf resolves an absent __weak
			// kfunc's address to 0; the library serves no kfunc.
			if !weak[name] {
				return nil, fmt.Errorf("insn %d: extern (func ksym) '%s': not found in kernel or module BTFs: %w", iter.Offset, name, syscall.ESRCH)
			}
			*ins = asm.LoadImm(ins.Dst, 0, asm.DWord)
			continue
		}
		if name, ok := ksymName(ins); ok {
			if opts == nil {
				return nil, fmt.Errorf("insn %d: ksym %q: %w", iter.Offset, name, syscall.EOPNOTSUPP)
			}
			// The modelled kernel has no symbols: only a __weak ksym
			// resolves, to 0.
			if !weak[name] {
				return nil, fmt.Errorf("insn %d: extern (ksym) '%s': not found in the kernel: %w", iter.Offset, name, syscall.ESRCH)
			}
			*ins = asm.LoadImm(ins.Dst, 0, asm.DWord)
			continue
		}
		if off, ok := kconfigOffset(ins); ok {
			if opts == nil || kconfig == nil {
				return nil, fmt.Errorf("insn %d: kconfig extern %s: %w", iter.Offset, kconfigName(types, off), syscall.EOPNOTSUPP)
			}
			refs[int(iter.Offset)] = KconfigMap
			*ins = asm.Instruction{OpCode: ins.OpCode, Dst: ins.Dst, Src: asm.PseudoMapValue, Constant: int64(uint64(off) << 32)}
			continue
		}
		if ins.IsKfuncCall() {
			return nil, fmt.Errorf("insn %d: call of kfunc %q is not supported: %w", iter.Offset, ins.Reference(), syscall.EOPNOTSUPP)
		}
		if ins.IsLoadFromMap() && ins.Reference() == "" {
			return nil, fmt.Errorf("insn %d: kconfig extern %s is not supported: %w", iter.Offset, kconfigName(types, uint32(uint64(ins.Constant)>>32)), syscall.EOPNOTSUPP)
		}
		if !ins.OpCode.IsDWordLoad() || ins.Reference() == "" {
			continue
		}
		ref := ins.Reference()
		if ref == ".kconfig" || ref == ".ksyms" {
			return nil, fmt.Errorf("insn %d: %s extern is not supported: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
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
				return nil, fmt.Errorf("insn %d: kconfig extern %q is not supported: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
			}
		}
		if ins.Src == asm.PseudoFunc {
			continue // bpf-to-bpf function pointer, resolved by Marshal
		}
		return nil, fmt.Errorf("insn %d: extern %q (ksym, kfunc or kconfig) is not supported: %w", iter.Offset, ref, syscall.EOPNOTSUPP)
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
		Kfuncs:   kfuncs,
	}, nil
}

// kconfigNames lists a .kconfig datasec's externs.
func kconfigNames(ds *btf.Datasec) string {
	var names []string
	for _, v := range ds.Vars {
		names = append(names, strconv.Quote(v.Type.TypeName()))
	}
	return strings.Join(names, ", ")
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
