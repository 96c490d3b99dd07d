package ebpf

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
	"github.com/clsbpf/clsbpf/internal/maps"
)

func newMap(t testing.TB, spec *MapSpec, opts ...MapOption) *Map {
	t.Helper()
	m, err := NewMap(spec, opts...)
	require.NoError(t, err)
	return m
}

func TestNewMapErrors(t *testing.T) {
	_, err := NewMap(nil)
	assert.ErrorIs(t, err, syscall.EINVAL)

	_, err = NewMap(&MapSpec{Name: "flows", Type: Hash, KeySize: 4, ValueSize: 4})
	require.ErrorIs(t, err, syscall.EINVAL)
	var me *MapError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "create", me.Op)
	assert.Equal(t, "flows", me.Map)
	assert.Contains(t, err.Error(), "max_entries")

	_, err = NewMap(&MapSpec{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc})
	assert.ErrorIs(t, err, ErrNotSupported)
	_, err = NewMap(&MapSpec{Type: Array, KeySize: 4, ValueSize: 1 << 20, MaxEntries: 64}, WithMaxMemory(1<<20))
	assert.ErrorIs(t, err, syscall.ENOMEM)
	_, err = NewMap(&MapSpec{Type: StackTrace, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	assert.ErrorIs(t, err, syscall.EINVAL)

	_, err = NewMap(&MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 2,
		Contents: []MapKV{{uint32(0), uint32(1)}, {uint32(5), uint32(1)}}})
	assert.ErrorIs(t, err, syscall.E2BIG, "contents beyond max_entries")
}

type pair struct {
	A uint16
	B [3]byte
	C uint8
}

type marshaled uint32

func (m marshaled) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint32(nil, uint32(m)), nil
}

func (m *marshaled) UnmarshalBinary(b []byte) error {
	*m = marshaled(binary.BigEndian.Uint32(b))
	return nil
}

func TestMarshalling(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Hash, KeySize: 6, ValueSize: 4, MaxEntries: 8})
	require.NoError(t, m.Put(pair{A: 1, B: [3]byte{2, 3, 4}, C: 5}, uint32(7)))
	var v uint32
	require.NoError(t, m.Lookup([]byte{1, 0, 2, 3, 4, 5}, &v), "native-endian struct layout")
	assert.Equal(t, uint32(7), v)
	var raw []byte
	require.NoError(t, m.Lookup(&pair{A: 1, B: [3]byte{2, 3, 4}, C: 5}, &raw))
	assert.Equal(t, []byte{7, 0, 0, 0}, raw)
	var mv marshaled
	require.NoError(t, m.Put([]byte{9, 9, 9, 9, 9, 9}, marshaled(0x01020304)))
	require.NoError(t, m.Lookup([]byte{9, 9, 9, 9, 9, 9}, &mv))
	assert.Equal(t, marshaled(0x01020304), mv)
	require.NoError(t, m.Lookup([]byte{9, 9, 9, 9, 9, 9}, &v))
	assert.Equal(t, uint32(0x04030201), v, "MarshalBinary's bytes as stored")

	assert.ErrorIs(t, m.Put(uint32(1), uint32(1)), syscall.EINVAL, "4-byte key for 6")
	assert.ErrorIs(t, m.Put([]byte{1, 2, 3, 4, 5, 6}, uint64(1)), syscall.EINVAL, "8-byte value for 4")
	assert.ErrorIs(t, m.Put([]byte{1, 2, 3, 4, 5, 6}, "text"), syscall.EINVAL)
	assert.ErrorIs(t, m.Lookup([]byte{9, 9, 9, 9, 9, 9}, nil), syscall.EINVAL)
	var wide uint64
	assert.ErrorIs(t, m.Lookup([]byte{9, 9, 9, 9, 9, 9}, &wide), syscall.EINVAL)
	assert.ErrorIs(t, m.Lookup([]byte{9, 9, 9, 9, 9, 8}, &v), ErrKeyNotExist)
	assert.ErrorIs(t, m.Lookup([]byte{9, 9, 9, 9, 9, 8}, &v), syscall.ENOENT)
}

func TestUpdateFlagsAndDelete(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	assert.ErrorIs(t, m.Update(uint32(1), uint32(1), UpdateExist), ErrKeyNotExist)
	require.NoError(t, m.Update(uint32(1), uint32(1), UpdateNoExist))
	assert.ErrorIs(t, m.Update(uint32(1), uint32(2), UpdateNoExist), ErrKeyExist)
	assert.ErrorIs(t, m.Update(uint32(1), uint32(2), UpdateNoExist), syscall.EEXIST)
	assert.ErrorIs(t, m.Update(uint32(2), uint32(2), UpdateAny), syscall.E2BIG)
	assert.ErrorIs(t, m.Update(uint32(1), uint32(2), UpdateLock), syscall.EINVAL)
	assert.ErrorIs(t, m.Update(uint32(1), uint32(2), 3), syscall.EINVAL)
	require.NoError(t, m.Delete(uint32(1)))
	assert.ErrorIs(t, m.Delete(uint32(1)), ErrKeyNotExist)

	a := newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	assert.ErrorIs(t, a.Delete(uint32(0)), syscall.EINVAL)
	assert.ErrorIs(t, a.Update(uint32(0), uint32(0), UpdateNoExist), ErrKeyExist)
	var v uint32
	assert.ErrorIs(t, a.LookupAndDelete(uint32(0), &v), ErrNotSupported)
	var me *MapError
	assert.ErrorAs(t, a.Delete(uint32(0)), &me)
	assert.Equal(t, "delete", me.Op)
}

func TestPerCPUValues(t *testing.T) {
	m := newMap(t, &MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 2}, WithSlots(3))
	assert.Equal(t, 3, m.Slots())
	require.NoError(t, m.Put(uint32(1), []uint32{10, 20}), "missing slots are zero")
	var got []uint32
	require.NoError(t, m.Lookup(uint32(1), &got))
	assert.Equal(t, []uint32{10, 20, 0}, got)
	var raw [][]byte
	require.NoError(t, m.Lookup(uint32(1), &raw))
	assert.Equal(t, [][]byte{{10, 0, 0, 0}, {20, 0, 0, 0}, {0, 0, 0, 0}}, raw)
	assert.ErrorIs(t, m.Put(uint32(1), []uint32{1, 2, 3, 4}), syscall.EINVAL, "more values than slots")
	assert.ErrorIs(t, m.Put(uint32(1), uint32(1)), syscall.EINVAL, "not a slice")
	var flat []byte
	require.NoError(t, m.Lookup(uint32(1), &flat))
	assert.Len(t, flat, 24, "the syscall layout: 8 bytes per slot")

	// Programs on slot 2 see their own value.
	p := m.m.Lookup(binary.NativeEndian.AppendUint32(nil, 1), 2)
	atomicmem.Store32(p, 0, 33)
	require.NoError(t, m.Lookup(uint32(1), &got))
	assert.Equal(t, []uint32{10, 20, 33}, got)
}

func TestQueueAndStack(t *testing.T) {
	q := newMap(t, &MapSpec{Type: Queue, ValueSize: 4, MaxEntries: 2})
	require.NoError(t, q.Update(nil, uint32(1), UpdateAny))
	require.NoError(t, q.Update(nil, uint32(2), UpdateAny))
	assert.ErrorIs(t, q.Update(nil, uint32(3), UpdateAny), syscall.E2BIG)
	require.NoError(t, q.Update(nil, uint32(3), UpdateExist), "drops the oldest")
	var v uint32
	require.NoError(t, q.Lookup(nil, &v))
	assert.Equal(t, uint32(2), v, "peek")
	require.NoError(t, q.LookupAndDelete(nil, &v))
	assert.Equal(t, uint32(2), v)
	require.NoError(t, q.LookupAndDelete(nil, &v))
	assert.Equal(t, uint32(3), v)
	assert.ErrorIs(t, q.LookupAndDelete(nil, &v), ErrKeyNotExist)
	it := q.Iterate()
	assert.False(t, it.Next(nil, &v))
	assert.ErrorIs(t, it.Err(), syscall.EINVAL, "queues have no keys to walk")

	s := newMap(t, &MapSpec{Type: Stack, ValueSize: 4, MaxEntries: 2})
	require.NoError(t, s.Put(nil, uint32(1)))
	require.NoError(t, s.Put(nil, uint32(2)))
	require.NoError(t, s.LookupAndDelete(nil, &v))
	assert.Equal(t, uint32(2), v)
}

func TestLPMTrie(t *testing.T) {
	type key struct {
		Prefixlen uint32
		Addr      [4]byte
	}
	m := newMap(t, &MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 8, Flags: FlagNoPrealloc,
		Contents: []MapKV{
			{key{8, [4]byte{10}}, uint32(8)},
			{key{24, [4]byte{10, 1, 2}}, uint32(24)},
		}})
	var v uint32
	require.NoError(t, m.Lookup(key{32, [4]byte{10, 1, 2, 3}}, &v))
	assert.Equal(t, uint32(24), v)
	require.NoError(t, m.Lookup(key{32, [4]byte{10, 9, 9, 9}}, &v))
	assert.Equal(t, uint32(8), v)
	assert.ErrorIs(t, m.Lookup(key{32, [4]byte{11}}, &v), ErrKeyNotExist)
	var k key
	var keys []key
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	require.NoError(t, it.Err())
	assert.Equal(t, []key{{24, [4]byte{10, 1, 2}}, {8, [4]byte{10}}}, keys, "more specific first")
}

func TestMapInMap(t *testing.T) {
	inner := &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	outer := newMap(t, &MapSpec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner})
	a := newMap(t, inner)
	require.NoError(t, outer.Put(uint32(0), a))
	var got *Map
	require.NoError(t, outer.Lookup(uint32(0), &got))
	assert.Same(t, a, got)
	var id uint32
	require.NoError(t, outer.Lookup(uint32(0), &id))
	assert.Equal(t, a.ID(), id)
	assert.ErrorIs(t, outer.Lookup(uint32(1), &got), ErrKeyNotExist)
	wrong := newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	assert.ErrorIs(t, outer.Put(uint32(1), wrong), syscall.EINVAL)
	assert.ErrorIs(t, outer.Put(uint32(1), uint32(5)), syscall.EINVAL, "not a map")

	// Programs get the inner map back and use it.
	obj := outer.m.(maps.ObjectMap).LookupObject(binary.NativeEndian.AppendUint32(nil, 0))
	innerMap, ok := obj.(maps.Map)
	require.True(t, ok)
	require.Zero(t, innerMap.Update(make([]byte, 4), []byte{1, 2, 3, 4}, 0, 0))
	var v uint32
	require.NoError(t, a.Lookup(uint32(0), &v))
	assert.Equal(t, uint32(0x04030201), v)

	hom := newMap(t, &MapSpec{Type: HashOfMaps, KeySize: 8, ValueSize: 4, MaxEntries: 2, InnerMap: inner})
	require.NoError(t, hom.Put(uint64(77), a))
	require.NoError(t, hom.Lookup(uint64(77), &got))
	assert.Same(t, a, got)
	require.NoError(t, hom.Delete(uint64(77)))
	assert.ErrorIs(t, hom.Lookup(uint64(77), &got), ErrKeyNotExist)
}

type fakeTarget struct{ id uint32 }

func (f fakeTarget) ProgramType() uint32 { return 3 }
func (f fakeTarget) ProgramID() uint32   { return f.id }

func TestProgramArray(t *testing.T) {
	m := newMap(t, &MapSpec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	require.NoError(t, m.Put(uint32(2), fakeTarget{id: 9}))
	var id uint32
	require.NoError(t, m.Lookup(uint32(2), &id))
	assert.Equal(t, uint32(9), id)
	assert.ErrorIs(t, m.Lookup(uint32(1), &id), ErrKeyNotExist)
	assert.ErrorIs(t, m.Put(uint32(4), fakeTarget{id: 1}), syscall.E2BIG)
	assert.ErrorIs(t, m.Update(uint32(1), fakeTarget{id: 1}, UpdateNoExist), syscall.EINVAL)
	assert.ErrorIs(t, m.Put(uint32(1), uint32(3)), syscall.EINVAL, "an fd number is not a program")
	assert.Equal(t, fakeTarget{id: 9}, m.m.(maps.ProgArray).At(2))
	require.NoError(t, m.Delete(uint32(2)))
	assert.ErrorIs(t, m.Delete(uint32(2)), ErrKeyNotExist)
}

func TestIterate(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	want := map[uint32]uint64{}
	for i := uint32(0); i < 40; i++ {
		require.NoError(t, m.Put(i, uint64(i)*3))
		want[i] = uint64(i) * 3
	}
	got := map[uint32]uint64{}
	var k uint32
	var v uint64
	it := m.Iterate()
	for it.Next(&k, &v) {
		got[k] = v
	}
	require.NoError(t, it.Err())
	assert.Equal(t, want, got)

	// Deleting the current key restarts the walk (the kernel's
	// get_next_key): keys repeat, and a walk that keeps restarting ends
	// with ErrIterationAborted; every key still present is seen.
	seen := map[uint32]bool{}
	it = m.Iterate()
	for it.Next(&k, &v) {
		seen[k] = true
		if k%2 == 0 {
			require.NoError(t, m.Delete(k))
		}
	}
	if it.Err() != nil {
		assert.ErrorIs(t, it.Err(), ErrIterationAborted)
	}
	for i := uint32(1); i < 40; i += 2 {
		assert.True(t, seen[i] || it.Err() != nil, "key %d", i)
	}

	pc := newMap(t, &MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4}, WithSlots(2))
	require.NoError(t, pc.Put(uint32(1), []uint32{1, 2}))
	var vals []uint32
	it = pc.Iterate()
	require.True(t, it.Next(&k, &vals))
	assert.Equal(t, []uint32{1, 2}, vals)
	assert.False(t, it.Next(&k, &vals))

	wo := newMap(t, &MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: FlagWrOnly})
	require.NoError(t, wo.Put(uint32(1), uint32(1)))
	it = wo.Iterate()
	assert.False(t, it.Next(&k, &v))
	assert.ErrorIs(t, it.Err(), syscall.EPERM)
}

func TestFreeze(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 2, Flags: FlagRdOnlyProg})
	require.NoError(t, m.Put(uint32(0), uint32(7)))
	require.NoError(t, m.Freeze())
	assert.ErrorIs(t, m.Put(uint32(0), uint32(8)), syscall.EPERM)
	assert.ErrorIs(t, m.Freeze(), syscall.EPERM)
	var v uint32
	require.NoError(t, m.Lookup(uint32(0), &v))
	assert.Equal(t, uint32(7), v)
	assert.True(t, m.m.Frozen())
	assert.Equal(t, FlagRdOnlyProg, m.Flags()&FlagRdOnlyProg, "what the verifier reads to refuse program writes")
}

func TestNextKey(t *testing.T) {
	m := newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	var k uint32
	require.NoError(t, m.NextKey(nil, &k))
	assert.Equal(t, uint32(0), k)
	require.NoError(t, m.NextKey(uint32(0), &k))
	assert.Equal(t, uint32(1), k)
	assert.ErrorIs(t, m.NextKey(uint32(1), &k), ErrKeyNotExist)
}

func TestSpecAndAccessors(t *testing.T) {
	spec := &MapSpec{Name: "counters", Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 5, Flags: FlagNoCommonLRU,
		InnerMap: &MapSpec{Type: Array}, Contents: []MapKV{{uint32(1), uint64(2)}}}
	c := spec.Copy()
	c.InnerMap.KeySize = 9
	c.Contents[0].Key = uint32(7)
	assert.Zero(t, spec.InnerMap.KeySize, "deep copy")
	assert.Equal(t, uint32(1), spec.Contents[0].Key)
	assert.Nil(t, (*MapSpec)(nil).Copy())
	assert.Equal(t, "LRUHash(keySize=4, valueSize=8, maxEntries=5, flags=0x2)", spec.String())

	spec.InnerMap = nil
	m := newMap(t, spec, WithSlots(4), WithMapID(4242), WithHashSeed(7), WithLRUPolicy(LRUInsertionOrder))
	assert.Equal(t, LRUHash, m.Type())
	assert.Equal(t, uint32(8), m.MaxEntries(), "rounded to a multiple of the slots")
	assert.Equal(t, uint32(4242), m.ID())
	assert.Equal(t, "counters", m.Name())
	assert.Equal(t, uint32(4), m.KeySize())
	assert.Equal(t, uint32(8), m.ValueSize())
	assert.Equal(t, FlagNoCommonLRU, m.Flags())
	assert.Equal(t, "LRUHash(counters)#4242", m.String())
	assert.Nil(t, m.Spec().Contents)
	var v uint64
	require.NoError(t, m.Lookup(uint32(1), &v))
	assert.Equal(t, uint64(2), v)

	assert.Equal(t, "RingBuf", RingBuf.String())
	assert.Equal(t, "MapType(99)", MapType(99).String())
	assert.True(t, LRUCPUHash.HasPerCPUValue())
	assert.False(t, Hash.HasPerCPUValue())
}

func TestRingBufReader(t *testing.T) {
	m := newMap(t, &MapSpec{Type: RingBuf, MaxEntries: 4096})
	r, err := NewRingBufReader(m)
	require.NoError(t, err)
	rb := m.m.(*maps.RingBuf)

	require.Zero(t, rb.Output([]byte("first"), 0))
	rec, err := r.Read()
	require.NoError(t, err)
	assert.Equal(t, "first", string(rec.RawSample))
	assert.Zero(t, rec.Remaining)

	// A blocked Read wakes for a committed record.
	go func() {
		time.Sleep(time.Millisecond)
		s := rb.Reserve(3)
		copy(s, "abc")
		rb.Commit(s, 0, false)
	}()
	require.NoError(t, r.ReadInto(&rec))
	assert.Equal(t, "abc", string(rec.RawSample))

	// NO_WAKEUP: the record is found when the deadline ends the wait.
	require.Zero(t, rb.Output([]byte("quiet"), maps.BPF_RB_NO_WAKEUP))
	assert.Equal(t, 16, r.AvailableBytes())
	r.SetDeadline(time.Now().Add(-time.Second))
	require.NoError(t, r.ReadInto(&rec), "data present: no wait")
	assert.Equal(t, "quiet", string(rec.RawSample))
	err = r.ReadInto(&rec)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

	r.SetDeadline(time.Time{})
	go func() {
		time.Sleep(time.Millisecond)
		r.Close()
	}()
	assert.ErrorIs(t, r.ReadInto(&rec), ErrClosed)
	_, err = NewRingBufReader(newMap(t, &MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}))
	assert.ErrorIs(t, err, syscall.EINVAL)
}

func TestPerfReader(t *testing.T) {
	m := newMap(t, &MapSpec{Type: PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 8}, WithSlots(2))
	r, err := NewPerfReader(m, 64)
	require.NoError(t, err)
	assert.Zero(t, maps.PerfOutput(m.m, 1, maps.BPF_F_CURRENT_CPU, []byte{1, 2, 3, 4, 5}, nil))
	rec, err := r.Read()
	require.NoError(t, err)
	assert.Equal(t, 1, rec.CPU)
	assert.Equal(t, []byte{1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0}, rec.RawSample)
	assert.Equal(t, syscall.ENOENT, maps.PerfOutput(m.m, 1, 5, []byte{1}, nil), "no buffer beyond the slots")

	big := make([]byte, 40)
	assert.Zero(t, maps.PerfOutput(m.m, 0, 0, big, nil))
	assert.Equal(t, syscall.ENOSPC, maps.PerfOutput(m.m, 0, 0, big, nil))
	_, err = r.Read()
	require.NoError(t, err)
	assert.Zero(t, maps.PerfOutput(m.m, 0, 0, []byte{1}, nil))
	rec, err = r.Read()
	require.NoError(t, err)
	assert.Equal(t, PerfRecord{CPU: 0, LostSamples: 1, Remaining: 16}, rec)

	r.SetDeadline(time.Now().Add(time.Millisecond))
	_, err = r.Read()
	require.NoError(t, err)
	_, err = r.Read()
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, r.Close())
	_, err = r.Read()
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, syscall.ENOENT, maps.PerfOutput(m.m, 0, maps.BPF_F_CURRENT_CPU, []byte{1}, nil), "Close removes the buffers")
}

// TestGoAPIAllocs shows that the Go API itself does not allocate for
// []byte keys and values and for *uint32/*uint64 outputs, and that misses
// return the preallocated ErrKeyNotExist.
func TestGoAPIAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, which allocates")
	}
	m := newMap(t, &MapSpec{Type: Hash, KeySize: 16, ValueSize: 8, MaxEntries: 4})
	var key, miss, val any = make([]byte, 16), make([]byte, 16), make([]byte, 8)
	miss.([]byte)[0] = 1
	require.NoError(t, m.Put(key, val))
	out := new(uint64)
	var outAny any = out
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if err := m.Lookup(key, outAny); err != nil {
			t.Fatal(err)
		}
		if err := m.Update(key, val, UpdateExist); err != nil {
			t.Fatal(err)
		}
		if err := m.Lookup(miss, outAny); !errors.Is(err, ErrKeyNotExist) {
			t.Fatal(err)
		}
	}))
}

// BenchmarkGoAPILookup is Map.Lookup from Go (the syscall view: a copy of
// the value) with a []byte key and a *uint64 output.
func BenchmarkGoAPILookup(b *testing.B) {
	m := newMap(b, &MapSpec{Type: Hash, KeySize: 16, ValueSize: 8, MaxEntries: 1024})
	var key any = make([]byte, 16)
	require.NoError(b, m.Put(key, uint64(1)))
	var out any = new(uint64)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Lookup(key, out); err != nil {
			b.Fatal(err)
		}
	}
}
