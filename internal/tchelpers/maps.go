package tchelpers

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
)

// The map helpers (kernel/bpf/helpers.c). A map reaches a helper as the
// object the Linker returned for the program's LD_IMM64 (BPF_PSEUDO_MAP_FD
// or BPF_PSEUDO_MAP_IDX): it must be a maps.Map. Keys and values are
// copied out of program memory into the machine's scratch memory before
// the map sees them, so a key that lies in another map's value is read
// atomically; a lookup returns a pointer to the value memory itself,
// through ebpfvm.Machine.MapValue.

var (
	errNotMap    = errors.New("tchelpers: map argument is not a map")
	errBadMemArg = errors.New("tchelpers: memory argument outside the program's regions")
	errMapOp     = errors.New("tchelpers: operation not supported by this map type from programs")
)

// mapArg returns the map behind handle h.
func mapArg(m *ebpfvm.Machine, h uint64) (maps.Map, error) {
	obj, ok := m.Object(h)
	if !ok {
		return nil, errNotMap
	}
	mp, ok := obj.(maps.Map)
	if !ok {
		return nil, errNotMap
	}
	return mp, nil
}

// readArg copies n bytes of program memory at addr into scratch buffer i.
func readArg(m *ebpfvm.Machine, i int, addr uint64, n uint32) ([]byte, error) {
	// Check the region before taking scratch memory, so that a wild size
	// allocates nothing.
	if _, ok := m.Mem(addr, int(n), false); !ok {
		return nil, fmt.Errorf("%w: %d bytes at %#x", errBadMemArg, n, addr)
	}
	b := m.Scratch(i, int(n))
	if !m.Read(b, addr) {
		return nil, fmt.Errorf("%w: %d bytes at %#x", errBadMemArg, n, addr)
	}
	return b, nil
}

// valuePtr returns the program's pointer to a value of mp.
func valuePtr(m *ebpfvm.Machine, mp maps.Map, val []byte) (uint64, error) {
	if val == nil {
		return 0, nil
	}
	return m.MapValue(val, mp.Info().Spec.Flags&maps.BPF_F_RDONLY_PROG != 0)
}

// objectMap reports maps that hold objects (programs, maps, perf
// buffers), which these helpers do not serve.
func objectMap(mp maps.Map) bool {
	switch mp.Info().Spec.Type {
	case maps.BPF_MAP_TYPE_PROG_ARRAY, maps.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
		maps.BPF_MAP_TYPE_ARRAY_OF_MAPS, maps.BPF_MAP_TYPE_HASH_OF_MAPS:
		return true
	}
	return false
}

// mapLookup is bpf_map_lookup_elem(map, key): the value pointer or NULL.
func mapLookup(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[0])
	if err != nil {
		return 0, err
	}
	t := mp.Info().Spec.Type
	if objectMap(mp) && t != maps.BPF_MAP_TYPE_ARRAY_OF_MAPS && t != maps.BPF_MAP_TYPE_HASH_OF_MAPS {
		return 0, fmt.Errorf("%w: %s lookup", errMapOp, t)
	}
	key, err := readArg(m, 0, a[1], mp.Info().Spec.KeySize)
	if err != nil {
		return 0, err
	}
	if objectMap(mp) {
		// A map-in-map lookup yields the inner map, as a handle the
		// program passes to the next helper.
		om, ok := mp.(maps.ObjectMap)
		if !ok {
			return 0, fmt.Errorf("%w: %s lookup", errMapOp, t)
		}
		inner := om.LookupObject(key)
		if inner == nil {
			return 0, nil
		}
		return m.MapHandle(inner)
	}
	return valuePtr(m, mp, mp.Lookup(key, slotOf(m)))
}

// mapLookupPercpu is bpf_map_lookup_percpu_elem(map, key, cpu): the value
// of another slot, NULL for a slot beyond the map's.
func mapLookupPercpu(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[0])
	if err != nil {
		return 0, err
	}
	pl, ok := mp.(maps.PercpuLookup)
	if !ok {
		return 0, fmt.Errorf("%w: %s percpu lookup", errMapOp, mp.Info().Spec.Type)
	}
	key, err := readArg(m, 0, a[1], mp.Info().Spec.KeySize)
	if err != nil {
		return 0, err
	}
	cpu := uint32(a[2])
	if int64(cpu) >= int64(mp.Info().Slots) {
		return 0, nil
	}
	return valuePtr(m, mp, pl.LookupSlot(key, cpu))
}

// mapUpdate is bpf_map_update_elem(map, key, value, flags).
func mapUpdate(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[0])
	if err != nil {
		return 0, err
	}
	if objectMap(mp) {
		return 0, fmt.Errorf("%w: %s update", errMapOp, mp.Info().Spec.Type)
	}
	s := &mp.Info().Spec
	key, err := readArg(m, 0, a[1], s.KeySize)
	if err != nil {
		return 0, err
	}
	val, err := readArg(m, 1, a[2], s.ValueSize)
	if err != nil {
		return 0, err
	}
	if e := mp.Update(key, val, a[3], slotOf(m)); e != 0 {
		return neg(e), nil
	}
	return 0, nil
}

// mapDelete is bpf_map_delete_elem(map, key).
func mapDelete(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[0])
	if err != nil {
		return 0, err
	}
	if objectMap(mp) {
		return 0, fmt.Errorf("%w: %s delete", errMapOp, mp.Info().Spec.Type)
	}
	key, err := readArg(m, 0, a[1], mp.Info().Spec.KeySize)
	if err != nil {
		return 0, err
	}
	if e := mp.Delete(key); e != 0 {
		return neg(e), nil
	}
	return 0, nil
}

// queueArg returns the queue or stack behind handle h.
func queueArg(m *ebpfvm.Machine, h uint64) (maps.QueueMap, error) {
	mp, err := mapArg(m, h)
	if err != nil {
		return nil, err
	}
	q, ok := mp.(maps.QueueMap)
	if !ok {
		return nil, fmt.Errorf("%w: %s push/pop/peek", errMapOp, mp.Info().Spec.Type)
	}
	return q, nil
}

// mapPush is bpf_map_push_elem(map, value, flags).
func mapPush(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	q, err := queueArg(m, a[0])
	if err != nil {
		return 0, err
	}
	val, err := readArg(m, 1, a[1], q.Info().Spec.ValueSize)
	if err != nil {
		return 0, err
	}
	if e := q.Push(val, a[2]); e != 0 {
		return neg(e), nil
	}
	return 0, nil
}

// popPeek is bpf_map_pop_elem and bpf_map_peek_elem(map, value): the
// element is written to value; a failure leaves value as it was.
func popPeek(m *ebpfvm.Machine, a *[5]uint64, pop bool) (uint64, error) {
	q, err := queueArg(m, a[0])
	if err != nil {
		return 0, err
	}
	n := q.Info().Spec.ValueSize
	if _, ok := m.Mem(a[1], int(n), true); !ok {
		return 0, fmt.Errorf("%w: %d bytes at %#x", errBadMemArg, n, a[1])
	}
	val := m.Scratch(1, int(n))
	var e syscall.Errno
	if pop {
		e = q.Pop(val)
	} else {
		e = q.Peek(val)
	}
	if e != 0 {
		return neg(e), nil
	}
	m.Write(a[1], val)
	return 0, nil
}

func mapPop(m *ebpfvm.Machine, a *[5]uint64) (uint64, error)  { return popPeek(m, a, true) }
func mapPeek(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) { return popPeek(m, a, false) }

// TailCallTarget is implemented by what a prog array holds when it is not
// the *ebpfvm.Program itself: the program object of the loader, which
// knows its VM program.
type TailCallTarget interface {
	VMProgram() *ebpfvm.Program
}

// tailCall is bpf_tail_call(ctx, prog_array, index): the program in the
// slot replaces the running one; an empty slot, an index beyond the
// array or the MAX_TAIL_CALL_CNT limit let the caller continue.
func tailCall(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mp, err := mapArg(m, a[1])
	if err != nil {
		return 0, err
	}
	pa, ok := mp.(maps.ProgArray)
	if !ok {
		return 0, fmt.Errorf("%w: %s tail call", errMapOp, mp.Info().Spec.Type)
	}
	var target *ebpfvm.Program
	switch o := pa.At(uint32(a[2])).(type) {
	case *ebpfvm.Program:
		target = o
	case TailCallTarget:
		target = o.VMProgram()
	}
	if target == nil {
		return 0, nil
	}
	if done, err := m.TailCall(target); done {
		return 0, err
	}
	return 0, nil
}
