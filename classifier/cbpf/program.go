package cbpf

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/cbpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Program is a checked classic BPF program ready to run. It is immutable
// after Load and safe for concurrent use by any number of goroutines.
type Program struct {
	insns    []cbpfvm.Insn
	fast     *cbpfvm.Prog     // the switch executor's form (fused or pre-decoded)
	closures *cbpfvm.Closures // the closure-compiled form, when engine is engineCompiled
	random   func() uint32
	engine   engine
	listing  listingCache // tc bytecode and disassembly for RunTrace and coverage, built on first use
}

// emptyPacket stands in for a nil packet; runs only read it.
var emptyPacket packet.Packet

// engine selects how Run executes a program.
type engine uint8

const (
	engineAuto       engine = iota // chosen at load by chooseEngine
	engineCompiled                 // closures over the fused form (cbpfvm.Closures)
	engineFused                    // the switch executor on the fused form
	enginePredecoded               // the switch executor, one operation per instruction
	engineInterp                   // the reference interpreter
)

// config collects the options of Load.
type config struct {
	random func() uint32
	engine engine
}

// chooseEngine picks the engine of a program at load and builds its
// form: closures when the program can run as closures (no scratch memory,
// no path longer than cbpfvm.MaxClosureDepth), else the switch executor on
// the fused form. Forcing engineCompiled on a program closures cannot run
// falls back the same way.
func chooseEngine(insns []cbpfvm.Insn, random func() uint32) (engine, *cbpfvm.Prog, *cbpfvm.Closures) {
	fused := cbpfvm.CompileFused(insns)
	if c := cbpfvm.CompileClosures(fused, random); c != nil {
		return engineCompiled, fused, c
	}
	return engineFused, fused, nil
}

// Option configures Load.
type Option func(*config)

// WithRandom sets the source of SKF_AD_RANDOM loads (the kernel's per-CPU
// bpf_user_rnd_u32). It must be safe for concurrent use if the program is
// run concurrently. The default is math/rand/v2's global generator.
func WithRandom(src func() uint32) Option {
	return func(c *config) { c.random = src }
}

// withEngine forces an execution engine; tests and benchmarks use it to
// run the reference interpreter.
func withEngine(e engine) Option {
	return func(c *config) { c.engine = e }
}

// Load assembles insns, checks the program as the kernel's
// bpf_check_classic does, and compiles it for Run. Errors wrap
// syscall.EINVAL; a checker rejection is a *CheckError.
func Load(insns []bpf.Instruction, opts ...Option) (*Program, error) {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("cbpf: load: assemble: %w: %w", err, syscall.EINVAL)
	}
	return LoadRaw(raw, opts...)
}

// LoadRaw checks raw as the kernel's bpf_check_classic does and
// compiles it for Run. The program is copied. Errors wrap
// syscall.EINVAL; a checker rejection is a *CheckError.
func LoadRaw(raw []bpf.RawInstruction, opts ...Option) (*Program, error) {
	c := config{random: rand.Uint32}
	for _, o := range opts {
		o(&c)
	}
	if c.random == nil {
		return nil, fmt.Errorf("cbpf: load: nil random source: %w", syscall.EINVAL)
	}
	if err := Check(raw); err != nil {
		return nil, err
	}
	insns := toInsns(raw)
	p := &Program{insns: insns, random: c.random, engine: c.engine}
	switch c.engine {
	case engineAuto, engineCompiled:
		p.engine, p.fast, p.closures = chooseEngine(insns, c.random)
	case engineFused:
		p.fast = cbpfvm.CompileFused(insns)
	case enginePredecoded:
		p.fast = cbpfvm.Compile(insns)
	}
	return p, nil
}

// Check reports whether the kernel would accept raw: nil, or a *CheckError
// naming the first bad instruction and the reason, which wraps
// syscall.EINVAL.
func Check(raw []bpf.RawInstruction) error {
	if len(raw) == 0 || len(raw) > uapi.BPF_MAXINSNS {
		return &CheckError{Index: -1, Reason: ReasonLength}
	}
	if r := cbpfvm.Check(toInsns(raw)); r != nil {
		return newCheckError(raw, r)
	}
	return nil
}

// Run runs the program on pkt and returns the filter's 32-bit result, as
// the kernel does for a classic program at a tc hook: the packet starts at
// pkt's data, loads past its end and division by X == 0 end the program
// with 0. Run allocates nothing and takes no lock; pkt must not be changed
// concurrently. A nil pkt runs as an empty packet with zero metadata.
func (p *Program) Run(pkt *packet.Packet) uint32 {
	if c := p.closures; c != nil && pkt != nil {
		return c.Run(pkt)
	}
	return p.runSwitch(pkt)
}

// runSwitch runs the programs closures cannot (on the interpreter when
// forced, else on the switch executor) and nil packets.
func (p *Program) runSwitch(pkt *packet.Packet) uint32 {
	if pkt == nil {
		pkt = &emptyPacket
	}
	if p.closures != nil {
		return p.closures.Run(pkt)
	}
	if p.engine == engineInterp {
		env := cbpfvm.Env{Random: p.random}
		return cbpfvm.Interpret(p.insns, pkt, &env)
	}
	return p.fast.Run(pkt, p.random)
}

// Instructions returns a copy of the program's instructions.
func (p *Program) Instructions() []bpf.RawInstruction {
	raw := make([]bpf.RawInstruction, len(p.insns))
	for i, in := range p.insns {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return raw
}

// Len returns the number of instructions.
func (p *Program) Len() int { return len(p.insns) }

// String returns the program listing as `tcpdump -d` prints it (see
// Disassemble).
func (p *Program) String() string {
	return Disassemble(p.Instructions())
}

// Disassemble returns a listing of raw exactly as `tcpdump -d` prints it,
// one instruction per line with absolute jump targets; extensions, which
// libpcap prints as numbers, print by name ("ld       [proto]"). raw need
// not be a valid program: unknown opcodes print as "unimp".
func Disassemble(raw []bpf.RawInstruction) string {
	var b strings.Builder
	for i, in := range raw {
		b.WriteString(cbpfvm.Disassemble(i, in.Op, in.Jt, in.Jf, in.K))
		b.WriteByte('\n')
	}
	return b.String()
}

func toInsns(raw []bpf.RawInstruction) []cbpfvm.Insn {
	insns := make([]cbpfvm.Insn, len(raw))
	for i, r := range raw {
		insns[i] = cbpfvm.Insn{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return insns
}
