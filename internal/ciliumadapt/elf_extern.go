package ciliumadapt

// Externs and CO-RE at object load, as libbpf resolves them before
// BPF_PROG_LOAD (tools/lib/bpf/libbpf.c: bpf_object__collect_externs,
// bpf_object__resolve_externs, bpf_object__relocate_data,
// bpf_object__relocate_core): __kconfig externs become loads from a
// read-only ".kconfig" array map whose single value the loader fills in,
// __ksym variables resolve to their address (0 for an absent __weak one),
// and CO-RE relocations are applied against a target BTF.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/core"
)

// KconfigMap is the name of the map __kconfig externs are read from, as
// libbpf names it.
const KconfigMap = ".kconfig"

// bpfFRdonlyProg is BPF_F_RDONLY_PROG: programs cannot write the map.
const bpfFRdonlyProg = 1 << 7

// Options are what LoadObjectOptions resolves externs and relocations
// against: the kernel the object is loaded for.
type Options struct {
	// Target is the BTF CO-RE relocations resolve against; nil means the
	// program has none or the caller refuses them.
	Target *core.Target
	// Kconfig holds CONFIG_* values as a kernel .config spells them
	// ("y", "m", "n", "\"text\"", "42", "0x2a"); an option it lacks is
	// "not set".
	Kconfig map[string]string
	// KernelVersion is LINUX_KERNEL_VERSION, KERNEL_VERSION(a, b, c).
	KernelVersion uint32
	// SyscallWrapper and BPFCookie are LINUX_HAS_SYSCALL_WRAPPER and
	// LINUX_HAS_BPF_COOKIE.
	SyscallWrapper, BPFCookie bool
}

// weakExterns returns a copy of an object whose undefined weak symbols
// have been made global, and the names of those symbols: cilium/ebpf's
// reader refuses weak __kconfig externs, which libbpf accepts (and
// defaults to zero when the kernel lacks them).
func weakExterns(b []byte) ([]byte, map[string]bool, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("ciliumadapt: read object: %v: %w", err, syscall.EINVAL)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return b, nil, nil // cilium's reader says what is wrong
	}
	st := f.Section(".symtab")
	if st == nil || st.Type != elf.SHT_SYMTAB {
		return b, nil, nil
	}
	syms, err := f.Symbols()
	if err != nil {
		return b, nil, nil
	}
	const symSize = 24 // Elf64_Sym
	weak := map[string]bool{}
	var out []byte
	for i, s := range syms {
		if elf.ST_BIND(s.Info) != elf.STB_WEAK || s.Section != elf.SHN_UNDEF {
			continue
		}
		// Symbols() skips the null symbol at index 0.
		off := st.Offset + uint64(i+1)*symSize + 4
		if off >= uint64(len(b)) {
			return nil, nil, fmt.Errorf("ciliumadapt: symbol %s outside the object: %w", s.Name, syscall.EINVAL)
		}
		if out == nil {
			out = bytes.Clone(b)
		}
		out[off] = elf.ST_INFO(elf.STB_GLOBAL, elf.ST_TYPE(s.Info))
		weak[s.Name] = true
	}
	if out == nil {
		return b, nil, nil
	}
	return out, weak, nil
}

// metaField reads field of the metadata value of type typeName (one of
// cilium's unexported kconfigMeta, ksymMeta, kfuncMeta) attached to ins:
// v0.22.0 exports neither their keys nor their fields' accessors.
func metaField(ins *asm.Instruction, typeName, field string) (reflect.Value, bool) {
	e := reflect.ValueOf(&ins.Metadata).Elem().FieldByName("head")
	for e.IsValid() && !e.IsNil() {
		el := e.Elem()
		v := el.FieldByName("value")
		if v.Kind() == reflect.Interface && !v.IsNil() {
			p := v.Elem()
			if p.Kind() == reflect.Pointer && !p.IsNil() && p.Elem().Type().Name() == typeName {
				f := p.Elem().FieldByName(field)
				return f, f.IsValid()
			}
		}
		e = el.FieldByName("next")
	}
	return reflect.Value{}, false
}

// kfuncName names the kfunc a call or LD_IMM64 refers to, if it is one.
func kfuncName(ins *asm.Instruction) (string, bool) {
	f, ok := metaField(ins, "kfuncMeta", "Func")
	if !ok || f.IsNil() {
		return "", false
	}
	return f.Elem().FieldByName("Name").String(), true
}

// ksymName names the __ksym variable an LD_IMM64 loads, if it is one.
func ksymName(ins *asm.Instruction) (string, bool) {
	f, ok := metaField(ins, "ksymMeta", "Name")
	if !ok {
		return "", false
	}
	return f.String(), true
}

// kconfigOffset is the offset in .kconfig of the extern an LD_IMM64
// loads, if it loads one.
func kconfigOffset(ins *asm.Instruction) (uint32, bool) {
	f, ok := metaField(ins, "kconfigMeta", "Offset")
	if !ok {
		return 0, false
	}
	return uint32(f.Uint()), true
}

// kcfgType is libbpf's enum kcfg_type.
type kcfgType int

const (
	kcfgUnknown kcfgType = iota
	kcfgChar
	kcfgBool
	kcfgInt
	kcfgTristate
	kcfgCharArr
)

// findKcfgType is libbpf's find_kcfg_type.
func findKcfgType(t btf.Type) (kt kcfgType, signed bool) {
	t = btf.UnderlyingType(skipQualifiers(t))
	switch t := t.(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			if t.Size == 1 {
				return kcfgBool, false
			}
			return kcfgUnknown, false
		}
		signed = t.Encoding&btf.Signed != 0
		if t.Size == 1 {
			return kcfgChar, signed
		}
		if t.Size < 1 || t.Size > 8 || t.Size&(t.Size-1) != 0 {
			return kcfgUnknown, signed
		}
		return kcfgInt, signed
	case *btf.Enum:
		if t.Name != "libbpf_tristate" || (t.Size != 4 && t.Size != 8) {
			return kcfgUnknown, false
		}
		return kcfgTristate, false
	case *btf.Array:
		if t.Nelems == 0 {
			return kcfgUnknown, false
		}
		if et, _ := findKcfgType(t.Type); et != kcfgChar {
			return kcfgUnknown, false
		}
		return kcfgCharArr, false
	}
	return kcfgUnknown, false
}

func skipQualifiers(t btf.Type) btf.Type {
	for {
		switch q := t.(type) {
		case *btf.Const:
			t = q.Type
		case *btf.Volatile:
			t = q.Type
		case *btf.Restrict:
			t = q.Type
		case *btf.Typedef:
			t = q.Type
		default:
			return t
		}
	}
}

// kconfigData builds the value of the .kconfig map from the object's
// .kconfig datasec with libbpf's rules: LINUX_* externs are virtual (only
// the known ones may be strong), CONFIG_* come from opts.Kconfig, an
// extern nothing sets is an error (ESRCH) unless it is __weak, then 0.
func kconfigData(ds *btf.Datasec, weak map[string]bool, opts *Options) ([]byte, error) {
	data := make([]byte, ds.Size)
	for _, vsi := range ds.Vars {
		v, ok := vsi.Type.(*btf.Var)
		if !ok {
			return nil, fmt.Errorf("%s: %T in the datasec: %w", KconfigMap, vsi.Type, syscall.EINVAL)
		}
		name := v.Name
		kt, signed := findKcfgType(v.Type)
		if kt == kcfgUnknown {
			return nil, fmt.Errorf("extern (kcfg) '%s': type is unsupported: %w", name, syscall.EOPNOTSUPP)
		}
		if uint64(vsi.Offset)+uint64(vsi.Size) > uint64(len(data)) || vsi.Size == 0 {
			return nil, fmt.Errorf("extern (kcfg) '%s': at %d+%d outside %d bytes: %w", name, vsi.Offset, vsi.Size, len(data), syscall.EINVAL)
		}
		e := kcfgExtern{name: name, typ: kt, signed: signed, val: data[vsi.Offset : vsi.Offset+vsi.Size]}
		if strings.HasPrefix(name, "CONFIG_") {
			value, set := opts.Kconfig[name]
			if !set {
				if !weak[name] {
					return nil, fmt.Errorf("extern '%s' (strong): not resolved: %w", name, syscall.ESRCH)
				}
				continue
			}
			if err := e.set(value); err != nil {
				return nil, err
			}
			continue
		}
		var value uint64
		switch name {
		case "LINUX_KERNEL_VERSION":
			value = uint64(opts.KernelVersion)
			if value == 0 {
				return nil, fmt.Errorf("extern (kcfg) '%s': failed to get kernel version: %w", name, syscall.EINVAL)
			}
		case "LINUX_HAS_BPF_COOKIE":
			value = b2u(opts.BPFCookie)
		case "LINUX_HAS_SYSCALL_WRAPPER":
			value = b2u(opts.SyscallWrapper)
		default:
			if !strings.HasPrefix(name, "LINUX_") || !weak[name] {
				return nil, fmt.Errorf("extern (kcfg) '%s': unrecognized virtual extern: %w", name, syscall.EINVAL)
			}
		}
		if err := e.setNum(value); err != nil {
			return nil, err
		}
	}
	return data, nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// kcfgExtern is one extern's slot in the .kconfig value.
type kcfgExtern struct {
	name   string
	typ    kcfgType
	signed bool
	val    []byte
}

// set is bpf_object__process_kconfig_line's parsing of a value.
func (e *kcfgExtern) set(value string) error {
	switch {
	case value == "y" || value == "n" || value == "m":
		return e.setTri(value[0])
	case strings.HasPrefix(value, `"`):
		return e.setStr(value)
	}
	n, err := strtoull(value)
	if err != nil {
		return fmt.Errorf("extern (kcfg) '%s': value '%s' isn't a number: %w", e.name, value, err)
	}
	return e.setNum(n)
}

// strtoull is C's strtoull(s, &end, 0) with libbpf's demand that all of
// s be consumed: leading blanks, a sign (a minus negates modulo 2^64), a
// 0x or 0 prefix for hex or octal; ERANGE on overflow, EINVAL otherwise.
func strtoull(s string) (uint64, error) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base, digits := 10, s
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	if digits == "" || strings.ContainsAny(digits, "_+-") {
		return 0, syscall.EINVAL
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, syscall.ERANGE
		}
		return 0, syscall.EINVAL
	}
	if neg {
		n = -n
	}
	return n, nil
}

// setTri is set_kcfg_value_tri.
func (e *kcfgExtern) setTri(c byte) error {
	switch e.typ {
	case kcfgBool:
		if c == 'm' {
			return fmt.Errorf("extern (kcfg) '%s': value '%c' implies tristate or char type: %w", e.name, c, syscall.EINVAL)
		}
		e.val[0] = byte(b2u(c == 'y'))
	case kcfgTristate:
		switch c {
		case 'y':
			e.val[0] = 1 // TRI_YES
		case 'm':
			e.val[0] = 2 // TRI_MODULE
		default:
			e.val[0] = 0 // TRI_NO
		}
	case kcfgChar:
		e.val[0] = c
	default:
		return fmt.Errorf("extern (kcfg) '%s': value '%c' implies bool, tristate, or char type: %w", e.name, c, syscall.EINVAL)
	}
	return nil
}

// setStr is set_kcfg_value_str: a quoted string into a char array,
// truncated to leave room for the NUL.
func (e *kcfgExtern) setStr(value string) error {
	if e.typ != kcfgCharArr {
		return fmt.Errorf("extern (kcfg) '%s': value '%s' implies char array type: %w", e.name, value, syscall.EINVAL)
	}
	if len(value) < 2 || value[len(value)-1] != '"' {
		return fmt.Errorf("extern (kcfg) '%s': invalid string config '%s': %w", e.name, value, syscall.EINVAL)
	}
	s := value[1 : len(value)-1]
	if len(s) >= len(e.val) {
		s = s[:len(e.val)-1]
	}
	copy(e.val, s)
	e.val[len(s)] = 0
	return nil
}

// setNum is set_kcfg_value_num.
func (e *kcfgExtern) setNum(v uint64) error {
	if e.typ != kcfgInt && e.typ != kcfgChar && e.typ != kcfgBool {
		return fmt.Errorf("extern (kcfg) '%s': value '%d' implies integer type: %w", e.name, v, syscall.EINVAL)
	}
	if e.typ == kcfgBool && v > 1 {
		return fmt.Errorf("extern (kcfg) '%s': value '%d' isn't boolean compatible: %w", e.name, v, syscall.EINVAL)
	}
	if e.typ != kcfgBool && !inRange(len(e.val), e.signed, v) {
		return fmt.Errorf("extern (kcfg) '%s': value '%d' doesn't fit in %d bytes: %w", e.name, v, len(e.val), syscall.ERANGE)
	}
	switch len(e.val) {
	case 1:
		e.val[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(e.val, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(e.val, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(e.val, v)
	default:
		return fmt.Errorf("extern (kcfg) '%s': %d bytes: %w", e.name, len(e.val), syscall.EINVAL)
	}
	return nil
}

// inRange is is_kcfg_value_in_range.
func inRange(size int, signed bool, v uint64) bool {
	if size >= 8 {
		return true
	}
	bits := uint(size * 8)
	if signed {
		return v+1<<(bits-1) < 1<<bits
	}
	return v>>bits == 0
}
