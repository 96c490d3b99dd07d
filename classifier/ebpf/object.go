package ebpf

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"syscall"
)

// PinNamespace is where pinned maps of collections live: the stand-in for
// tc's bpffs directories (/sys/fs/bpf/tc/globals for PinGlobalNS, a
// directory per object for PinObjectNS). The caller owns it and shares it
// between the collections that should share maps. Safe for concurrent
// use.
type PinNamespace struct {
	mu   sync.Mutex
	maps map[string]*Map
}

// NewPinNamespace returns an empty namespace.
func NewPinNamespace() *PinNamespace { return &PinNamespace{maps: map[string]*Map{}} }

// Lookup returns the map pinned under path ("globals/name" or
// "objectID/name"), or nil.
func (ns *PinNamespace) Lookup(path string) *Map {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.maps[path]
}

// Unpin removes the map pinned under path; it reports whether there was
// one. Collections that use the map keep it.
func (ns *PinNamespace) Unpin(path string) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	_, ok := ns.maps[path]
	delete(ns.maps, path)
	return ok
}

// Paths returns the pinned paths, sorted.
func (ns *PinNamespace) Paths() []string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	out := make([]string, 0, len(ns.maps))
	for p := range ns.maps {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// CollectionOptions are the host-side choices of NewCollection.
type CollectionOptions struct {
	// Slots is the number of execution slots of per-CPU maps and perf
	// event arrays; 0 means runtime.GOMAXPROCS(0).
	Slots int
	// Helpers is the helper registry of every program; nil makes one
	// with Slots slots.
	Helpers *HelperRegistry
	// Pins is the namespace of pinned maps; nil makes pinned maps
	// private to the collection, as if every pin were new.
	Pins *PinNamespace
	// MapOptions apply to every map the collection creates (WithHashSeed,
	// WithLRUPolicy, ...); WithSlots is set from Slots.
	MapOptions []MapOption
	// ProgramIDs gives each program's id by name; missing names take the
	// next of the process-wide counter.
	ProgramIDs map[string]uint32
	// Budget is every program's run-time instruction budget
	// (ProgramOptions.Budget); 0 means the VM's default.
	Budget uint64
}

// Collection is the maps and programs made from an ObjectSpec, and the
// helper registry its programs call.
type Collection struct {
	Programs map[string]*Program
	Maps     map[string]*Map
	Helpers  *HelperRegistry
}

// pinPath is where a pinned map lives in a namespace.
func pinPath(spec *ObjectSpec, ms *MapSpec) string {
	switch ms.Pinning {
	case PinGlobalNS:
		return "globals/" + ms.Name
	case PinObjectNS:
		return spec.ID + "/" + ms.Name
	}
	return ""
}

// compatible is iproute2's bpf_map_selfcheck_pinned: a pinned map is
// reused only if its definition matches.
func compatible(m *Map, ms *MapSpec) bool {
	return m.Type() == ms.Type && m.KeySize() == ms.KeySize && m.ValueSize() == ms.ValueSize &&
		m.spec.MaxEntries == ms.MaxEntries && m.Flags() == ms.Flags
}

// NewCollection creates the maps of spec (reusing pinned ones from
// opts.Pins, writing initial contents into new ones and freezing
// read-only global data as libbpf and cilium/ebpf do) and loads every
// program with them. Prog array and map-of-maps contents that name
// programs or maps (ObjectRef) are filled once everything exists. On
// error nothing is pinned and no map is kept.
func NewCollection(spec *ObjectSpec, opts CollectionOptions) (*Collection, error) {
	if spec == nil {
		return nil, fmt.Errorf("ebpf: new collection: nil spec: %w", syscall.EINVAL)
	}
	slots := opts.Slots
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	mopts := append(append([]MapOption(nil), opts.MapOptions...), WithSlots(slots))
	col := &Collection{Programs: map[string]*Program{}, Maps: map[string]*Map{}, Helpers: opts.Helpers}
	if col.Helpers == nil {
		var err error
		if col.Helpers, err = NewHelperRegistry(HelperOptions{Slots: slots}); err != nil {
			return nil, fmt.Errorf("ebpf: new collection: %w", err)
		}
	}
	newPins := map[string]*Map{}
	var deferred []string // maps with ObjectRef contents

	names := make([]string, 0, len(spec.Maps))
	for n := range spec.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	if opts.Pins != nil {
		opts.Pins.mu.Lock()
		defer opts.Pins.mu.Unlock()
		if opts.Pins.maps == nil {
			opts.Pins.maps = map[string]*Map{}
		}
	}
	for _, name := range names {
		ms := spec.Maps[name]
		if ms == nil {
			return nil, fmt.Errorf("ebpf: new collection: map %s: nil spec: %w", name, syscall.EINVAL)
		}
		path := pinPath(spec, ms)
		create := ms.Copy()
		if create.Type == PerfEventArray && create.MaxEntries == 0 {
			// One buffer per slot, as libbpf and cilium/ebpf size it by
			// the possible CPUs.
			create.MaxEntries = uint32(slots)
		}
		if path != "" && opts.Pins != nil {
			if m := opts.Pins.maps[path]; m != nil {
				if !compatible(m, create) {
					return nil, fmt.Errorf("ebpf: new collection: map %s: pinned map %s differs (%v vs %v): %w", name, path, m.Spec(), create, syscall.EINVAL)
				}
				col.Maps[name] = m
				continue
			}
		}
		var refs []MapKV
		create.Contents = create.Contents[:0]
		for _, kv := range ms.Contents {
			if _, ok := kv.Value.(ObjectRef); ok {
				refs = append(refs, kv)
				continue
			}
			create.Contents = append(create.Contents, kv)
		}
		m, err := NewMap(create, mopts...)
		if err != nil {
			return nil, fmt.Errorf("ebpf: new collection: map %s: %w", name, err)
		}
		if ms.Flags&FlagRdOnlyProg != 0 && ms.Type == Array {
			if err := m.Freeze(); err != nil {
				return nil, fmt.Errorf("ebpf: new collection: freeze %s: %w", name, err)
			}
		}
		if len(refs) > 0 {
			deferred = append(deferred, name)
		}
		col.Maps[name] = m
		if path != "" {
			newPins[path] = m
		}
	}

	for _, name := range spec.ProgramNames() {
		ps := spec.Programs[name]
		p, err := NewProgram(ps, ProgramOptions{Maps: col.Maps, Helpers: col.Helpers, ID: opts.ProgramIDs[name], Budget: opts.Budget})
		if err != nil {
			return nil, fmt.Errorf("ebpf: new collection: %w", err)
		}
		col.Programs[name] = p
	}

	for _, name := range deferred {
		m := col.Maps[name]
		for _, kv := range spec.Maps[name].Contents {
			ref, ok := kv.Value.(ObjectRef)
			if !ok {
				continue
			}
			var v any
			if p := col.Programs[string(ref)]; p != nil && m.Type() == ProgramArray {
				v = TailCallTarget(p)
			} else if im := col.Maps[string(ref)]; im != nil && m.Type().canStoreMap() {
				v = im
			} else {
				return nil, fmt.Errorf("ebpf: new collection: map %s: initial value %q names no program or map of the right kind: %w", name, ref, syscall.EINVAL)
			}
			if err := m.Update(kv.Key, v, UpdateAny); err != nil {
				return nil, fmt.Errorf("ebpf: new collection: map %s: %w", name, err)
			}
		}
	}

	if opts.Pins != nil {
		for path, m := range newPins {
			opts.Pins.maps[path] = m
		}
	}
	return col, nil
}

// Program returns the named program, or nil.
func (c *Collection) Program(name string) *Program { return c.Programs[name] }

// Map returns the named map, or nil.
func (c *Collection) Map(name string) *Map { return c.Maps[name] }
