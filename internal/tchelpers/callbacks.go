package tchelpers

import (
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
)

// Helpers that call back into the program (kernel/bpf/bpf_iter.c
// bpf_loop, kernel/bpf/helpers.c and the maps' map_for_each_callback).

// bpfMaxLoops is BPF_MAX_LOOPS.
const bpfMaxLoops = 8 * 1024 * 1024

// bpfLoop is bpf_loop(nr_loops, callback, ctx, flags): the callback gets
// the index and ctx; a non-zero result stops the loop. The result is the
// number of calls made.
func bpfLoop(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	n, fn, ctx, flags := uint32(a[0]), a[1], a[2], a[3]
	if flags != 0 {
		return neg(syscall.EINVAL), nil
	}
	if n > bpfMaxLoops {
		return neg(syscall.E2BIG), nil
	}
	for i := uint32(0); i < n; i++ {
		r, err := m.CallFunc(fn, uint64(i), ctx, 0, 0, 0)
		if err != nil {
			return 0, err
		}
		if r != 0 {
			return uint64(i) + 1, nil
		}
	}
	return uint64(n), nil
}

// forEachMapElem is bpf_for_each_map_elem(map, callback, ctx, flags): the
// callback gets the map, a read-only pointer to a copy of the key, a
// pointer to the value (this slot's, for per-CPU maps) and ctx; a
// non-zero result stops the walk. The result is the number of elements
// visited.
func (e *Env) forEachMapElem(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[0])
	if err != nil {
		return 0, err
	}
	fe, ok := mp.(maps.ForEacher)
	if !ok || objectMap(mp) {
		return 0, fmt.Errorf("%w: %s for_each", errMapOp, mp.Info().Spec.Type)
	}
	if a[3] != 0 {
		return neg(syscall.EINVAL), nil
	}
	s := e.slot(m)
	ks := int(mp.Info().Spec.KeySize)
	if cap(s.key) < ks {
		s.key = atomicmem.Alloc(ks)
	}
	key := s.key[:ks]
	ro := mp.Info().Spec.Flags&maps.BPF_F_RDONLY_PROG != 0
	var cbErr error
	n := fe.ForEach(slotOf(m), func(k, v []byte) bool {
		mark := m.DynamicMark()
		defer m.ReleaseDynamic(mark)
		atomicmem.CopyIn(key, 0, k)
		kp, err := m.MapValue(key, true)
		if err != nil {
			cbErr = err
			return true
		}
		vp, err := m.MapValue(v, ro)
		if err != nil {
			cbErr = err
			return true
		}
		r, err := m.CallFunc(a[1], a[0], kp, vp, a[2], 0)
		if err != nil {
			cbErr = err
			return true
		}
		return r != 0
	})
	if cbErr != nil {
		return 0, cbErr
	}
	return uint64(n), nil
}
