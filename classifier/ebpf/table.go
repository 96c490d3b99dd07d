package ebpf

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier"
)

// ProgramTable hands out descriptors for programs, the stand-in for the
// file descriptors TCA_BPF_FD carries: a classifier.Chain configured with
// it resolves a netlink request's descriptor to the program, as
// bpf_prog_get_type_dev(fd, BPF_PROG_TYPE_SCHED_CLS) does for cls_bpf. The
// zero value is empty and ready; safe for concurrent use.
type ProgramTable struct {
	mu    sync.RWMutex
	progs map[uint32]*Program
}

// Add registers p and returns its descriptor (the lowest unused value
// from 3 up, as open(2) would after stdin, stdout and stderr).
func (t *ProgramTable) Add(p *Program) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progs == nil {
		t.progs = map[uint32]*Program{}
	}
	fd := uint32(3)
	for t.progs[fd] != nil {
		fd++
	}
	t.progs[fd] = p
	return fd
}

// Remove forgets descriptor fd (close(2)); filters that run the program
// keep it. An unknown descriptor is EBADF.
func (t *ProgramTable) Remove(fd uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progs[fd] == nil {
		return fmt.Errorf("ebpf: program descriptor %d: %w", fd, syscall.EBADF)
	}
	delete(t.progs, fd)
	return nil
}

// Program resolves fd for cls_bpf: an unknown descriptor is EBADF and a
// program that is not SchedCLS is EINVAL, as bpf_prog_get_type_dev
// answers.
func (t *ProgramTable) Program(fd uint32, skipSW bool) (classifier.ExtendedProgram, error) {
	t.mu.RLock()
	p := t.progs[fd]
	t.mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("ebpf: program descriptor %d: %w", fd, syscall.EBADF)
	}
	if p.typ != SchedCLS {
		return nil, fmt.Errorf("ebpf: program descriptor %d: %v is not a SchedCLS program: %w", fd, p, syscall.EINVAL)
	}
	return p, nil
}

var _ classifier.ExtendedProgram = (*Program)(nil)
