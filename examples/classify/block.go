package main

import (
	"errors"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// block is the command's tc filter block: a classifier.Block (chain 0 of a
// clsact hook: classifiers by preference and protocol, each a cls_bpf
// instance) with the filters as the specs added them and their counters.
type block struct {
	blk     *classifier.Block
	actions *action.Table // created with the first filter that has actions
	fwd     *forwarder    // mirred's devices
	egress  bool          // the hook: actions such as skbedit care
	added   []*installed  // in the order added
	// last is the filter whose program ran last, set by tracedProgram:
	// after Classify, the filter that decided. The command classifies on
	// one goroutine, which this relies on.
	last *installed
	// ebpfIDs is the last program id given to an eBPF filter.
	ebpfIDs uint32
}

// installed is a filter as added: its spec, where the block put it, its
// actions and its counters.
type installed struct {
	spec   filterSpec
	where  classifier.Where // with the preference the block allocated
	handle uint32
	frames uint64
	bytes  uint64
}

// tracedProgram runs a filter's classic program and notes the filter as
// the block's last one run, so the report can name the filter that
// decided. It is a classifier.ClassicProgram like the program it wraps.
type tracedProgram struct {
	*cbpf.Program
	b  *block
	in *installed
}

// Run notes the filter and runs its program.
func (t tracedProgram) Run(pkt *packet.Packet) uint32 {
	t.b.last = t.in
	return t.Program.Run(pkt)
}

// tracedEBPF is tracedProgram for an eBPF program: a
// classifier.ExtendedProgram like the program it wraps.
type tracedEBPF struct {
	*ebpf.Program
	b  *block
	in *installed
	id uint32
}

// ID is the program id a dump reports: the block numbers its eBPF
// programs 1, 2, ... in the order they are added, as a freshly booted
// kernel would, so the report does not depend on what else the process
// loaded.
func (t tracedEBPF) ID() uint32 { return t.id }

// Run notes the filter and runs its program.
func (t tracedEBPF) Run(pkt *packet.Packet) uint32 {
	t.b.last = t.in
	return t.Program.Run(pkt)
}

// newBlock returns an empty block for the hook.
func newBlock(egress bool) *block {
	parent := uint32(0xFFFFFFF2) // clsact ingress
	if egress {
		parent = 0xFFFFFFF3
	}
	return &block{
		blk:    classifier.NewBlock(classifier.BlockConfig{Ifindex: int32(ethDevice.Ifindex), Parent: parent}),
		fwd:    &forwarder{sent: map[string]int{}},
		egress: egress,
	}
}

// add installs a filter as `tc filter add` does (classifier.Block.Change
// with Create|Excl): the block allocates a preference when the spec has
// none, and refuses what tc_new_tfilter refuses. The actions (and a
// legacy police) are built from the request tc would send, as the
// kernel's tcf_exts_validate builds them.
func (b *block) add(fs filterSpec) (*installed, error) {
	f := fs.f
	in := &installed{spec: fs}
	var prog classifier.Program
	if f.Collection != nil {
		// An obj line: tcsyntax loaded the section's one program.
		for _, p := range f.Collection.Programs {
			b.ebpfIDs++
			prog = tracedEBPF{Program: p, b: b, in: in, id: b.ebpfIDs}
		}
	} else {
		p, err := cbpf.LoadRaw(f.Bytecode)
		if err != nil {
			return nil, err
		}
		prog = tracedProgram{Program: p, b: b, in: in}
	}
	var err error
	spec := classifier.FilterSpec{
		Handle:       f.Handle,
		Name:         f.Name,
		Program:      prog,
		ClassID:      f.ClassID,
		DirectAction: f.DirectAction,
		Flags:        f.Flags,
	}
	var chain classifier.ActionChain
	if len(f.Actions) > 0 || f.Police != nil {
		if b.actions == nil {
			b.actions = newActionTable(b.fwd)
		}
		if chain, err = classifier.NewActionParser(b.actions).ParseActions(f.ActionRequest(!b.egress)); err != nil {
			return nil, err
		}
		spec.Actions = chain
	}
	w, nf, err := b.blk.Change(f.Where(), spec, classifier.Create|classifier.Excl)
	if err != nil {
		if r, ok := chain.(interface{ Release() }); ok {
			r.Release()
		}
		return nil, err
	}
	in.where, in.handle = w, nf.Handle()
	b.added = append(b.added, in)
	return in, nil
}

// classify runs the block on pkt (classifier.Block.Classify, the kernel's
// tcf_classify) and returns the result and the filter that decided, or nil
// when none did.
func (b *block) classify(pkt *packet.Packet) (classifier.Result, *installed) {
	b.last = nil
	res := b.blk.Classify(pkt)
	if !res.Decided() {
		return res, nil
	}
	return res, b.last
}

// filters lists the installed filters as `tc filter show` does: by
// preference, and within one preference in the classifier's order (newest
// first).
func (b *block) filters() []*installed {
	var out []*installed
	for _, p := range b.blk.Protos(0) {
		for _, f := range p.Filters() {
			for _, in := range b.added {
				if in.where.Prio == p.Where().Prio && in.handle == f.Handle() {
					out = append(out, in)
				}
			}
		}
	}
	return out
}

// buildBlock installs the specs in order; an error names the spec.
func buildBlock(specs []filterSpec, sources []string, egress bool) (*block, error) {
	b := newBlock(egress)
	for i, fs := range specs {
		if _, err := b.add(fs); err != nil {
			var se *SpecError
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, &SpecError{Source: sources[i], Msg: "refused", Err: err}
		}
	}
	return b, nil
}
