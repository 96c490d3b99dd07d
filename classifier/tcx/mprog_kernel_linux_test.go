//go:build linux

package tcx_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcx"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// fakeProg is a library-side program standing for a kernel program of
// the same id.
type fakeProg struct {
	id  uint32
	ret uint32
	run func(pkt *packet.Packet)
}

func (p *fakeProg) Run(pkt *packet.Packet) uint32 {
	if p.run != nil {
		p.run(pkt)
	}
	return p.ret
}

func (p *fakeProg) ID() uint32 { return p.id }

func bpfCall(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, syscall.Errno) {
	r, _, e := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	return int(r), e
}

// attachAttr is union bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH.
type attachAttr struct {
	target, progFD, attachType, flags, replaceFD, relative uint32
	expectedRevision                                       uint64
}

// linkAttr is union bpf_attr for BPF_LINK_CREATE with tcx.
type linkAttr struct {
	progFD, target, attachType, flags, relative, _ uint32
	expectedRevision                               uint64
}

// queryAttr is union bpf_attr for BPF_PROG_QUERY.
type queryAttr struct {
	target, attachType, queryFlags, attachFlags uint32
	progIDs                                     uint64
	count, _                                    uint32
	progAttachFlags, linkIDs, linkAttachFlags   uint64
	revision                                    uint64
}

// kernelSide drives the kernel's tcx on one device and direction of a
// private network namespace: every call runs on a thread inside it, as
// tcx resolves the ifindex in the caller's namespace.
type kernelSide struct {
	ns      *kerneltest.NetNS
	ifindex uint32
	typ     uint32
}

// in runs call inside the namespace.
func (k *kernelSide) in(call func() syscall.Errno) syscall.Errno {
	var e syscall.Errno
	if err := k.ns.Do(func() error { e = call(); return nil }); err != nil {
		return syscall.Errno(0xfffe)
	}
	return e
}

func (k *kernelSide) attach(progFD int, flags, replaceFD, relative uint32, rev uint64) syscall.Errno {
	a := attachAttr{target: k.ifindex, progFD: uint32(progFD), attachType: k.typ, flags: flags, replaceFD: replaceFD, relative: relative, expectedRevision: rev}
	return k.in(func() syscall.Errno {
		_, e := bpfCall(unix.BPF_PROG_ATTACH, unsafe.Pointer(&a), unsafe.Sizeof(a))
		return e
	})
}

func (k *kernelSide) detach(progFD int, flags, relative uint32, rev uint64) syscall.Errno {
	a := attachAttr{target: k.ifindex, progFD: uint32(progFD), attachType: k.typ, flags: flags, relative: relative, expectedRevision: rev}
	return k.in(func() syscall.Errno {
		_, e := bpfCall(unix.BPF_PROG_DETACH, unsafe.Pointer(&a), unsafe.Sizeof(a))
		return e
	})
}

func (k *kernelSide) link(progFD int, flags, relative uint32, rev uint64) (int, syscall.Errno) {
	a := linkAttr{progFD: uint32(progFD), target: k.ifindex, attachType: k.typ, flags: flags, relative: relative, expectedRevision: rev}
	var fd int
	e := k.in(func() syscall.Errno {
		var e syscall.Errno
		fd, e = bpfCall(unix.BPF_LINK_CREATE, unsafe.Pointer(&a), unsafe.Sizeof(a))
		return e
	})
	return fd, e
}

func linkDetach(fd int) syscall.Errno {
	a := [4]uint32{uint32(fd)}
	_, e := bpfCall(unix.BPF_LINK_DETACH, unsafe.Pointer(&a), unsafe.Sizeof(a))
	return e
}

func (k *kernelSide) query() (tcx.QueryResult, syscall.Errno) {
	var progs, links [64]uint32
	a := queryAttr{target: k.ifindex, attachType: k.typ, progIDs: uint64(uintptr(unsafe.Pointer(&progs[0]))), count: 64,
		linkIDs: uint64(uintptr(unsafe.Pointer(&links[0])))}
	e := k.in(func() syscall.Errno {
		_, e := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&a), unsafe.Sizeof(a))
		return e
	})
	runtime.KeepAlive(&progs)
	runtime.KeepAlive(&links)
	if e != 0 {
		return tcx.QueryResult{}, e
	}
	r := tcx.QueryResult{Revision: a.revision, Programs: make([]tcx.Attached, a.count)}
	for i := range r.Programs {
		r.Programs[i] = tcx.Attached{ProgramID: progs[i], LinkID: links[i]}
	}
	return r, 0
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if !asErrno(err, &e) {
		return syscall.Errno(0xffff)
	}
	return e
}

func asErrno(err error, e *syscall.Errno) bool {
	for err != nil {
		if x, ok := err.(syscall.Errno); ok {
			*e = x
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// loadKernelProgs loads n distinct SCHED_CLS programs returning -1
// (TCX_NEXT) after writing their index into cb[0].
func loadKernelProgs(t *testing.T, n int) []*cebpf.Program {
	progs := make([]*cebpf.Program, n)
	for i := range progs {
		p, err := cebpf.NewProgram(&cebpf.ProgramSpec{
			Name: fmt.Sprintf("tcx%d", i), Type: cebpf.SchedCLS, License: "GPL",
			Instructions: asm.Instructions{
				asm.Mov.Imm(asm.R0, int32(i)),              // r0 = i
				asm.StoreMem(asm.R1, 48, asm.R0, asm.Word), // skb->cb[0] = r0
				asm.Mov.Imm(asm.R0, -1),                    // r0 = TCX_NEXT
				asm.Return(),                               // exit
			},
		})
		require.NoError(t, err)
		t.Cleanup(func() { p.Close() })
		progs[i] = p
	}
	return progs
}

// TestMprogAgainstKernel drives generated attach, link, detach and
// query sequences through the kernel's tcx on a veth in a private
// network namespace and through a List, and requires the same errno for
// every call and the same query (program ids, link ids mapped back,
// revision, count) after each.
func TestMprogAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ifindex := uint32(ns.Ifindex(t, "veth0"))
	const nprogs = 6
	kprogs := loadKernelProgs(t, nprogs)
	lprogs := make([]*fakeProg, nprogs)
	for i, p := range kprogs {
		info, err := p.Info()
		require.NoError(t, err)
		id, ok := info.ID()
		require.True(t, ok)
		lprogs[i] = &fakeProg{id: uint32(id)}
	}

	seqs, ops := 520, 10
	if testing.Short() {
		seqs = 150
	}
	r := rand.New(rand.NewPCG(11, 23))
	errnos := map[syscall.Errno]int{}
	for s := range seqs {
		typ := uint32(unix.BPF_TCX_INGRESS + s%2)
		ks := &kernelSide{ns: ns, ifindex: ifindex, typ: typ}
		list := tcx.List{Known: func(id uint32) bool {
			for _, p := range lprogs {
				if p.id == id {
					return true
				}
			}
			return false
		}}
		type linkPair struct {
			fd  int
			kid uint32
			l   *tcx.Link
		}
		var links []linkPair
		var trace []string
		for op := range ops {
			// The revision to expect: 0 (none), the current one or a stale one.
			var rev uint64
			if q, err := list.Query(); err == nil || r.IntN(3) == 0 {
				switch r.IntN(4) {
				case 0:
					rev = q.Revision
				case 1:
					rev = q.Revision + uint64(r.IntN(3)) - 1
				}
				if err != nil {
					rev = uint64(r.IntN(3))
				}
			}
			flags := uint32(0)
			for _, f := range []uint32{tcx.FlagBefore, tcx.FlagAfter, tcx.FlagID, tcx.FlagLink} {
				if r.IntN(4) == 0 {
					flags |= f
				}
			}
			// The relative: none, a program or a link.
			var krel, lrel uint32
			relDesc := "none"
			switch r.IntN(4) {
			case 0:
				if flags&tcx.FlagLink == 0 {
					i := r.IntN(nprogs)
					lrel, relDesc = lprogs[i].id, fmt.Sprintf("prog%d", i)
					if flags&tcx.FlagID != 0 {
						krel = lrel
					} else {
						krel = uint32(kprogs[i].FD())
					}
				}
			case 1:
				if flags&tcx.FlagLink != 0 && len(links) > 0 {
					k := links[r.IntN(len(links))]
					relDesc = fmt.Sprintf("link%d", k.kid)
					if k.l != nil {
						lrel = k.l.ID()
					} else {
						lrel = 1 << 30 // a link the library never made
					}
					if flags&tcx.FlagID != 0 {
						krel = k.kid
					} else {
						krel = uint32(k.fd)
					}
				}
			case 2:
				if flags&tcx.FlagID != 0 {
					krel, lrel, relDesc = 1<<30, 1<<30, "bogus"
				}
			}
			if lrel == 0 && krel != 0 {
				krel = 0
			}
			if flags&tcx.FlagLink != 0 && flags&tcx.FlagID == 0 && lrel == 0 {
				// FlagLink with fd 0 would name stdin; the library has no fds.
				flags &^= tcx.FlagLink
			}
			pi := r.IntN(nprogs)
			var desc string
			var kerr, lerr syscall.Errno
			switch kind := r.IntN(10); {
			case kind < 4: // prog attach
				ri := r.IntN(nprogs)
				replace := uint32(0)
				var lreplace tcx.Program
				if r.IntN(4) == 0 {
					flags |= tcx.FlagReplace
					replace, lreplace = uint32(kprogs[ri].FD()), lprogs[ri]
				}
				desc = fmt.Sprintf("attach prog%d flags %#x rel %s replace prog%d rev %d", pi, flags, relDesc, ri, rev)
				kerr = ks.attach(kprogs[pi].FD(), flags, replace, krel, rev)
				lerr = errnoOf(list.Attach(lprogs[pi], tcx.AttachOptions{Flags: flags, Relative: lrel, Replace: lreplace, ExpectedRevision: rev}))
			case kind < 7: // link create
				if r.IntN(12) == 0 {
					flags |= tcx.FlagReplace
				}
				desc = fmt.Sprintf("link prog%d flags %#x rel %s rev %d", pi, flags, relDesc, rev)
				fd, e := ks.link(kprogs[pi].FD(), flags, krel, rev)
				kerr = e
				l, err := list.AttachLink(lprogs[pi], tcx.AttachOptions{Flags: flags, Relative: lrel, ExpectedRevision: rev})
				lerr = errnoOf(err)
				if e == 0 {
					var info [16]uint32
					ia := struct {
						fd, len uint32
						info    uint64
					}{uint32(fd), 64, uint64(uintptr(unsafe.Pointer(&info[0])))}
					_, ie := bpfCall(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&ia), unsafe.Sizeof(ia))
					require.Zero(t, ie)
					links = append(links, linkPair{fd: fd, kid: info[1], l: l})
					t.Cleanup(func() { unix.Close(fd) })
				}
			case kind < 9: // prog detach
				kfd := 0
				var lp tcx.Program
				if r.IntN(3) != 0 {
					kfd, lp = kprogs[pi].FD(), lprogs[pi]
				} else {
					pi = -1
				}
				flags &^= tcx.FlagReplace
				if r.IntN(10) == 0 {
					flags |= tcx.FlagReplace
				}
				desc = fmt.Sprintf("detach prog%d flags %#x rel %s rev %d", pi, flags, relDesc, rev)
				kerr = ks.detach(kfd, flags, krel, rev)
				lerr = errnoOf(list.Detach(lp, tcx.AttachOptions{Flags: flags, Relative: lrel, ExpectedRevision: rev}))
			default: // link detach
				if len(links) == 0 {
					continue
				}
				k := links[r.IntN(len(links))]
				desc = fmt.Sprintf("detach link%d", k.kid)
				kerr = linkDetach(k.fd)
				if k.l != nil {
					lerr = errnoOf(k.l.Detach())
				}
			}
			trace = append(trace, fmt.Sprintf("%s: kernel %v library %v", desc, kerr, lerr))
			errnos[kerr]++
			require.Equal(t, kerr, lerr, "sequence %d op %d:\n%v", s, op, trace)
			kq, ke := ks.query()
			lq, le := list.Query()
			require.Equal(t, ke, errnoOf(le), "sequence %d op %d query:\n%v", s, op, trace)
			// Map kernel link ids to the library's.
			for i, a := range kq.Programs {
				if a.LinkID == 0 {
					continue
				}
				for _, k := range links {
					if k.kid == a.LinkID && k.l != nil {
						kq.Programs[i].LinkID = k.l.ID()
					}
				}
			}
			require.Equal(t, kq, lq, "sequence %d op %d query:\n%v", s, op, trace)
		}
		// Empty the kernel's list for the next sequence.
		for _, k := range links {
			linkDetach(k.fd)
		}
		for ks.detach(0, tcx.FlagBefore, 0, 0) == 0 {
		}
		q, e := ks.query()
		require.Zero(t, e)
		require.Equal(t, tcx.QueryResult{Revision: 1, Programs: []tcx.Attached{}}, q, "after sequence %d", s)
	}
	t.Logf("%d sequences of %d calls: errnos %v", seqs, ops, errnos)
}

// TestMprogFullAgainstKernel fills a list to MaxPrograms in the kernel
// and in a List and requires the same errno for one more program at
// every kind of position, and for a replace, which needs no new slot.
func TestMprogFullAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ks := &kernelSide{ns: ns, ifindex: uint32(ns.Ifindex(t, "veth0")), typ: unix.BPF_TCX_INGRESS}
	kprogs := loadKernelProgs(t, tcx.MaxPrograms+3)
	lprogs := make([]*fakeProg, len(kprogs))
	for i, p := range kprogs {
		info, err := p.Info()
		require.NoError(t, err)
		id, _ := info.ID()
		lprogs[i] = &fakeProg{id: uint32(id)}
	}
	var list tcx.List
	for i := range tcx.MaxPrograms {
		require.Zero(t, ks.attach(kprogs[i].FD(), 0, 0, 0, 0))
		require.NoError(t, list.Attach(lprogs[i], tcx.AttachOptions{}))
	}
	extra := tcx.MaxPrograms
	for _, tc := range []struct {
		name      string
		flags     uint32
		rel       int // index of the relative program, -1 none
		replace   int
		wantErrno syscall.Errno
	}{
		{"last", 0, -1, -1, syscall.ERANGE},
		{"first", tcx.FlagBefore, -1, -1, syscall.ERANGE},
		{"after last", tcx.FlagAfter, -1, -1, syscall.ERANGE},
		{"before program 5", tcx.FlagBefore | tcx.FlagID, 5, -1, syscall.ERANGE},
		{"replace program 7", tcx.FlagReplace, -1, 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var krel, lrel uint32
			if tc.rel >= 0 {
				krel, lrel = lprogs[tc.rel].id, lprogs[tc.rel].id
			}
			var kreplace uint32
			var lreplace tcx.Program
			if tc.replace >= 0 {
				kreplace, lreplace = uint32(kprogs[tc.replace].FD()), lprogs[tc.replace]
			}
			kerr := ks.attach(kprogs[extra].FD(), tc.flags, kreplace, krel, 0)
			lerr := errnoOf(list.Attach(lprogs[extra], tcx.AttachOptions{Flags: tc.flags, Relative: lrel, Replace: lreplace}))
			require.Equal(t, tc.wantErrno, kerr)
			require.Equal(t, kerr, lerr)
			kq, _ := ks.query()
			lq, _ := list.Query()
			require.Equal(t, kq, lq)
		})
	}
}
