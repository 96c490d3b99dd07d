package tcx

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Attach and detach flags, the kernel's BPF_F_* values (uapi bpf.h).
const (
	// FlagReplace is BPF_F_REPLACE: replace AttachOptions.Replace in place.
	FlagReplace uint32 = 1 << 2
	// FlagBefore is BPF_F_BEFORE: insert before the relative program or
	// link, or first when none is named.
	FlagBefore uint32 = 1 << 3
	// FlagAfter is BPF_F_AFTER: insert after the relative program or link,
	// or last when none is named.
	FlagAfter uint32 = 1 << 4
	// FlagID is BPF_F_ID: AttachOptions.Relative is an id. Ids are the
	// only way to name a program or link here, so a non-zero Relative is
	// an id with or without it; with it, Relative 0 names nothing and
	// fails with ENOENT as bpf_prog_by_id(0) does.
	FlagID uint32 = 1 << 5
	// FlagLink is BPF_F_LINK: Relative names a link, not a program.
	FlagLink uint32 = 1 << 13

	flagsMask = FlagReplace | FlagBefore | FlagAfter | FlagID | FlagLink
)

// MaxPrograms is bpf_mprog_max(): the most programs one list holds.
const MaxPrograms = 63

// Program is what a list runs: *ebpf.Program satisfies it.
type Program interface {
	// Run runs the program on pkt and returns R0's low 32 bits.
	Run(pkt *packet.Packet) uint32
	// ID is the program id, unique among the programs in use.
	ID() uint32
}

// AttachOptions are the attach and detach arguments of bpf(BPF_PROG_ATTACH),
// bpf(BPF_PROG_DETACH) and bpf(BPF_LINK_CREATE) for tcx.
type AttachOptions struct {
	// Flags are FlagBefore, FlagAfter, FlagReplace, FlagID and FlagLink.
	Flags uint32
	// Relative is the id of the program (or, with FlagLink, the link)
	// FlagBefore and FlagAfter are relative to; 0 with neither FlagID nor
	// FlagLink names none.
	Relative uint32
	// Replace is the program FlagReplace replaces.
	Replace Program
	// ExpectedRevision, when non-zero, must equal the list's revision or
	// the call fails with ESTALE.
	ExpectedRevision uint64
}

type entry struct {
	prog Program
	link *Link
}

// List is one device's tcx attach list for one direction: the programs
// in run order and the revision, as struct bpf_mprog_entry and its
// bundle hold them. The zero value is an empty list (no entry: Query and
// Detach fail with ENOENT). Changes are serialised (the kernel's rtnl
// lock) and publish a new slice, so Run takes no lock and allocates
// nothing.
type List struct {
	// Known reports whether a program id names a program at all, for
	// the kernel's distinction between a relative program that does not
	// exist (ENOENT) and one attached elsewhere (EINVAL without
	// FlagBefore or FlagAfter, ENOENT with them). Nil means every id
	// exists.
	Known func(id uint32) bool

	mu       sync.Mutex
	entries  atomic.Pointer[[]entry]
	revision uint64 // 0: no entry exists
}

var nextLinkID atomic.Uint32

// Link is a program attached through a tcx link (BPF_LINK_CREATE): it
// stays attached until Detach, and only the link can detach or update it.
type Link struct {
	id   uint32
	list *List
	prog Program
}

// ID is the link id.
func (k *Link) ID() uint32 { return k.id }

// Program is the program the link attaches.
func (k *Link) Program() Program {
	k.list.mu.Lock()
	defer k.list.mu.Unlock()
	return k.prog
}

func errno(op string, e syscall.Errno, format string, args ...any) error {
	return fmt.Errorf("tcx: %s: %s: %w", op, fmt.Sprintf(format, args...), e)
}

func (l *List) snapshot() []entry {
	if p := l.entries.Load(); p != nil {
		return *p
	}
	return nil
}

// unknownProg stands for a program that exists but is attached
// elsewhere: it matches no entry.
type unknownProg struct{ id uint32 }

func (u *unknownProg) Run(*packet.Packet) uint32 { return 0 }
func (u *unknownProg) ID() uint32                { return u.id }

// links are the ids of every link made, for naming a link that is not
// in a list (bpf_link_by_id finds a detached link while it is held).
var links sync.Map

// relative resolves the tuple of bpf_mprog_tuple_relative: the program
// (and link) Relative names, or none. An id naming a program or link
// that does not exist at all is ENOENT (bpf_prog_by_id,
// bpf_link_by_id); one that exists but is not in this list resolves to
// a tuple that matches no entry.
func (l *List) relative(op string, es []entry, opts *AttachOptions) (prog Program, link *Link, ok bool, err error) {
	isLink, isID := opts.Flags&FlagLink != 0, opts.Flags&FlagID != 0
	if isLink {
		if !isID && opts.Relative == 0 {
			return nil, nil, false, errno(op, syscall.EINVAL, "FlagLink without a link")
		}
		v, found := links.Load(opts.Relative)
		if !found || opts.Relative == 0 {
			return nil, nil, false, errno(op, syscall.ENOENT, "no link %d", opts.Relative)
		}
		k := v.(*Link)
		for _, e := range es {
			if e.link == k {
				return e.prog, k, true, nil
			}
		}
		return &unknownProg{}, k, true, nil
	}
	if !isID && opts.Relative == 0 {
		return nil, nil, false, nil
	}
	for _, e := range es {
		if e.prog.ID() == opts.Relative && opts.Relative != 0 {
			return e.prog, nil, true, nil
		}
	}
	if opts.Relative == 0 || (l.Known != nil && !l.Known(opts.Relative)) {
		return nil, nil, false, errno(op, syscall.ENOENT, "no program %d", opts.Relative)
	}
	return &unknownProg{opts.Relative}, nil, true, nil
}

func posExact(op string, es []entry, prog Program, link *Link) (int, error) {
	for i, e := range es {
		if e.prog == prog {
			if e.link != link {
				return 0, errno(op, syscall.EBUSY, "program %d is attached through a link", prog.ID())
			}
			return i, nil
		}
	}
	return 0, errno(op, syscall.ENOENT, "program not in the list")
}

func posBefore(es []entry, prog Program, link *Link, ok bool) int {
	for i, e := range es {
		if ok && e.prog == prog && (link == nil || link == e.link) {
			return i - 1
		}
	}
	if ok {
		return -int(syscall.ENOENT)
	}
	return -1
}

func posAfter(es []entry, prog Program, link *Link, ok bool) int {
	for i, e := range es {
		if ok && e.prog == prog && (link == nil || link == e.link) {
			return i + 1
		}
	}
	if ok {
		return -int(syscall.ENOENT)
	}
	return len(es)
}

const eRange = -int(syscall.ERANGE)

// position is the shared placement logic of bpf_mprog_attach and
// bpf_mprog_detach: idx starts at the exact position (or eRange) and
// each of FlagBefore and FlagAfter must agree with it.
func position(op string, es []entry, idx int, flags uint32, rprog Program, rlink *Link, rok bool) (int, uint32, error) {
	if flags&FlagBefore != 0 {
		t := posBefore(es, rprog, rlink, rok)
		if t < -1 || (idx >= -1 && t != idx) {
			if t < -1 {
				return 0, 0, errno(op, syscall.Errno(-t), "before: relative not in the list")
			}
			return 0, 0, errno(op, syscall.ERANGE, "before: position %d disagrees with %d", t, idx)
		}
		idx = t
	}
	if flags&FlagAfter != 0 {
		t := posAfter(es, rprog, rlink, rok)
		if t < -1 || (idx >= -1 && t != idx) {
			if t < 0 {
				return 0, 0, errno(op, syscall.Errno(-t), "after: relative not in the list")
			}
			return 0, 0, errno(op, syscall.ERANGE, "after: position %d disagrees with %d", t, idx)
		}
		idx = t
	}
	if idx < -1 {
		if rok || flags != 0 {
			return 0, 0, errno(op, syscall.EINVAL, "flags %#x name no position", flags)
		}
		idx = len(es)
		flags = FlagAfter
	}
	if idx >= MaxPrograms {
		return 0, 0, errno(op, syscall.ERANGE, "position %d beyond %d programs", idx, MaxPrograms)
	}
	return idx, flags, nil
}

// Attach attaches prog as bpf(BPF_PROG_ATTACH) with attach type
// BPF_TCX_INGRESS or BPF_TCX_EGRESS does (tcx_prog_attach and
// bpf_mprog_attach in kernel/bpf/tcx.c and mprog.c).
func (l *List) Attach(prog Program, opts AttachOptions) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attach("attach", prog, nil, opts)
}

// AttachLink attaches prog through a new link, as bpf(BPF_LINK_CREATE)
// with a tcx attach type does; opts.Replace is ignored, and FlagReplace
// fails with ENOENT as the kernel's does.
func (l *List) AttachLink(prog Program, opts AttachOptions) (*Link, error) {
	// A link replaces through Update; FlagReplace here names no old
	// program, which bpf_mprog_attach then fails to find (ENOENT).
	opts.Replace = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	k := &Link{list: l, prog: prog}
	if err := l.attach("attach link", prog, k, opts); err != nil {
		return nil, err
	}
	k.id = nextLinkID.Add(1)
	links.Store(k.id, k)
	return k, nil
}

func (l *List) attach(op string, prog Program, link *Link, opts AttachOptions) error {
	if prog == nil {
		return errno(op, syscall.EBADF, "no program")
	}
	if opts.Flags&^flagsMask != 0 {
		return errno(op, syscall.EINVAL, "flags %#x", opts.Flags)
	}
	es := l.snapshot()
	rev := l.revision
	if rev == 0 {
		rev = 1 // tcx_entry_fetch_or_create
	}
	if opts.Flags&FlagReplace != 0 && opts.Replace == nil && link == nil {
		// tcx_prog_attach's bpf_prog_get_type of replace_bpf_fd.
		return errno(op, syscall.EBADF, "FlagReplace without a program to replace")
	}
	if opts.ExpectedRevision != 0 && opts.ExpectedRevision != rev {
		return errno(op, syscall.ESTALE, "revision %d, expected %d", rev, opts.ExpectedRevision)
	}
	for _, e := range es {
		if e.prog == prog {
			return errno(op, syscall.EEXIST, "program %d is already attached", prog.ID())
		}
	}
	rprog, rlink, rok, err := l.relative(op, es, &opts)
	if err != nil {
		return err
	}
	idx := eRange
	if opts.Flags&FlagReplace != 0 {
		if opts.Replace == nil {
			return errno(op, syscall.ENOENT, "nothing to replace")
		}
		t, err := posExact(op, es, opts.Replace, link)
		if err != nil {
			return err
		}
		idx = t
	} else if len(es) == MaxPrograms {
		return errno(op, syscall.ERANGE, "%d programs attached", len(es))
	}
	idx, flags, err := position(op, es, idx, opts.Flags, rprog, rlink, rok)
	if err != nil {
		return err
	}
	next := make([]entry, 0, len(es)+1)
	switch {
	case flags&FlagReplace != 0:
		next = append(next, es...)
		next[idx] = entry{prog, link}
	default:
		if idx != len(es) && flags&FlagBefore != 0 {
			idx++
		}
		next = append(next, es[:idx]...)
		next = append(next, entry{prog, link})
		next = append(next, es[idx:]...)
	}
	l.entries.Store(&next)
	l.revision = rev + 1
	return nil
}

// Detach detaches as bpf(BPF_PROG_DETACH) does: prog, when not nil, must
// be attached (not through a link: EBUSY); FlagBefore and FlagAfter with
// Relative pick the program by position, and must agree with prog.
func (l *List) Detach(prog Program, opts AttachOptions) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.detach("detach", prog, nil, opts)
}

func (l *List) detach(op string, prog Program, link *Link, opts AttachOptions) error {
	if opts.Flags&^flagsMask != 0 {
		return errno(op, syscall.EINVAL, "flags %#x", opts.Flags)
	}
	if l.revision == 0 {
		return errno(op, syscall.ENOENT, "nothing attached")
	}
	if opts.Flags&FlagReplace != 0 {
		return errno(op, syscall.EINVAL, "FlagReplace on detach")
	}
	es := l.snapshot()
	if opts.ExpectedRevision != 0 && opts.ExpectedRevision != l.revision {
		return errno(op, syscall.ESTALE, "revision %d, expected %d", l.revision, opts.ExpectedRevision)
	}
	rprog, rlink, rok, err := l.relative(op, es, &opts)
	if err != nil {
		return err
	}
	idx := eRange
	if prog != nil {
		t, err := posExact(op, es, prog, link)
		if err != nil {
			return err
		}
		idx = t
	}
	idx, _, err = position(op, es, idx, opts.Flags, rprog, rlink, rok)
	if err != nil {
		return err
	}
	// bpf_mprog_fetch
	switch idx {
	case -1:
		idx = 0
	case len(es):
		idx = len(es) - 1
	}
	if es[idx].link != nil && link == nil {
		return errno(op, syscall.EBUSY, "program %d is attached through a link", es[idx].prog.ID())
	}
	next := make([]entry, 0, len(es)-1)
	next = append(next, es[:idx]...)
	next = append(next, es[idx+1:]...)
	if len(next) == 0 {
		l.entries.Store(nil)
		l.revision = 0 // the entry is freed
		return nil
	}
	l.entries.Store(&next)
	l.revision++
	return nil
}

// Detach detaches the link's program (tcx_link_release). Detaching a
// detached link does nothing.
func (k *Link) Detach() error {
	l := k.list
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.prog == nil {
		return nil
	}
	if err := l.detach("detach link", k.prog, k, AttachOptions{}); err != nil {
		return err
	}
	k.prog = nil
	return nil
}

// Update replaces the link's program with prog (tcx_link_update): old,
// when not nil, must be the current program (EPERM otherwise); a
// detached link fails with ENOLINK.
func (k *Link) Update(prog, old Program) error {
	l := k.list
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.prog == nil {
		return errno("update link", syscall.ENOLINK, "link %d is detached", k.id)
	}
	if old != nil && old != k.prog {
		return errno("update link", syscall.EPERM, "link %d does not hold program %d", k.id, old.ID())
	}
	if prog == k.prog {
		return nil
	}
	if err := l.attach("update link", prog, k, AttachOptions{Flags: FlagReplace | FlagID, Relative: k.prog.ID(), Replace: k.prog}); err != nil {
		return err
	}
	k.prog = prog
	return nil
}

// Attached is one program of a Query: its id and, when attached through
// a link, the link's id.
type Attached struct {
	ProgramID uint32
	LinkID    uint32
}

// QueryResult is what bpf(BPF_PROG_QUERY) returns for a tcx list.
type QueryResult struct {
	// Revision is the list's revision: 1 for a new list, one more after
	// each change.
	Revision uint64
	// Programs are the attached programs in run order.
	Programs []Attached
}

// Query returns the attached programs and the revision
// (tcx_prog_query and bpf_mprog_query). With nothing attached the
// revision is 1 and there are no programs, as Linux 6.18 answers for a
// device without a tcx entry. The error is always nil; it is kept for
// the devices of a future device table, which fail with ENODEV.
func (l *List) Query() (QueryResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.revision == 0 {
		return QueryResult{Revision: 1, Programs: []Attached{}}, nil
	}
	es := l.snapshot()
	r := QueryResult{Revision: l.revision, Programs: make([]Attached, len(es))}
	for i, e := range es {
		r.Programs[i].ProgramID = e.prog.ID()
		if e.link != nil {
			r.Programs[i].LinkID = e.link.id
		}
	}
	return r, nil
}

// Len is the number of attached programs.
func (l *List) Len() int { return len(l.snapshot()) }
