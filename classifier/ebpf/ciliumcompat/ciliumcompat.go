package ebpf

import (
	"fmt"
	"time"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
)

// ErrKeyNotExist is returned by Map.Lookup and Map.Delete for a missing
// key, as cilium/ebpf's is.
var ErrKeyNotExist = ebpf.ErrKeyNotExist

// MapUpdateFlags are the flags of Map.Update.
type MapUpdateFlags = ebpf.UpdateFlags

// Map update flags, cilium/ebpf's names.
const (
	// UpdateAny creates the entry or replaces it.
	UpdateAny = ebpf.UpdateAny
	// UpdateNoExist creates the entry only if it is missing.
	UpdateNoExist = ebpf.UpdateNoExist
	// UpdateExist replaces the entry only if it exists.
	UpdateExist = ebpf.UpdateExist
)

// ProgramSpec is a program of a CollectionSpec.
type ProgramSpec = ebpf.ProgramSpec

// MapSpec is a map of a CollectionSpec.
type MapSpec = ebpf.MapSpec

// RunOptions are the inputs and outputs of Program.Run, with
// cilium/ebpf's fields.
type RunOptions struct {
	// Data is the frame, from the Ethernet header (at least 14 bytes).
	Data []byte
	// DataOut receives the frame after the run; it is resliced to the
	// frame's length.
	DataOut []byte
	// Context is the __sk_buff passed in: bytes or a binary-encodable
	// value.
	Context any
	// ContextOut receives the __sk_buff after the run: a slice or a
	// pointer.
	ContextOut any
	// Repeat is how many times the program runs; 0 means 1.
	Repeat uint32
	// Flags must be 0 for tc programs.
	Flags uint32
	// CPU must be 0 for tc programs.
	CPU uint32
	// BatchSize must be 0 for tc programs.
	BatchSize uint32
	// Reset is accepted for source compatibility; a run is never
	// interrupted, so it is never called.
	Reset func()
}

// CollectionSpec is an object file's programs and maps before they are
// made.
type CollectionSpec struct {
	// Programs are the object's programs by function name.
	Programs map[string]*ProgramSpec
	// Maps are the object's maps by name.
	Maps map[string]*MapSpec

	obj *ebpf.ObjectSpec
}

// LoadCollectionSpec reads an ELF object file.
func LoadCollectionSpec(file string) (*CollectionSpec, error) {
	obj, err := ebpf.LoadObjectFile(file)
	if err != nil {
		return nil, err
	}
	return &CollectionSpec{Programs: obj.Programs, Maps: obj.Maps, obj: obj}, nil
}

// Copy returns a deep copy of the spec.
func (cs *CollectionSpec) Copy() *CollectionSpec {
	obj := cs.obj.Copy()
	return &CollectionSpec{Programs: obj.Programs, Maps: obj.Maps, obj: obj}
}

// Collection is the programs and maps made from a CollectionSpec.
type Collection struct {
	// Programs by function name.
	Programs map[string]*Program
	// Maps by name.
	Maps map[string]*Map
}

// NewCollection verifies and makes every program and map of spec, with
// one execution slot.
func NewCollection(spec *CollectionSpec) (*Collection, error) {
	if spec == nil || spec.obj == nil {
		return nil, fmt.Errorf("new collection: spec not from LoadCollectionSpec: %w", errInval)
	}
	obj := spec.obj.Copy()
	obj.Programs, obj.Maps = spec.Programs, spec.Maps
	col, err := ebpf.NewCollection(obj, ebpf.CollectionOptions{Slots: 1})
	if err != nil {
		return nil, err
	}
	c := &Collection{Programs: map[string]*Program{}, Maps: map[string]*Map{}}
	for name, p := range col.Programs {
		c.Programs[name] = &Program{p}
	}
	for name, m := range col.Maps {
		c.Maps[name] = &Map{m}
	}
	return c, nil
}

// Close is a no-op: a collection holds no kernel resource.
func (c *Collection) Close() {}

// Program is a verified program of a Collection.
type Program struct {
	*ebpf.Program
}

// Close is a no-op: a program holds no kernel resource.
func (p *Program) Close() error { return nil }

// Run runs the program as BPF_PROG_TEST_RUN does and returns its return
// value; on an error the value is 0, as cilium/ebpf's is.
func (p *Program) Run(opts *RunOptions) (uint32, error) {
	ret, _, err := p.run(opts)
	return ret, err
}

func (p *Program) run(opts *RunOptions) (uint32, time.Duration, error) {
	if opts == nil {
		opts = &RunOptions{}
	}
	o := ebpf.RunOptions{
		Data: opts.Data, DataOut: opts.DataOut, Context: opts.Context, ContextOut: opts.ContextOut,
		Repeat: opts.Repeat, Flags: opts.Flags, CPU: opts.CPU, BatchSize: opts.BatchSize,
	}
	ret, err := p.Program.TestRun(&o)
	if err != nil {
		return 0, 0, fmt.Errorf("run program: %w", err)
	}
	opts.DataOut = o.DataOut
	return ret, o.Duration, nil
}

// Test runs the program once on in and returns its return value and the
// frame after the run.
func (p *Program) Test(in []byte) (uint32, []byte, error) {
	var out []byte
	if len(in) > 0 {
		out = make([]byte, len(in)+256)
	}
	opts := RunOptions{Data: in, DataOut: out, Repeat: 1}
	ret, _, err := p.run(&opts)
	if err != nil {
		return ret, nil, err
	}
	return ret, opts.DataOut, nil
}

// Benchmark runs the program repeat times on in and returns the last
// return value and the mean time of one run. reset is never called.
func (p *Program) Benchmark(in []byte, repeat int, reset func()) (uint32, time.Duration, error) {
	if repeat < 0 || uint64(repeat) > 1<<32-1 {
		return 0, 0, fmt.Errorf("benchmark program: repeat %d: %w", repeat, errInval)
	}
	return p.run(&RunOptions{Data: in, Repeat: uint32(repeat), Reset: reset})
}

// Map is a map of a Collection.
type Map struct {
	*ebpf.Map
}

// Close is a no-op: a map holds no kernel resource.
func (m *Map) Close() error { return nil }
