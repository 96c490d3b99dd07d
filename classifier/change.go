package classifier

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Request is one netlink change of a filter: the parts of an
// RTM_NEWTFILTER message that reach cls_bpf.
type Request struct {
	// Handle is tcm_handle: 0 asks for an allocated handle.
	Handle uint32
	// Flags are the message's NLM_F_CREATE and NLM_F_EXCL bits.
	Flags ChangeFlags
	// Options is the payload of TCA_OPTIONS (a stream of TCA_BPF_*
	// attributes), nil when the request has no TCA_OPTIONS.
	Options []byte
	// Rate is the payload of TCA_RATE, nil when absent; it is handed to
	// the ActionParser.
	Rate []byte
	// Ingress is set when the parent is an ingress qdisc; it is handed to
	// the ActionParser.
	Ingress bool
}

// policy is cls_bpf's bpf_policy (net/sched/cls_bpf.c).
var policy = []nlattr.Policy{
	uapi.TCA_BPF_CLASSID:   {Type: nlattr.U32},
	uapi.TCA_BPF_FLAGS:     {Type: nlattr.U32},
	uapi.TCA_BPF_FLAGS_GEN: {Type: nlattr.U32},
	uapi.TCA_BPF_FD:        {Type: nlattr.U32},
	uapi.TCA_BPF_NAME:      {Type: nlattr.NulString, Len: uapi.CLS_BPF_NAME_LEN},
	uapi.TCA_BPF_OPS_LEN:   {Type: nlattr.U16},
	uapi.TCA_BPF_OPS:       {Type: nlattr.Binary, Len: uapi.SizeofSockFilter * uapi.BPF_MAXINSNS},
	uapi.TCA_BPF_TAG:       {},
	uapi.TCA_BPF_ID:        {},
}

// attrNames are the kernel names of the TCA_BPF_* attributes.
var attrNames = [...]string{
	uapi.TCA_BPF_UNSPEC:    "TCA_BPF_UNSPEC",
	uapi.TCA_BPF_ACT:       "TCA_BPF_ACT",
	uapi.TCA_BPF_POLICE:    "TCA_BPF_POLICE",
	uapi.TCA_BPF_CLASSID:   "TCA_BPF_CLASSID",
	uapi.TCA_BPF_OPS_LEN:   "TCA_BPF_OPS_LEN",
	uapi.TCA_BPF_OPS:       "TCA_BPF_OPS",
	uapi.TCA_BPF_FD:        "TCA_BPF_FD",
	uapi.TCA_BPF_NAME:      "TCA_BPF_NAME",
	uapi.TCA_BPF_FLAGS:     "TCA_BPF_FLAGS",
	uapi.TCA_BPF_FLAGS_GEN: "TCA_BPF_FLAGS_GEN",
	uapi.TCA_BPF_TAG:       "TCA_BPF_TAG",
	uapi.TCA_BPF_ID:        "TCA_BPF_ID",
}

// proposal is a change request after decoding, common to the Go and the
// netlink form. Each field mirrors one tb[TCA_BPF_*] entry.
type proposal struct {
	parseErr error // a policy violation of the netlink form

	classic, ebpf bool // is_bpf, is_ebpf
	// netlink form
	opsLen uint16
	ops    []byte
	fd     uint32
	// Go form
	prog Program

	name    string
	hasName bool

	flags, genFlags       uint32
	hasFlags, hasGenFlags bool
	classID               uint32
	hasClassID            bool

	// actions: given (Go form) or to be parsed (netlink form)
	actions    ActionChain
	actReq     ActionRequest
	hasActAttr bool
}

// Change adds or replaces the filter spec describes, with the checks, the
// order and the errors of the kernel (tc_new_tfilter's handle rules, then
// cls_bpf_change):
//
//   - no filter with spec.Handle and no Create: ENOENT; one exists and
//     Excl: EEXIST;
//   - handle 0 is allocated (lowest free in 1..0x7FFFFFFF, ENOSPC when
//     none is free); an explicit new handle is reserved;
//   - exactly one program source: EINVAL otherwise;
//   - flags: only SkipHW or SkipSW, not both: EINVAL otherwise;
//   - a classic program of 0 or more than 4096 instructions: EINVAL;
//   - replacing a filter may not change its SkipHW/SkipSW flags: EINVAL;
//     SkipSW needs every bound device to have an offload hook
//     (EOPNOTSUPP, as with no Offload at all) and a driver that takes the
//     filter (EINVAL, or the first driver's error); see the package
//     documentation's "Hardware offload".
//
// A new filter goes to the head of the list; a replaced one keeps its
// place. On any error nothing changes: not the list, not the handles, not
// the filter being replaced (whose offload is rolled back; only when a
// driver refuses to take the old program back does its in-hardware count
// drop, as in the kernel). The caller keeps ownership of spec.Actions
// when Change fails.
func (c *Chain) Change(spec FilterSpec, flags ChangeFlags) (*Filter, error) {
	if isNil(spec.Program) {
		spec.Program = nil
	}
	if isNil(spec.Actions) {
		spec.Actions = nil
	}
	p := &proposal{
		prog:        spec.Program,
		name:        spec.Name,
		hasName:     spec.Name != "",
		flags:       0,
		hasFlags:    spec.DirectAction,
		genFlags:    spec.Flags,
		hasGenFlags: spec.Flags != 0,
		classID:     uint32(spec.ClassID),
		hasClassID:  spec.ClassID != 0,
		actions:     spec.Actions,
	}
	if spec.DirectAction {
		p.flags = uapi.TCA_BPF_FLAG_ACT_DIRECT
	}
	switch spec.Program.(type) {
	case ClassicProgram:
		p.classic = true
	case ExtendedProgram:
		p.ebpf = true
	}
	return c.change(spec.Handle, flags, p, false)
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// map, slice, func or channel: a value whose methods would panic.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// ChangeNetlink adds or replaces a filter from the netlink form of the
// request: TCA_OPTIONS is parsed and validated as the kernel's bpf_policy
// does (nla_parse_nested_deprecated: wrong lengths are ERANGE, a NAME
// without its NUL is EINVAL, unknown attribute types are ignored, the last
// of duplicate attributes counts), then checked as Change does. A classic
// program (TCA_BPF_OPS_LEN and TCA_BPF_OPS) is checked and loaded as the
// kernel's classic checker does; TCA_BPF_FD is resolved through the
// chain's ProgramTable.
func (c *Chain) ChangeNetlink(req Request) (*Filter, error) {
	p := &proposal{}
	if req.Options != nil {
		tb, err := nlattr.Parse(req.Options, uapi.TCA_BPF_MAX, policy)
		if err != nil {
			p.parseErr = err
		} else {
			p.decode(tb, req)
		}
	}
	return c.change(req.Handle, req.Flags, p, req.Options == nil)
}

// decode fills p from a parsed TCA_OPTIONS table.
func (p *proposal) decode(tb nlattr.Table, req Request) {
	p.classic = tb.Has(uapi.TCA_BPF_OPS_LEN) && tb.Has(uapi.TCA_BPF_OPS)
	p.ebpf = tb.Has(uapi.TCA_BPF_FD)
	if p.classic {
		p.opsLen = tb.Uint16(uapi.TCA_BPF_OPS_LEN)
		p.ops = tb[uapi.TCA_BPF_OPS].Data
	}
	if p.ebpf {
		p.fd = tb.Uint32(uapi.TCA_BPF_FD)
	}
	if tb.Has(uapi.TCA_BPF_NAME) {
		d := tb[uapi.TCA_BPF_NAME].Data
		if i := slices.Index(d, 0); i >= 0 {
			d = d[:i]
		}
		p.name, p.hasName = string(d), true
	}
	if p.hasFlags = tb.Has(uapi.TCA_BPF_FLAGS); p.hasFlags {
		p.flags = tb.Uint32(uapi.TCA_BPF_FLAGS)
	}
	if p.hasGenFlags = tb.Has(uapi.TCA_BPF_FLAGS_GEN); p.hasGenFlags {
		p.genFlags = tb.Uint32(uapi.TCA_BPF_FLAGS_GEN)
	}
	if p.hasClassID = tb.Has(uapi.TCA_BPF_CLASSID); p.hasClassID {
		p.classID = tb.Uint32(uapi.TCA_BPF_CLASSID)
	}
	p.actReq = ActionRequest{Rate: req.Rate, Replace: req.Flags&Create == 0, Ingress: req.Ingress}
	if tb.Has(uapi.TCA_BPF_ACT) {
		p.actReq.Act = slices.Clone(tb[uapi.TCA_BPF_ACT].Data)
		p.hasActAttr = true
	}
	if tb.Has(uapi.TCA_BPF_POLICE) {
		p.actReq.Police = slices.Clone(tb[uapi.TCA_BPF_POLICE].Data)
		p.hasActAttr = true
	}
}

// change is tc_new_tfilter's handle lookup followed by cls_bpf_change.
func (c *Chain) change(h uint32, flags ChangeFlags, p *proposal, noOptions bool) (*Filter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.load()
	idx := s.index(h)
	var old *Filter
	if idx >= 0 {
		old = s.filters[idx]
	}

	// tc_new_tfilter, after tp->ops->get(tp, handle).
	if old == nil && flags&Create == 0 {
		return nil, &Error{Op: "change", Msg: "no filter with handle " + hexs(h) + " and no Create flag", Extack: extackNeedCreate, Errno: syscall.ENOENT}
	}
	if old != nil && flags&Excl != 0 {
		return nil, &Error{Op: "change", Msg: "filter " + hexs(h) + " exists", Extack: extackExists, Errno: syscall.EEXIST}
	}

	// cls_bpf_change.
	if noOptions {
		return nil, errorf("change", "TCA_OPTIONS", syscall.EINVAL, "missing")
	}
	if p.parseErr != nil {
		e := &Error{Op: "change", Msg: "attribute failed policy validation", Errno: errnoOf(p.parseErr, syscall.EINVAL), Err: p.parseErr}
		if ne, ok := p.parseErr.(*nlattr.Error); ok && int(ne.Type) < len(attrNames) {
			e.Attr = attrNames[ne.Type]
		}
		return nil, e
	}

	alloc := c.allocator().Clone()
	if h == 0 {
		var err error
		if h, err = alloc.Alloc(); err != nil {
			return nil, &Error{Op: "change", Msg: "no free handle", Errno: errnoOf(err, syscall.ENOSPC), Err: err}
		}
	} else if old == nil {
		if err := alloc.Reserve(h); err != nil {
			return nil, &Error{Op: "change", Msg: "handle " + hexs(h) + " in use", Errno: errnoOf(err, syscall.ENOSPC), Err: err}
		}
	}

	if p.classic == p.ebpf {
		var what string
		switch {
		case p.classic:
			what = "both TCA_BPF_OPS_LEN with TCA_BPF_OPS and TCA_BPF_FD"
		case p.prog != nil:
			what = fmt.Sprintf("a program of type %T, which is neither a ClassicProgram nor an ExtendedProgram", p.prog)
		default:
			what = "neither TCA_BPF_OPS_LEN with TCA_BPF_OPS nor TCA_BPF_FD"
		}
		return nil, errorf("change", "", syscall.EINVAL, "need exactly one program source, got %s", what)
	}

	f := &Filter{handle: h, actions: p.actions}
	fail := func(err *Error) (*Filter, error) {
		if p.hasActAttr {
			release(f.actions)
		}
		return nil, err
	}

	// tcf_exts_validate.
	if p.hasActAttr {
		if c.cfg.Actions == nil {
			return fail(&Error{Op: "change", Attr: "TCA_BPF_ACT", Msg: "no action parser", Extack: extackNoActions, Errno: syscall.EOPNOTSUPP})
		}
		a, err := c.cfg.Actions.ParseActions(p.actReq)
		if err != nil {
			return fail(&Error{Op: "change", Attr: "TCA_BPF_ACT", Msg: "actions", Errno: errnoOf(err, syscall.EINVAL), Err: err})
		}
		f.actions = a
	}

	if p.hasFlags {
		if p.flags&^uapi.TCA_BPF_FLAG_ACT_DIRECT != 0 {
			return fail(errorf("change", "TCA_BPF_FLAGS", syscall.EINVAL, "unknown flags %#x", p.flags))
		}
		f.direct = p.flags&uapi.TCA_BPF_FLAG_ACT_DIRECT != 0
	}
	if p.hasGenFlags {
		g := p.genFlags
		if g&^supportedGenFlags != 0 || g&(SkipHW|SkipSW) == SkipHW|SkipSW {
			return fail(errorf("change", "TCA_BPF_FLAGS_GEN", syscall.EINVAL, "flags %#x: only one of skip_hw (1) or skip_sw (2) may be set", g))
		}
		f.genFlags = g
	}

	if err := c.buildProgram(f, p); err != nil {
		return fail(err)
	}

	if p.hasClassID {
		f.classID = handle.Handle(p.classID)
		if c.cfg.Classes != nil {
			f.class = c.cfg.Classes.BindClass(f.classID)
		}
	}

	if oldHW, err := c.offload(f, old); err != nil {
		c.unbind(f)
		if old != nil && (oldHW.count != old.inHW || oldHW.flags != old.genFlags) {
			// The rollback left the old filter in hardware differently
			// (a driver refused to take it back): publish that state.
			o := *old
			o.inHW, o.genFlags = oldHW.count, oldHW.flags
			next := &snapshot{filters: slices.Clone(s.filters)}
			next.filters[idx] = &o
			c.snap.Store(next)
		}
		return fail(err)
	}
	if f.genFlags&InHW == 0 {
		f.genFlags |= NotInHW
	}

	// Commit: publish once.
	next := &snapshot{filters: make([]*Filter, 0, len(s.filters)+1)}
	if old != nil {
		next.filters = append(next.filters, s.filters...)
		next.filters[idx] = f
	} else {
		next.filters = append(next.filters, f)
		next.filters = append(next.filters, s.filters...)
	}
	c.handles = alloc
	c.snap.Store(next)
	if old != nil {
		c.unbind(old)
		release(old.actions)
	}
	return f, nil
}

// buildProgram is cls_bpf_prog_from_ops / cls_bpf_prog_from_efd.
func (c *Chain) buildProgram(f *Filter, p *proposal) *Error {
	switch {
	case p.prog != nil && p.classic:
		cp := p.prog.(ClassicProgram)
		if n := len(cp.Instructions()); n == 0 || n > uapi.BPF_MAXINSNS {
			return errorf("change", "TCA_BPF_OPS_LEN", syscall.EINVAL, "%d instructions: need 1 to %d", n, uapi.BPF_MAXINSNS)
		}
		f.prog, f.classic = cp, cp
	case p.prog != nil:
		ep := p.prog.(ExtendedProgram)
		f.prog, f.ebpf = ep, ep
		f.name, f.hasName = p.name, p.hasName
	case p.classic:
		n := int(p.opsLen)
		if n == 0 || n > uapi.BPF_MAXINSNS {
			return errorf("change", "TCA_BPF_OPS_LEN", syscall.EINVAL, "%d instructions: need 1 to %d", n, uapi.BPF_MAXINSNS)
		}
		if n*uapi.SizeofSockFilter != len(p.ops) {
			return errorf("change", "TCA_BPF_OPS", syscall.EINVAL, "%d bytes of instructions for TCA_BPF_OPS_LEN %d (need %d)", len(p.ops), n, n*uapi.SizeofSockFilter)
		}
		insns := make([]bpf.RawInstruction, n)
		for i := range insns {
			b := p.ops[i*uapi.SizeofSockFilter:]
			insns[i] = bpf.RawInstruction{
				Op: binary.LittleEndian.Uint16(b[0:]),
				Jt: b[2],
				Jf: b[3],
				K:  binary.LittleEndian.Uint32(b[4:]),
			}
		}
		cp, err := c.loadClassic(insns)
		if err != nil {
			return &Error{Op: "change", Attr: "TCA_BPF_OPS", Msg: "classic program refused", Errno: errnoOf(err, syscall.EINVAL), Err: err}
		}
		f.prog, f.classic = cp, cp
	default: // eBPF by descriptor
		if c.cfg.Programs == nil {
			return errorf("change", "TCA_BPF_FD", syscall.EBADF, "no program table to resolve fd %d", p.fd)
		}
		ep, err := c.cfg.Programs.Program(p.fd, f.genFlags&SkipSW != 0)
		if err != nil {
			return &Error{Op: "change", Attr: "TCA_BPF_FD", Msg: fmt.Sprintf("program fd %d", p.fd), Errno: errnoOf(err, syscall.EINVAL), Err: err}
		}
		if ep == nil {
			return errorf("change", "TCA_BPF_FD", syscall.EBADF, "program fd %d resolved to nothing", p.fd)
		}
		f.prog, f.ebpf = ep, ep
		f.name, f.hasName = p.name, p.hasName
	}
	return nil
}
