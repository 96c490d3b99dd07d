package action

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindBpf = "bpf"

// Program is a BPF program act_bpf runs: Run returns the program's 32-bit
// result for the packet, whose frame starts at its MAC header. A
// *cbpf.Program is one; an eBPF (SCHED_ACT) program plugs in through a
// ProgramResolver. Run must be safe for concurrent use.
type Program interface {
	Run(pkt *packet.Packet) uint32
}

// EBPFProgram is a Program loaded from a descriptor, with the identity a
// dump shows.
type EBPFProgram struct {
	Program
	// ID is the program id and Tag its tag (TCA_ACT_BPF_ID, _TAG).
	ID  uint32
	Tag [uapi.BPF_TAG_SIZE]byte
}

// ProgramResolver resolves TCA_ACT_BPF_FD: the eBPF program of type
// SCHED_ACT a descriptor stands for, or an error wrapping the kernel's
// errno (EBADF for no program, EINVAL for another program type).
type ProgramResolver interface {
	ActProgram(fd uint32) (*EBPFProgram, error)
}

// Bpf is the spec of a BPF action (kind "bpf", act_bpf.c): a classic
// program (Ops) or an eBPF one (FD, resolved through Config.Programs).
// Its result is the verdict: Pipe, Reclassify, OK, Redirect and Shot as
// returned, Unspec (-1) for the configured Verdict, anything else Unspec.
type Bpf struct {
	Params
	// Ops is the classic program.
	Ops []bpf.RawInstruction
	// FD names an eBPF program; Name is kept for the dump.
	FD   uint32
	Name string
	// UseFD sends FD even when it is 0.
	UseFD bool
}

// Kind returns "bpf".
func (*Bpf) Kind() string { return kindBpf }

func (b *Bpf) options(e *encoder) {
	e.bytes(uapi.TCA_ACT_BPF_PARMS, putGen(nil, b.gen()))
	if b.Ops != nil {
		e.u16(uapi.TCA_ACT_BPF_OPS_LEN, uint16(len(b.Ops)))
		e.bytes(uapi.TCA_ACT_BPF_OPS, encodeOps(b.Ops))
	}
	if b.FD != 0 || b.UseFD {
		e.u32(uapi.TCA_ACT_BPF_FD, b.FD)
	}
	if b.Name != "" {
		e.str(uapi.TCA_ACT_BPF_NAME, b.Name)
	}
}

func encodeOps(ops []bpf.RawInstruction) []byte {
	out := make([]byte, 0, 8*len(ops))
	for _, in := range ops {
		out = binary.LittleEndian.AppendUint16(out, in.Op)
		out = append(out, in.Jt, in.Jf)
		out = binary.LittleEndian.AppendUint32(out, in.K)
	}
	return out
}

func decodeOps(b []byte) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, len(b)/8)
	for i := range out {
		o := b[8*i:]
		out[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(o), Jt: o[2], Jf: o[3], K: binary.LittleEndian.Uint32(o[4:])}
	}
	return out
}

type bpfProg struct {
	prog Program
	ops  []bpf.RawInstruction // classic only
	name string
	ebpf *EBPFProgram
}

type bpfAction struct {
	Common
	p atomic.Pointer[bpfProg]
}

var bpfPolicy = []pol{
	uapi.TCA_ACT_BPF_PARMS:   polLen(uapi.SizeofTcActBpf),
	uapi.TCA_ACT_BPF_FD:      polU32,
	uapi.TCA_ACT_BPF_NAME:    {Policy: nlattr.Policy{Type: nlattr.NulString, Len: uapi.ACT_BPF_NAME_LEN}},
	uapi.TCA_ACT_BPF_OPS_LEN: polU16,
	uapi.TCA_ACT_BPF_OPS:     {Policy: nlattr.Policy{Type: nlattr.Binary, Len: uapi.SizeofSockFilter * uapi.BPF_MAXINSNS}},
}

func init() { kinds[kindBpf] = &kindOps{id: uapi.TCA_ID_BPF, init: bpfInit} }

// bpfInit is tcf_bpf_init.
func bpfInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_ACT_BPF_MAX, bpfPolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_ACT_BPF_PARMS) {
		return nil, errno(syscall.EINVAL, "")
	}
	parm := getGen(tb.data(uapi.TCA_ACT_BPF_PARMS))
	index := parm.index
	a, exists, err := x.checkAlloc(kindBpf, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists {
		if f.bind {
			return a, nil
		}
		if !f.replace {
			return nil, errno(syscall.EEXIST, "")
		}
	}
	if err := f.checkCtrl(parm.action); err != nil {
		return nil, err
	}
	isBpf := tb.has(uapi.TCA_ACT_BPF_OPS_LEN) && tb.has(uapi.TCA_ACT_BPF_OPS)
	isEBPF := tb.has(uapi.TCA_ACT_BPF_FD)
	if isBpf == isEBPF {
		return nil, errno(syscall.EINVAL, "")
	}
	p := &bpfProg{}
	if isBpf {
		n := tb.u16(uapi.TCA_ACT_BPF_OPS_LEN)
		if n > uapi.BPF_MAXINSNS || n == 0 {
			return nil, errno(syscall.EINVAL, "")
		}
		if int(n)*uapi.SizeofSockFilter != len(tb.data(uapi.TCA_ACT_BPF_OPS)) {
			return nil, errno(syscall.EINVAL, "")
		}
		p.ops = decodeOps(tb.data(uapi.TCA_ACT_BPF_OPS))
		prog, err := cbpf.LoadRaw(p.ops)
		if err != nil {
			return nil, &Error{Errno: syscall.EINVAL, Err: err}
		}
		p.prog = prog
	} else {
		res := f.t.cfg.Programs
		if res == nil {
			return nil, errno(syscall.EBADF, "")
		}
		ep, err := res.ActProgram(tb.u32(uapi.TCA_ACT_BPF_FD))
		if err != nil {
			return nil, wrapErr(err)
		}
		p.prog, p.ebpf = ep, ep
		if tb.has(uapi.TCA_ACT_BPF_NAME) {
			name := tb.data(uapi.TCA_ACT_BPF_NAME)
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			p.name = string(name)
		}
	}
	if exists {
		b := a.(*bpfAction)
		x.commits = append(x.commits, func() {
			b.setCtrl(parm.action)
			b.p.Store(p)
		})
		return b, nil
	}
	b := &bpfAction{}
	f.newCommon(&b.Common, kindBpf, index)
	b.setCtrl(parm.action)
	b.p.Store(p)
	x.created = append(x.created, b)
	return b, nil
}

// Act is tcf_bpf_act with the SCHED_ACT verdict mapping.
func (b *bpfAction) Act(pkt *packet.Packet, res *Result) Verdict {
	b.touch(res)
	b.count(pkt, res)
	r := Verdict(int32(b.p.Load().prog.Run(pkt)))
	switch r {
	case Pipe, Reclassify, OK, Redirect:
		return r
	case Shot:
		b.drop(res)
		return r
	case Unspec:
		return b.Verdict()
	}
	return Unspec
}

func (b *bpfAction) dumpOptions(e *encoder, bind, ref int32) {
	p := b.p.Load()
	e.bytes(uapi.TCA_ACT_BPF_PARMS, putGen(nil, tcGen{index: b.index, action: b.Verdict(), refcnt: b.refcnt - ref, bindcnt: b.bindcnt - bind}))
	if p.ebpf != nil {
		if p.name != "" {
			e.str(uapi.TCA_ACT_BPF_NAME, p.name)
		}
		e.u32(uapi.TCA_ACT_BPF_ID, p.ebpf.ID)
		e.bytes(uapi.TCA_ACT_BPF_TAG, p.ebpf.Tag[:])
	} else {
		e.u16(uapi.TCA_ACT_BPF_OPS_LEN, uint16(len(p.ops)))
		e.bytes(uapi.TCA_ACT_BPF_OPS, encodeOps(p.ops))
	}
	e.tm(uapi.TCA_ACT_BPF_TM, &b.Common)
}

// format is iproute2's bpf_print_opt.
func (b *bpfAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	p := b.p.Load()
	w.WriteString("bpf ")
	if p.name != "" {
		w.WriteString(p.name + " ")
	}
	if p.ebpf == nil {
		fmt.Fprintf(w, "bytecode '%d,", len(p.ops))
		for i, in := range p.ops {
			fmt.Fprintf(w, "%d %d %d %d", in.Op, in.Jt, in.Jf, in.K)
			if i < len(p.ops)-1 {
				w.WriteString(",")
			}
		}
		w.WriteString("' ")
	} else {
		fmt.Fprintf(w, "tag %x ", p.ebpf.Tag)
	}
	fmt.Fprintf(w, "default-action %s\n", ctrlString(b.Verdict()))
	formatGen(w, &b.Common, bind, ref, stats, "\t ")
}
