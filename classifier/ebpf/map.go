package ebpf

import (
	"errors"
	"sync"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// Map is a map created by NewMap. Its attributes never change; its
// contents are safe for concurrent use by programs and by any number of
// goroutines calling its methods.
//
// The methods are the bpf(2) syscall's view of the map, as cilium/ebpf's
// Map offers it for kernel maps: a lookup of a missing key is
// ErrKeyNotExist, per-CPU values are slices with one value per execution
// slot, and the values of prog arrays and maps of maps are objects.
type Map struct {
	m    maps.Map
	spec MapSpec // as created: InnerMap kept, Contents dropped
}

// LRUPolicy is the eviction policy of LRU maps.
type LRUPolicy uint8

// LRU policies.
const (
	// LRUSecondChance evicts the oldest element not looked up since it
	// was last passed over (the kernel's reference-bit idea, made exact).
	LRUSecondChance = LRUPolicy(maps.LRUSecondChance)
	// LRUInsertionOrder evicts the element inserted or updated longest
	// ago, ignoring lookups.
	LRUInsertionOrder = LRUPolicy(maps.LRUInsertionOrder)
)

// MapOption sets a host-side choice of NewMap.
type MapOption func(*maps.Options)

// WithSlots sets the number of execution slots per-CPU values have (the
// kernel's possible CPUs); the default is runtime.GOMAXPROCS(0).
func WithSlots(n int) MapOption { return func(o *maps.Options) { o.Slots = n } }

// WithHashSeed sets the seed of hash maps (the kernel draws a random one
// unless FlagZeroSeed is set). The default is 0, which gives the kernel's
// bucket order under FlagZeroSeed.
func WithHashSeed(seed uint32) MapOption { return func(o *maps.Options) { o.Seed = seed } }

// WithLRUPolicy sets the eviction policy of LRU maps.
func WithLRUPolicy(p LRUPolicy) MapOption {
	return func(o *maps.Options) { o.LRU = maps.LRUPolicy(p) }
}

// WithMapID sets the map id (the default takes the next of a
// process-wide counter).
func WithMapID(id uint32) MapOption { return func(o *maps.Options) { o.ID = id } }

// WithMaxMemory bounds the storage the map may preallocate (default 1 GiB);
// a larger map fails with ENOMEM.
func WithMaxMemory(n int64) MapOption { return func(o *maps.Options) { o.MaxMemory = n } }

// NewMap creates a map after the kernel's BPF_MAP_CREATE checks (per-type
// key and value sizes, max_entries, allowed flags, the inner map template)
// and writes spec.Contents into it. Errors wrap the kernel's errno.
func NewMap(spec *MapSpec, opts ...MapOption) (*Map, error) {
	if spec == nil {
		return nil, &MapError{Op: "create", Map: "<nil>", Msg: "nil spec", Errno: syscall.EINVAL}
	}
	var o maps.Options
	for _, f := range opts {
		f(&o)
	}
	m, err := maps.New(spec.internal(), o)
	if err != nil {
		var me *maps.Error
		if errors.As(err, &me) {
			return nil, &MapError{Op: "create", Map: labelOf(spec), Msg: me.Msg, Errno: me.Errno}
		}
		return nil, err
	}
	pub := &Map{m: m, spec: *spec.Copy()}
	pub.spec.Contents = nil
	pub.spec.MaxEntries = m.Info().Spec.MaxEntries
	m.Info().Owner = pub
	for i, kv := range spec.Contents {
		if err := pub.Update(kv.Key, kv.Value, UpdateAny); err != nil {
			return nil, &MapError{Op: "create", Map: pub.label(), Msg: "contents[" + itoa(i) + "]: " + err.Error(), Errno: errnoOf(err)}
		}
	}
	return pub, nil
}

func labelOf(spec *MapSpec) string {
	if spec.Name != "" {
		return spec.Name
	}
	return spec.Type.String()
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EINVAL
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

// Type returns the map type.
func (m *Map) Type() MapType { return m.spec.Type }

// KeySize returns key_size.
func (m *Map) KeySize() uint32 { return m.spec.KeySize }

// ValueSize returns value_size (of one slot's value for per-CPU maps).
func (m *Map) ValueSize() uint32 { return m.spec.ValueSize }

// MaxEntries returns max_entries as the map uses it (rounded to the slots
// for FlagNoCommonLRU, as the kernel rounds it to the CPUs).
func (m *Map) MaxEntries() uint32 { return m.spec.MaxEntries }

// Flags returns the creation flags.
func (m *Map) Flags() uint32 { return m.spec.Flags }

// Name returns the map name.
func (m *Map) Name() string { return m.spec.Name }

// ID returns the map id.
func (m *Map) ID() uint32 { return m.m.Info().ID }

// Slots returns the number of execution slots of per-CPU values.
func (m *Map) Slots() int { return m.m.Info().Slots }

// Spec returns a copy of the spec the map was created from (without its
// Contents; MaxEntries as the map uses it).
func (m *Map) Spec() *MapSpec { return m.spec.Copy() }

// String describes the map.
func (m *Map) String() string {
	if m.spec.Name != "" {
		return m.spec.Type.String() + "(" + m.spec.Name + ")#" + itoa(int(m.ID()))
	}
	return m.spec.Type.String() + "#" + itoa(int(m.ID()))
}

// keyBytes marshals a key.
func (m *Map) keyBytes(op string, key any, buf []byte) ([]byte, error) {
	b, err := marshal(key, int(m.spec.KeySize), buf)
	if err != nil {
		return nil, m.argError(op, "key: %v", err)
	}
	return b, nil
}

// scratch is a reusable buffer for a key and a value: the internal map's
// methods are called through an interface, so a stack buffer would escape
// and cost an allocation per call.
type scratch struct{ b []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{b: make([]byte, 0, 256)} }}

// getScratch returns a key buffer of key_size and a value buffer of the
// syscall value size.
func (m *Map) getScratch() (s *scratch, kb, vb []byte) {
	s = scratchPool.Get().(*scratch)
	ks, vs := int(m.spec.KeySize), m.m.SysValueSize()
	if cap(s.b) < ks+vs {
		s.b = make([]byte, ks+vs)
	}
	s.b = s.b[:ks+vs]
	return s, s.b[:ks:ks], s.b[ks:]
}

func putScratch(s *scratch) {
	if cap(s.b) <= 64<<10 {
		scratchPool.Put(s)
	}
}

// Lookup copies the value of key into valueOut (for per-CPU maps a
// pointer to a slice, filled with one value per slot; for prog arrays and
// maps of maps a *uint32 receiving the id, or for maps of maps a **Map
// receiving the inner map). A missing key is ErrKeyNotExist.
func (m *Map) Lookup(key, valueOut any) error {
	return m.LookupWithFlags(key, valueOut, 0)
}

// LookupWithFlags is Lookup with BPF_MAP_LOOKUP_ELEM flags (only
// UpdateLock is defined, and no value here has a spin lock).
func (m *Map) LookupWithFlags(key, valueOut any, flags UpdateFlags) error {
	sc, kb, vb := m.getScratch()
	defer putScratch(sc)
	k, err := m.keyBytes("lookup", key, kb)
	if err != nil {
		return err
	}
	if pm, ok := valueOut.(**Map); ok && m.spec.Type.canStoreMap() {
		if e := m.m.SysLookup(k, vb[:4], uint64(flags)); e != 0 {
			return m.opError("lookup", e)
		}
		inner, _ := m.m.(maps.ObjectMap).LookupObject(k).(maps.Map)
		if inner == nil {
			return ErrKeyNotExist
		}
		pub, _ := inner.Info().Owner.(*Map)
		if pub == nil {
			return ErrKeyNotExist
		}
		*pm = pub
		return nil
	}
	if e := m.m.SysLookup(k, vb, uint64(flags)); e != 0 {
		return m.opError("lookup", e)
	}
	return m.store("lookup", valueOut, vb)
}

// store unmarshals a syscall-side value into out.
func (m *Map) store(op string, out any, v []byte) error {
	var err error
	if m.spec.Type.HasPerCPUValue() {
		err = unmarshalPerCPU(out, v, int(m.spec.ValueSize), int(roundUp8(m.spec.ValueSize)), m.Slots())
	} else {
		err = unmarshal(out, v)
	}
	if err != nil {
		return m.argError(op, "value: %v", err)
	}
	return nil
}

func roundUp8(n uint32) uint32 { return (n + 7) &^ 7 }

// LookupAndDelete copies the value of key into valueOut and deletes the
// element (hash maps); for queues and stacks key is nil and it pops.
func (m *Map) LookupAndDelete(key, valueOut any) error {
	sc, kb, vb := m.getScratch()
	defer putScratch(sc)
	k, err := m.keyBytes("lookup and delete", key, kb)
	if err != nil {
		return err
	}
	if e := m.m.SysLookupAndDelete(k, vb, 0); e != 0 {
		return m.opError("lookup and delete", e)
	}
	return m.store("lookup and delete", valueOut, vb)
}

// Update writes value under key with flags (UpdateAny, UpdateNoExist,
// UpdateExist). For queues and stacks key is nil and it pushes. For
// per-CPU maps value is a slice with a value per slot (missing slots are
// zero), or a []byte in the syscall layout (round_up(value_size, 8) bytes
// per slot); for prog arrays a TailCallTarget, for maps of maps a *Map.
// Perf event arrays are filled by NewPerfReader, not by Update.
func (m *Map) Update(key, value any, flags UpdateFlags) error {
	sc, kb, vb := m.getScratch()
	defer putScratch(sc)
	k, err := m.keyBytes("update", key, kb)
	if err != nil {
		return err
	}
	switch m.spec.Type {
	case ProgramArray:
		p, ok := value.(TailCallTarget)
		if !ok {
			return m.argError("update", "value %T is not a program", value)
		}
		return m.opError("update", m.m.(maps.ObjectMap).UpdateObject(k, p, uint64(flags)))
	case ArrayOfMaps, HashOfMaps:
		inner, ok := value.(*Map)
		if !ok || inner == nil {
			return m.argError("update", "value %T is not a *Map", value)
		}
		return m.opError("update", m.m.(maps.ObjectMap).UpdateObject(k, inner.m, uint64(flags)))
	}
	var v []byte
	if m.spec.Type.HasPerCPUValue() {
		v, err = marshalPerCPU(value, int(m.spec.ValueSize), int(roundUp8(m.spec.ValueSize)), m.Slots())
	} else {
		v, err = marshal(value, m.m.SysValueSize(), vb)
	}
	if err != nil {
		return m.argError("update", "value: %v", err)
	}
	return m.opError("update", m.m.SysUpdate(k, v, uint64(flags)))
}

// Put is Update with UpdateAny.
func (m *Map) Put(key, value any) error { return m.Update(key, value, UpdateAny) }

// Delete removes key. Arrays cannot delete (EINVAL); a missing key is
// ErrKeyNotExist.
func (m *Map) Delete(key any) error {
	sc, kb, _ := m.getScratch()
	defer putScratch(sc)
	k, err := m.keyBytes("delete", key, kb)
	if err != nil {
		return err
	}
	return m.opError("delete", m.m.SysDelete(k))
}

// NextKey stores the key after key into nextKeyOut; key nil asks for the
// first. It is BPF_MAP_GET_NEXT_KEY: hash maps go bucket by bucket and
// restart from the first key when key is not in the map, arrays go by
// index, LPM tries in post-order. The last key gives ErrKeyNotExist.
func (m *Map) NextKey(key, nextKeyOut any) error {
	sc, kb, _ := m.getScratch()
	defer putScratch(sc)
	var k []byte
	if key != nil {
		var err error
		if k, err = m.keyBytes("next key", key, kb); err != nil {
			return err
		}
	}
	next := make([]byte, m.spec.KeySize)
	if e := m.m.SysNextKey(k, next); e != 0 {
		return m.opError("next key", e)
	}
	if err := unmarshal(nextKeyOut, next); err != nil {
		return m.argError("next key", "key: %v", err)
	}
	return nil
}

// Freeze is BPF_MAP_FREEZE: from now on the Go API may not change the
// map (updates, deletes and pops fail with EPERM); programs still may,
// unless the map has FlagRdOnlyProg. Freezing a FlagRdOnly map or freezing
// twice is EPERM, as in the kernel.
func (m *Map) Freeze() error { return m.opError("freeze", m.m.Freeze()) }

// Iterate returns an iterator over the map's keys and values.
func (m *Map) Iterate() *MapIterator {
	return &MapIterator{m: m, max: m.spec.MaxEntries}
}

// MapIterator walks a map with NextKey and Lookup, as the bpf(2) syscall
// allows: elements deleted during the walk are skipped, and for hash
// maps a deleted current key restarts the walk (the kernel's
// get_next_key semantics), so keys may repeat under concurrent deletes.
type MapIterator struct {
	m      *Map
	cur    []byte
	done   bool
	err    error
	count  uint32
	max    uint32
	keyBuf []byte
}

// Next stores the next key and value into keyOut and valueOut and
// reports whether there was one. After false, Err says why.
func (it *MapIterator) Next(keyOut, valueOut any) bool {
	if it.done {
		return false
	}
	for {
		var next []byte
		if it.keyBuf == nil {
			it.keyBuf = make([]byte, it.m.spec.KeySize)
		}
		next = it.keyBuf
		var e syscall.Errno
		if it.cur == nil {
			e = it.m.m.SysNextKey(nil, next)
		} else {
			e = it.m.m.SysNextKey(it.cur, next)
		}
		if e == syscall.ENOENT {
			it.done = true
			return false
		}
		if e != 0 {
			it.err, it.done = it.m.opError("next key", e), true
			return false
		}
		it.count++
		if it.count > it.max+1 && it.max != 0 || it.count > 1<<31 {
			it.err, it.done = ErrIterationAborted, true
			return false
		}
		it.cur = append(it.cur[:0], next...)
		err := it.m.Lookup(next, valueOut)
		if errors.Is(err, ErrKeyNotExist) {
			continue
		}
		if err != nil {
			it.err, it.done = err, true
			return false
		}
		if err := unmarshal(keyOut, next); err != nil {
			it.err, it.done = it.m.argError("iterate", "key: %v", err), true
			return false
		}
		return true
	}
}

// Err returns the error that ended the iteration, or nil.
func (it *MapIterator) Err() error { return it.err }

// TailCallTarget is what a ProgramArray holds: a program, identified by
// its id for Lookup and by its type (bpf_prog_type) for the rule that a
// prog array holds programs of one type only.
type TailCallTarget interface {
	ProgramType() uint32
	ProgramID() uint32
}
