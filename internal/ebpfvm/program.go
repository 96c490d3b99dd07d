package ebpfvm

import (
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// ContextKind is what R1 points to when a program starts.
type ContextKind uint8

// Context kinds.
const (
	// ContextSkb: R1 is a struct __sk_buff over a packet.Packet, as for
	// BPF_PROG_TYPE_SCHED_CLS and SCHED_ACT (skb.go).
	ContextSkb ContextKind = iota
	// ContextMem: R1 points to caller-supplied read-write memory and R2
	// holds its length, the convention of the bpf_conformance suite and
	// of uBPF and rbpf.
	ContextMem
)

// Profile selects which rule set Load applies where the Linux verifier and
// RFC 9669 differ.
type Profile uint8

// Profiles.
const (
	// ProfileLinux applies the kernel verifier's rules (the default).
	ProfileLinux Profile = iota
	// ProfileRFC applies RFC 9669 alone, as the bpf_conformance suite
	// does: constant division and modulo by zero and constant shifts of at
	// least the operand width are accepted (and behave as the register
	// forms), and callx (BPF_CALL|BPF_X, the helper id in the dst
	// register) is accepted.
	ProfileRFC
)

// DefaultBudget is the default run-time instruction budget, 2^26: room
// for a may_goto loop of a few instructions run BPF_MAX_LOOPS times and far
// above what the kernel verifier lets a bounded loop execute, small enough
// to end any run in well under a second.
const DefaultBudget = 1 << 26

// Options configure Load. The zero value loads a tc (SCHED_CLS) program
// under the Linux rules with no helpers and no maps.
type Options struct {
	Context ContextKind
	Profile Profile
	// Helpers resolves helper calls. A call to an id it lacks fails the
	// load with EINVAL, as the kernel's "invalid func unknown#N".
	Helpers *Helpers
	// Linker resolves LD_IMM64 pseudo sources; nil rejects them (EINVAL).
	Linker Linker
	// MaxInsns bounds the program length; 0 means
	// BPF_COMPLEXITY_LIMIT_INSNS (1,000,000), the privileged limit. Set
	// 4096 (BPF_MAXINSNS) to model an unprivileged loader.
	MaxInsns int
	// Budget is the per-run instruction budget, charged by loop
	// iterations (the instructions a jump back spans) and calls (the
	// callee's length); 0 means DefaultBudget.
	Budget uint64
	// Engine selects the compiled form (the default) or the reference
	// interpreter, for tests and debugging.
	Engine Engine
	// FuncInfo says the program comes with BTF function information, as
	// clang-built objects do. Without it the kernel refuses function
	// pointers (BPF_PSEUDO_FUNC) and LD_ABS/LD_IND in subprograms
	// (EINVAL), and so does Load.
	FuncInfo bool
}

// Program is a verified program in its executable form. It never changes
// after Load and is safe for concurrent use; each concurrent run needs its
// own Machine (Run takes one from a pool).
type Program struct {
	insns       []inst
	raw         []Instruction
	opts        Options
	budget      uint64
	objects     []any    // map handles, by handle index
	static      []region // map value regions, ids regStatic...
	stackDepth  []uint32 // per subprogram: bytes to clear on entry
	subLen      []int64  // per subprogram: instructions, charged per call
	subOf       []int32  // instruction -> subprogram
	helpersByID map[int32]*Helper
	ctxs        []ctxAccess // resolved context accesses, by inst.aux
	helpers     []*Helper   // resolved helpers, by inst.aux
	pool        sync.Pool
	// tstampTypeAccess is the kernel's prog->tstamp_type_access: some
	// instruction reads __sk_buff tstamp_type (skb.go).
	tstampTypeAccess bool
}

// Load verifies insns under opts and compiles them. A rejected program is
// a *VerifyError naming the instruction and the reason, wrapping the errno
// the kernel's BPF_PROG_LOAD returns.
func Load(insns []Instruction, opts Options) (*Program, error) {
	max := opts.MaxInsns
	if max <= 0 {
		max = uapi.BPF_COMPLEXITY_LIMIT_INSNS
	}
	if len(insns) == 0 || len(insns) > max {
		return nil, verr(-1, syscall.E2BIG, "program of %d instructions (limit %d)", len(insns), max)
	}
	p := &Program{raw: append([]Instruction(nil), insns...), opts: opts}
	p.budget = opts.Budget
	if p.budget == 0 {
		p.budget = DefaultBudget
	}
	v := newVerifier(p)
	if err := v.run(); err != nil {
		return nil, err
	}
	if err := p.compile(v); err != nil {
		return nil, err
	}
	p.tstampTypeAccess = skbTstampTypeAccess(p.ctxs)
	p.pool.New = func() any { return p.NewMachine() }
	return p, nil
}

// Len is the number of instruction slots.
func (p *Program) Len() int { return len(p.raw) }

// Instructions returns a copy of the program as loaded.
func (p *Program) Instructions() []Instruction { return append([]Instruction(nil), p.raw...) }

// frame is a saved caller frame of a bpf-to-bpf call.
type frame struct {
	ret  int       // instruction to resume at
	regs [4]uint64 // caller's R6..R9
	fp   uint64    // caller's R10
}

// Machine is the per-run state of one program: registers live in the run
// loop, the stack, call frames and region table live here. A Machine is
// reused across runs and allocates nothing per run; it must not be used by
// two goroutines at once.
type Machine struct {
	prog    *Program
	regions []region
	stackW  [stackSize / 8]uint64 // 8-byte aligned stack memory
	stack   []byte                // byte view of stackW
	frames  [maxFrames]frame
	pkt     *packet.Packet
	loops   uint32    // may_goto budget left
	args    [5]uint64 // helper arguments, here so that calls do not allocate
	dyn     dynState  // dynamic map value regions (mem_map.go)
	tail    tailState // tail call chain (tailcall.go)
	steps   int64     // instruction budget left, across helper calls (execAt)
	depth   int       // call depth of the instruction calling a helper (CallFunc)
	scratch [4][]byte // helpers' temporary copies (Scratch)
}

// NewMachine returns a machine for p.
func (p *Program) NewMachine() *Machine {
	m := &Machine{prog: p}
	m.stack = unsafe.Slice((*byte)(unsafe.Pointer(&m.stackW[0])), stackSize)
	m.regions = make([]region, regStatic+len(p.static)+DynamicRegions)
	m.regions[regStack] = region{mem: m.stack}
	copy(m.regions[regStatic:], p.static)
	m.dyn.first = regStatic + len(p.static)
	return m
}

// Packet is the packet of the current run (ContextSkb), for helpers.
func (m *Machine) Packet() *packet.Packet { return m.pkt }

// RefreshPacket re-reads the packet's layout after a helper changed it, so
// that data and data_end pointers the program loads next see the new
// bounds. Helpers marked ChangesPacket get this call automatically.
func (m *Machine) RefreshPacket() {
	if m.pkt == nil {
		m.regions[regPacket] = region{}
		return
	}
	buf, data, linEnd, _ := m.pkt.Buffer()
	meta := len(m.pkt.Meta())
	m.regions[regPacket] = region{mem: buf[:linEnd:linEnd], lo: uint32(data - meta)}
}

// packetAddr returns the pointer value of byte offset off of the packet's
// buffer.
func packetAddr(off int) uint64 { return addrOf(regPacket, uint32(off)) }

// Run runs the program on pkt with the __sk_buff context (ContextSkb) and
// returns R0. The packet and its metadata are changed in place by the
// program's stores. A fault returns a *RunError.
func (m *Machine) Run(pkt *packet.Packet) (uint64, error) {
	if m.prog.opts.Context != ContextSkb || pkt == nil {
		return 0, &RunError{PC: 0, Err: ErrNoContext}
	}
	m.pkt = pkt
	m.RefreshPacket()
	m.regions[regMem] = region{}
	r0, err := m.start(addrOf(regCtx, 0), 0)
	m.resetDynamic()
	m.pkt = nil
	m.regions[regPacket] = region{}
	return r0, err
}

// RunMem runs the program with R1 pointing to mem and R2 = len(mem)
// (ContextMem) and returns R0. mem is read and written in place.
func (m *Machine) RunMem(mem []byte) (uint64, error) {
	if m.prog.opts.Context != ContextMem {
		return 0, &RunError{PC: 0, Err: ErrNoContext}
	}
	if uint64(len(mem)) > 1<<31 {
		return 0, &RunError{PC: 0, Err: fmt.Errorf("%w: memory larger than 2 GiB", ErrNoContext)}
	}
	m.regions[regMem] = region{mem: mem}
	r0, err := m.start(addrOf(regMem, 0), uint64(len(mem)))
	m.resetDynamic()
	m.regions[regMem] = region{}
	return r0, err
}

// start runs the program on the engine Options.Engine selects.
func (m *Machine) start(r1, r2 uint64) (uint64, error) {
	if m.prog.opts.Engine == EngineReference {
		return m.interpret(r1, r2)
	}
	return m.exec(r1, r2)
}

// Run runs p on pkt with a pooled machine: see Machine.Run.
func (p *Program) Run(pkt *packet.Packet) (uint64, error) {
	m := p.pool.Get().(*Machine)
	r0, err := m.Run(pkt)
	p.pool.Put(m)
	return r0, err
}

// RunMem runs p on mem with a pooled machine: see Machine.RunMem.
func (p *Program) RunMem(mem []byte) (uint64, error) {
	m := p.pool.Get().(*Machine)
	r0, err := m.RunMem(mem)
	p.pool.Put(m)
	return r0, err
}
