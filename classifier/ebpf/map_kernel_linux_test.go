//go:build linux

package ebpf

import (
	"errors"
	"syscall"
	"testing"

	ciliumebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestKernelGoAPI checks that the Go API reads and writes the same Go
// values as cilium/ebpf's Map does on a kernel map of the same spec:
// struct keys, per-CPU slices, LPM keys, queue pops and iteration.
func TestKernelGoAPI(t *testing.T) {
	kerneltest.RequireRoot(t)
	cpus, err := ciliumebpf.PossibleCPU()
	require.NoError(t, err)
	probe, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		kerneltest.Skip(t, "bpf(BPF_MAP_CREATE) failed: "+err.Error())
	}
	probe.Close()

	type flow struct {
		Src, Dst uint32
		Port     uint16
		Proto    uint8
		Pad      uint8
	}
	type counters struct {
		Packets, Bytes uint64
	}
	pair := func(typ MapType, ks, vs, max, flags uint32) (*ciliumebpf.Map, *Map) {
		km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(typ), KeySize: ks, ValueSize: vs, MaxEntries: max, Flags: flags})
		require.NoError(t, err)
		t.Cleanup(func() { km.Close() })
		return km, newMap(t, &MapSpec{Type: typ, KeySize: ks, ValueSize: vs, MaxEntries: max, Flags: flags}, WithSlots(cpus))
	}

	t.Run("struct_hash", func(t *testing.T) {
		km, m := pair(Hash, 12, 16, 8, FlagZeroSeed)
		for i := uint32(0); i < 5; i++ {
			k, v := flow{Src: i, Dst: ^i, Port: uint16(i * 80), Proto: 6}, counters{uint64(i), uint64(i) * 1500}
			require.NoError(t, km.Put(k, v))
			require.NoError(t, m.Put(k, v))
		}
		var kk, ok flow
		var kv, ov counters
		kit, oit := km.Iterate(), m.Iterate()
		for kit.Next(&kk, &kv) {
			require.True(t, oit.Next(&ok, &ov))
			assert.Equal(t, kk, ok, "same order under FlagZeroSeed")
			assert.Equal(t, kv, ov)
		}
		require.NoError(t, kit.Err())
		assert.False(t, oit.Next(&ok, &ov))
		require.NoError(t, oit.Err())
	})

	t.Run("percpu", func(t *testing.T) {
		for _, typ := range []MapType{PerCPUArray, PerCPUHash, LRUCPUHash} {
			km, m := pair(typ, 4, 12, 4, 0)
			type v12 struct {
				A uint64
				B uint32
			}
			vals := make([]v12, cpus)
			for i := range vals {
				vals[i] = v12{uint64(i) + 1, uint32(i) * 7}
			}
			require.NoError(t, km.Put(uint32(1), vals))
			require.NoError(t, m.Put(uint32(1), vals))
			var kout, oout []v12
			require.NoError(t, km.Lookup(uint32(1), &kout))
			require.NoError(t, m.Lookup(uint32(1), &oout))
			assert.Equal(t, kout, oout, "%s", typ)
			var kraw, oraw [][]byte
			require.NoError(t, km.Lookup(uint32(1), &kraw))
			require.NoError(t, m.Lookup(uint32(1), &oraw))
			assert.Equal(t, kraw, oraw, "%s raw", typ)
		}
	})

	t.Run("lpm", func(t *testing.T) {
		type key struct {
			Prefixlen uint32
			Addr      [16]byte
		}
		km, m := pair(LPMTrie, 20, 4, 16, FlagNoPrealloc)
		for i, p := range []uint32{0, 16, 48, 64, 128, 56} {
			k := key{Prefixlen: p, Addr: [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i)}}
			require.NoError(t, km.Put(k, uint32(i)))
			require.NoError(t, m.Put(k, uint32(i)))
		}
		for _, a := range [][16]byte{{0x20, 0x01, 0x0d, 0xb8, 4}, {0x20, 0x01}, {1}} {
			var kv, ov uint32
			kerr := km.Lookup(key{128, a}, &kv)
			oerr := m.Lookup(key{128, a}, &ov)
			assert.Equal(t, kerr == nil, oerr == nil)
			assert.Equal(t, kv, ov)
		}
		var keys [2][]key
		for i, it := range []interface {
			Next(k, v any) bool
		}{km.Iterate(), m.Iterate()} {
			var k key
			var v uint32
			for it.Next(&k, &v) {
				keys[i] = append(keys[i], k)
			}
		}
		assert.Equal(t, keys[0], keys[1], "post-order walk")
	})

	t.Run("stack", func(t *testing.T) {
		km, m := pair(Stack, 0, 8, 3, 0)
		for _, v := range []uint64{1, 2, 3, 4} {
			assert.Equal(t, km.Update(nil, v, ciliumebpf.UpdateAny) == nil, m.Update(nil, v, UpdateAny) == nil)
		}
		var got [2][]uint64
		for i, pop := range []func(*uint64) error{
			func(v *uint64) error { return km.LookupAndDelete(nil, v) },
			func(v *uint64) error { return m.LookupAndDelete(nil, v) },
		} {
			var v uint64
			for pop(&v) == nil {
				got[i] = append(got[i], v)
			}
		}
		assert.Equal(t, got[0], got[1])
		assert.Equal(t, []uint64{3, 2, 1}, got[1])
	})

	t.Run("batch", func(t *testing.T) {
		for _, typ := range []MapType{Hash, LRUHash, Array} {
			km, m := pair(typ, 4, 8, 32, 0)
			if typ != Array {
				km, m = pair(typ, 4, 8, 32, FlagZeroSeed)
			}
			keys, vals := make([]uint32, 20), make([]uint64, 20)
			for i := range keys {
				keys[i], vals[i] = uint32(i*3), uint64(i)
			}
			kn, kerr := km.BatchUpdate(keys, vals, nil)
			on, oerr := m.BatchUpdate(keys, vals, nil)
			require.Equal(t, kerr == nil, oerr == nil, "%s update: %v / %v", typ, kerr, oerr)
			require.Equal(t, kn, on)
			for _, size := range []int{1, 3, 7} {
				var kc ciliumebpf.MapBatchCursor
				var oc MapBatchCursor
				for step := 0; step < 40; step++ {
					kk, kv := make([]uint32, size), make([]uint64, size)
					ok, ov := make([]uint32, size), make([]uint64, size)
					kn, kerr := km.BatchLookup(&kc, kk, kv, nil)
					on, oerr := m.BatchLookup(&oc, ok, ov, nil)
					assert.Equal(t, errnoIn(kerr), errnoIn(oerr), "%s size %d step %d: %v / %v", typ, size, step, kerr, oerr)
					require.Equal(t, kn, on, "%s size %d step %d", typ, size, step)
					assert.Equal(t, kk[:kn], ok[:on])
					assert.Equal(t, kv[:kn], ov[:on])
					if kerr != nil {
						break
					}
				}
			}
		}
	})

	t.Run("percpu_batch", func(t *testing.T) {
		km, m := pair(PerCPUHash, 4, 4, 8, FlagZeroSeed)
		keys := []uint32{1, 2, 3}
		vals := make([]uint32, len(keys)*cpus)
		for i := range vals {
			vals[i] = uint32(i + 1)
		}
		kn, kerr := km.BatchUpdate(keys, vals, nil)
		on, oerr := m.BatchUpdate(keys, vals, nil)
		require.NoError(t, kerr)
		require.NoError(t, oerr)
		require.Equal(t, kn, on)
		var kc ciliumebpf.MapBatchCursor
		var oc MapBatchCursor
		kk, kv := make([]uint32, 4), make([]uint32, 4*cpus)
		ok, ov := make([]uint32, 4), make([]uint32, 4*cpus)
		kn, kerr = km.BatchLookup(&kc, kk, kv, nil)
		on, oerr = m.BatchLookup(&oc, ok, ov, nil)
		assert.Equal(t, errnoIn(kerr), errnoIn(oerr), "%v / %v", kerr, oerr)
		require.Equal(t, kn, on)
		assert.Equal(t, kk, ok)
		assert.Equal(t, kv, ov)
	})

	t.Run("array_walk", func(t *testing.T) {
		km, m := pair(Array, 4, 4, 5, 0)
		require.NoError(t, km.Put(uint32(3), uint32(33)))
		require.NoError(t, m.Put(uint32(3), uint32(33)))
		var kk, ok []uint32
		var k, v uint32
		for it := km.Iterate(); it.Next(&k, &v); {
			kk = append(kk, k, v)
		}
		for it := m.Iterate(); it.Next(&k, &v); {
			ok = append(ok, k, v)
		}
		assert.Equal(t, kk, ok)
	})
}

// errnoIn is the errno in err's chain, 0 for none.
func errnoIn(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
