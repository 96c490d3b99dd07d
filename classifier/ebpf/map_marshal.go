package ebpf

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"reflect"
)

// Keys and values cross the Go API as bytes in the kernel's layout: a
// []byte of exactly the size, a type implementing encoding.BinaryMarshaler
// or BinaryUnmarshaler, or a fixed-size value (an integer, an array, a
// struct of such fields, or a pointer to one) in native byte order, as
// encoding/binary and cilium/ebpf lay it out.

var nativeEndian = binary.NativeEndian

// marshal returns the size bytes of v, in buf when it fits.
func marshal(v any, size int, buf []byte) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		if size == 0 {
			return nil, nil // a NULL key, as queues and ring buffers need
		}
		return nil, fmt.Errorf("nil for %d bytes", size)
	case []byte:
		if len(x) != size {
			return nil, fmt.Errorf("%d bytes for %d", len(x), size)
		}
		return x, nil
	case uint32:
		if size == 4 {
			b := buf[:4]
			nativeEndian.PutUint32(b, x)
			return b, nil
		}
	case *uint32:
		if size == 4 && x != nil {
			b := buf[:4]
			nativeEndian.PutUint32(b, *x)
			return b, nil
		}
	case uint64:
		if size == 8 {
			b := buf[:8]
			nativeEndian.PutUint64(b, x)
			return b, nil
		}
	case *uint64:
		if size == 8 && x != nil {
			b := buf[:8]
			nativeEndian.PutUint64(b, *x)
			return b, nil
		}
	case encoding.BinaryMarshaler:
		b, err := x.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if len(b) != size {
			return nil, fmt.Errorf("%T marshals to %d bytes, want %d", v, len(b), size)
		}
		return b, nil
	}
	n := binary.Size(v)
	if n < 0 {
		return nil, fmt.Errorf("%T has no fixed size", v)
	}
	if n != size {
		return nil, fmt.Errorf("%T is %d bytes, want %d", v, n, size)
	}
	return binary.Append(buf[:0], nativeEndian, v)
}

// unmarshal stores data into out.
func unmarshal(out any, data []byte) error {
	switch x := out.(type) {
	case nil:
		return fmt.Errorf("nil output")
	case *[]byte:
		*x = append((*x)[:0], data...)
		return nil
	case []byte:
		if len(x) != len(data) {
			return fmt.Errorf("%d-byte buffer for %d bytes", len(x), len(data))
		}
		copy(x, data)
		return nil
	case *uint32:
		if len(data) == 4 {
			*x = nativeEndian.Uint32(data)
			return nil
		}
	case *uint64:
		if len(data) == 8 {
			*x = nativeEndian.Uint64(data)
			return nil
		}
	case encoding.BinaryUnmarshaler:
		return x.UnmarshalBinary(data)
	}
	if n := binary.Size(out); n != len(data) {
		return fmt.Errorf("%T holds %d bytes, want %d", out, n, len(data))
	}
	if _, err := binary.Decode(data, nativeEndian, out); err != nil {
		return err
	}
	return nil
}

// marshalPerCPU lays a slice of per-slot values out as the syscall takes
// them: slots values, each padded to es bytes; missing slots are zero.
func marshalPerCPU(v any, vs, es, slots int) ([]byte, error) {
	if b, ok := v.([]byte); ok && len(b) == es*slots {
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, fmt.Errorf("per-CPU value must be a slice, not %T", v)
	}
	if rv.Len() > slots {
		return nil, fmt.Errorf("%d per-CPU values for %d slots", rv.Len(), slots)
	}
	out := make([]byte, es*slots)
	var tmp [8]byte
	for i := 0; i < rv.Len(); i++ {
		b, err := marshal(rv.Index(i).Interface(), vs, tmp[:0])
		if err != nil {
			return nil, err
		}
		copy(out[i*es:], b)
	}
	return out, nil
}

// unmarshalPerCPU stores per-slot values into *[]T (or [][]byte).
func unmarshalPerCPU(out any, data []byte, vs, es, slots int) error {
	if b, ok := out.(*[]byte); ok {
		*b = append((*b)[:0], data...)
		return nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("per-CPU output must be a pointer to a slice, not %T", out)
	}
	s := rv.Elem()
	if s.Len() != slots {
		s.Set(reflect.MakeSlice(s.Type(), slots, slots))
	}
	for i := 0; i < slots; i++ {
		el := s.Index(i)
		if el.Kind() == reflect.Slice && el.Type().Elem().Kind() == reflect.Uint8 {
			el.SetBytes(append([]byte(nil), data[i*es:i*es+vs]...))
			continue
		}
		if err := unmarshal(el.Addr().Interface(), data[i*es:i*es+vs]); err != nil {
			return err
		}
	}
	return nil
}
