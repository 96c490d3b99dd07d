package classifier

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/offload"
	"github.com/clsbpf/clsbpf/offload/soft"
)

// fakeClassic is a classic program whose run is a Go function; its
// instructions are only what a dump reports.
type fakeClassic struct {
	insns []bpf.RawInstruction
	run   func(pkt *packet.Packet) uint32
}

func (p *fakeClassic) Run(pkt *packet.Packet) uint32      { return p.run(pkt) }
func (p *fakeClassic) Instructions() []bpf.RawInstruction { return p.insns }

// retK is the classic program "ret #k".
func retK(k uint32) *fakeClassic {
	return &fakeClassic{
		insns: []bpf.RawInstruction{{Op: 0x06, K: k}}, // ret #k
		run:   func(*packet.Packet) uint32 { return k },
	}
}

// fakeEBPF is an eBPF program whose run is a Go function.
type fakeEBPF struct {
	id  uint32
	tag [8]byte
	run func(pkt *packet.Packet) uint32
}

func (p *fakeEBPF) Run(pkt *packet.Packet) uint32 { return p.run(pkt) }
func (p *fakeEBPF) ID() uint32                    { return p.id }
func (p *fakeEBPF) Tag() [8]byte                  { return p.tag }

// setClassID is an eBPF program that writes tc_classid and returns ret.
func setClassID(classID uint16, ret action.Verdict) *fakeEBPF {
	return &fakeEBPF{id: 7, run: func(pkt *packet.Packet) uint32 {
		pkt.TCClassID = classID
		return uint32(ret)
	}}
}

// fakeTable is a ProgramTable over a map of descriptors.
type fakeTable map[uint32]ExtendedProgram

func (t fakeTable) Program(fd uint32, skipSW bool) (ExtendedProgram, error) {
	switch fd {
	case 1000:
		return nil, fmt.Errorf("fd %d is a socket filter: %w", fd, syscall.EINVAL)
	}
	p, ok := t[fd]
	if !ok {
		return nil, fmt.Errorf("fd %d: %w", fd, syscall.EBADF)
	}
	return p, nil
}

// fakeActions is an action chain that returns a fixed verdict and counts
// its runs and releases.
type fakeActions struct {
	verdict  action.Verdict
	runs     atomic.Int64
	released atomic.Int64
}

func (a *fakeActions) Exec(pkt *packet.Packet, res Result) Result {
	a.runs.Add(1)
	res.Verdict = a.verdict
	return res
}
func (a *fakeActions) Release() { a.released.Add(1) }

// fakeParser builds fakeActions from a one-byte verdict in TCA_BPF_ACT.
type fakeParser struct{ built []*fakeActions }

func (p *fakeParser) ParseActions(req ActionRequest) (ActionChain, error) {
	if len(req.Act) == 0 {
		return nil, fmt.Errorf("empty action list: %w", syscall.EINVAL)
	}
	a := &fakeActions{verdict: action.Verdict(int8(req.Act[0]))}
	p.built = append(p.built, a)
	return a, nil
}

// recorder is a driver that records its requests and refuses Add and
// Replace with err.
type recorder struct {
	err  error
	reqs []offload.Request
}

func (r *recorder) Capabilities() offload.Capabilities { return soft.Capabilities(nil, nil) }

func (r *recorder) Setup(req *offload.Request) error {
	r.reqs = append(r.reqs, *req)
	if req.Command == offload.Destroy || req.Command == offload.Stats {
		return nil
	}
	return r.err
}

func (r *recorder) commands() []offload.Command {
	var out []offload.Command
	for _, q := range r.reqs {
		out = append(out, q.Command)
	}
	return out
}

// fakeOffload is a block bound to n offload-capable devices whose drivers
// refuse Add and Replace with err.
func fakeOffload(n int, err error) (*offload.Block, []*recorder) {
	var devs []*offload.Device
	var recs []*recorder
	for i := range n {
		r := &recorder{err: err}
		recs = append(recs, r)
		devs = append(devs, &offload.Device{Name: fmt.Sprintf("nic%d", i), Ifindex: uint32(10 + i), HWTC: true, Offloader: r})
	}
	return offload.NewBlock(devs...), recs
}

// fakeClasses hands out cookie = classid + 1 for classes in the set.
type fakeClasses struct {
	classes map[handle.Handle]bool
	bound   map[handle.Handle]int
}

func (c *fakeClasses) BindClass(id handle.Handle) uint64 {
	if !c.classes[id] {
		return 0
	}
	c.bound[id]++
	return uint64(id) + 1
}

func (c *fakeClasses) UnbindClass(id handle.Handle, cookie uint64) { c.bound[id]-- }

// ops encodes classic instructions (code, jt, jf, k) as sock_filter bytes.
func ops(ins ...[4]uint32) []byte {
	var b []byte
	for _, in := range ins {
		b = binary.LittleEndian.AppendUint16(b, uint16(in[0]))
		b = append(b, byte(in[1]), byte(in[2]))
		b = binary.LittleEndian.AppendUint32(b, in[3])
	}
	return b
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
