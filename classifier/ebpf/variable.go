package ebpf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"
)

// VariableSpec is a global variable of an object (a non-static symbol in
// .data, .bss or .rodata*): where its bytes lie in its section's map.
// Set and read variables through ObjectSpec.SetVariable and
// ObjectSpec.Variable before NewCollection, the way a loader configures
// `const volatile` settings; afterwards the section's Map holds them.
type VariableSpec struct {
	Name    string
	Section string // the data section, also the map's name
	Offset  uint32
	Size    uint32
}

// SetVariable writes value (a fixed-size Go value or a []byte, in the
// target's little-endian byte order) into the initial contents of the
// variable's section. A value of another size is EINVAL, an unknown name
// ENOENT.
func (s *ObjectSpec) SetVariable(name string, value any) error {
	v, data, err := s.variable(name)
	if err != nil {
		return err
	}
	b, ok := value.([]byte)
	if !ok {
		var buf bytes.Buffer
		if err := binary.Write(&buf, binary.LittleEndian, value); err != nil {
			return fmt.Errorf("ebpf: set variable %s: %T: %v: %w", name, value, err, syscall.EINVAL)
		}
		b = buf.Bytes()
	}
	if len(b) != int(v.Size) {
		return fmt.Errorf("ebpf: set variable %s: %d bytes for a variable of %d: %w", name, len(b), v.Size, syscall.EINVAL)
	}
	// Copy on write: copies of the spec may share the section's bytes.
	data = append([]byte(nil), data...)
	copy(data[v.Offset:], b)
	s.Maps[v.Section].Contents[0].Value = data
	return nil
}

// Variable reads the variable's initial value into out (a pointer to a
// fixed-size Go value, or a *[]byte).
func (s *ObjectSpec) Variable(name string, out any) error {
	v, data, err := s.variable(name)
	if err != nil {
		return err
	}
	b := data[v.Offset : v.Offset+v.Size]
	if p, ok := out.(*[]byte); ok {
		*p = append((*p)[:0], b...)
		return nil
	}
	if binary.Size(out) != int(v.Size) {
		return fmt.Errorf("ebpf: variable %s: %T for a variable of %d bytes: %w", name, out, v.Size, syscall.EINVAL)
	}
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, out); err != nil {
		return fmt.Errorf("ebpf: variable %s: %v: %w", name, err, syscall.EINVAL)
	}
	return nil
}

// variable finds a variable and its section's initial bytes.
func (s *ObjectSpec) variable(name string) (*VariableSpec, []byte, error) {
	v := s.Variables[name]
	if v == nil {
		return nil, nil, fmt.Errorf("ebpf: variable %s: %w", name, syscall.ENOENT)
	}
	ms := s.Maps[v.Section]
	if ms == nil || len(ms.Contents) != 1 {
		return nil, nil, fmt.Errorf("ebpf: variable %s: section %s has no initial value: %w", name, v.Section, syscall.EINVAL)
	}
	data, ok := ms.Contents[0].Value.([]byte)
	if !ok || uint64(v.Offset)+uint64(v.Size) > uint64(len(data)) {
		return nil, nil, fmt.Errorf("ebpf: variable %s: outside section %s: %w", name, v.Section, syscall.EINVAL)
	}
	return v, data, nil
}
