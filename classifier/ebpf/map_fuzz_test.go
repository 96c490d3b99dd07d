package ebpf

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
)

// FuzzNewMap creates maps from arbitrary attributes and runs a few
// operations with arbitrary keys and values on the ones that exist: never
// a panic, an error exactly when there is no map, and every error an
// errno.
func FuzzNewMap(f *testing.F) {
	seed := func(typ, ks, vs, max, flags uint32, ops []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, typ)
		b = binary.LittleEndian.AppendUint32(b, ks)
		b = binary.LittleEndian.AppendUint32(b, vs)
		b = binary.LittleEndian.AppendUint32(b, max)
		b = binary.LittleEndian.AppendUint32(b, flags)
		return append(b, ops...)
	}
	f.Add(seed(1, 4, 8, 16, 0, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}))
	f.Add(seed(2, 4, 3, 4, 0, []byte{0, 0, 0, 0, 1, 1, 1}))
	f.Add(seed(11, 8, 4, 4, 1, []byte{24, 0, 0, 0, 10, 1, 2, 3, 9, 9, 9, 9}))
	f.Add(seed(22, 0, 4, 2, 0, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(seed(27, 0, 0, 4096, 0, nil))
	f.Add(seed(6, 4, 4, 2, 0, []byte{1, 0, 0, 0}))
	f.Add(seed(12, 4, 4, 2, 0, nil))
	f.Add(seed(9, 4, 4, 3, 2, []byte{5, 5, 5, 5, 5, 5, 5, 5}))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 20 {
			return
		}
		u := func(i int) uint32 { return binary.LittleEndian.Uint32(in[4*i:]) }
		spec := &MapSpec{
			Type:       MapType(u(0) % 40),
			KeySize:    u(1) % 300,
			ValueSize:  u(2) % 5000,
			MaxEntries: u(3) % 5000,
			Flags:      u(4) & 0x3fff,
			InnerMap:   &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		}
		if spec.Type == RingBuf {
			spec.MaxEntries = u(3) % (1 << 16)
		}
		m, err := NewMap(spec, WithSlots(2), WithMaxMemory(16<<20))
		if (m == nil) == (err == nil) {
			t.Fatalf("map %v with error %v", m, err)
		}
		if err != nil {
			var errno syscall.Errno
			if !errors.As(err, &errno) {
				t.Fatalf("error without errno: %v", err)
			}
			return
		}
		ops := in[20:]
		key := make([]byte, spec.KeySize)
		val := make([]byte, m.m.SysValueSize())
		for len(ops) > 0 {
			op := ops[0]
			ops = ops[1:]
			n := copy(key, ops)
			copy(val, ops[n:])
			var k any = key
			if spec.KeySize == 0 {
				k = nil
			}
			var out []byte
			switch op % 8 {
			case 0:
				m.Update(k, val, UpdateFlags(op/6%5))
			case 1:
				m.Lookup(k, &out)
			case 2:
				m.Delete(k)
			case 3:
				m.NextKey(k, &out)
			case 4:
				m.LookupAndDelete(k, &out)
			case 5:
				it := m.Iterate()
				for i := 0; i < 10 && it.Next(&out, &out); i++ {
				}
			case 6:
				var c MapBatchCursor
				kb := make([]byte, int(spec.KeySize)*int(op%4))
				vb := make([]byte, m.m.SysValueSize()*int(op%4))
				for i := 0; i < 3; i++ {
					if _, err := m.BatchLookup(&c, kb, vb, nil); err != nil {
						break
					}
				}
			default:
				m.BatchUpdate(key, val, nil)
				m.BatchDelete(key, nil)
			}
			// The program side with the same bytes.
			m.m.Lookup(key, uint32(op%3))
			m.m.Update(key, val[:min(len(val), int(spec.ValueSize))], uint64(op%5), uint32(op%3))
			if len(ops) > int(spec.KeySize) {
				ops = ops[spec.KeySize:]
			} else {
				ops = nil
			}
		}
	})
}
