package maps

import (
	"sync"
	"syscall"
)

// queueMap is BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK
// (kernel/bpf/queue_stack_maps.c): a ring of max_entries + 1 value slots
// with a head (next push) and a tail (oldest element), under a lock as in
// the kernel. Programs push, pop and peek copies; nothing hands out value
// memory.
type queueMap struct {
	info  Info
	stack bool
	vs    int
	size  uint32 // max_entries + 1
	*access

	mu         sync.Mutex
	head, tail uint32
	elems      []byte
}

const queueCreateFlags = BPF_F_NUMA_NODE | bpfFAccessMask

func newQueue(info Info, opts Options) (Map, error) {
	s := &info.Spec
	switch {
	case s.MaxEntries == 0 || s.KeySize != 0 || s.ValueSize == 0 ||
		s.Flags&^queueCreateFlags != 0 || !accessOK(s.Flags):
		return nil, errf("create", syscall.EINVAL,
			"queue and stack maps need key_size 0, value_size > 0, max_entries > 0 and flags within %#x", queueCreateFlags)
	case s.ValueSize > kmallocMaxSize:
		return nil, errf("create", syscall.E2BIG, "value_size %d above %d", s.ValueSize, kmallocMaxSize)
	}
	size := uint64(s.MaxEntries) + 1
	if err := checkMemory(size*uint64(s.ValueSize), opts); err != nil {
		return nil, err
	}
	return &queueMap{
		info:   info,
		stack:  s.Type == BPF_MAP_TYPE_STACK,
		vs:     int(s.ValueSize),
		size:   uint32(size),
		access: newAccess(s.Flags),
		elems:  make([]byte, size*uint64(s.ValueSize)),
	}, nil
}

func (q *queueMap) Info() *Info { return &q.info }

func (q *queueMap) empty() bool { return q.head == q.tail }

func (q *queueMap) full() bool {
	h := q.head + 1
	if h >= q.size {
		h = 0
	}
	return h == q.tail
}

// Push is bpf_map_push_elem (and BPF_MAP_UPDATE_ELEM): BPF_EXIST makes
// room in a full map by dropping the oldest element.
func (q *queueMap) Push(value []byte, flags uint64) syscall.Errno {
	if flags&BPF_NOEXIST != 0 || flags > BPF_EXIST {
		return syscall.EINVAL
	}
	if len(value) != q.vs {
		return syscall.EINVAL
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.full() {
		if flags&BPF_EXIST == 0 {
			return syscall.E2BIG
		}
		q.tail++
		if q.tail >= q.size {
			q.tail = 0
		}
	}
	copy(q.elems[int(q.head)*q.vs:], value)
	q.head++
	if q.head >= q.size {
		q.head = 0
	}
	return 0
}

// get is __queue_map_get and __stack_map_get: an empty map zeroes value
// and fails with ENOENT.
func (q *queueMap) get(value []byte, del bool) syscall.Errno {
	if len(value) != q.vs {
		return syscall.EINVAL
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.empty() {
		clear(value)
		return syscall.ENOENT
	}
	if q.stack {
		i := q.head - 1
		if i >= q.size {
			i = q.size - 1
		}
		copy(value, q.elems[int(i)*q.vs:])
		if del {
			q.head = i
		}
		return 0
	}
	copy(value, q.elems[int(q.tail)*q.vs:])
	if del {
		q.tail++
		if q.tail >= q.size {
			q.tail = 0
		}
	}
	return 0
}

// Pop is bpf_map_pop_elem: FIFO for a queue, LIFO for a stack.
func (q *queueMap) Pop(value []byte) syscall.Errno { return q.get(value, true) }

// Peek is bpf_map_peek_elem.
func (q *queueMap) Peek(value []byte) syscall.Errno { return q.get(value, false) }

// Lookup returns nil: programs use peek and pop.
func (q *queueMap) Lookup(key []byte, slot uint32) []byte { return nil }

// Update is queue_stack_map_update_elem: EINVAL (programs push).
func (q *queueMap) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	return syscall.EINVAL
}

// Delete is queue_stack_map_delete_elem: EINVAL.
func (q *queueMap) Delete(key []byte) syscall.Errno { return syscall.EINVAL }

func (q *queueMap) SysValueSize() int { return q.vs }

func (q *queueMap) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(q.access, flags); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL // __bpf_copy_key: a key for key_size 0
	}
	return q.Peek(value)
}

func (q *queueMap) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(q.access, flags); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL
	}
	return q.Push(value, flags)
}

func (q *queueMap) SysDelete(key []byte) syscall.Errno {
	if !q.access.canWrite() {
		return syscall.EPERM
	}
	return syscall.EINVAL
}

func (q *queueMap) SysNextKey(key, next []byte) syscall.Errno {
	if !q.access.canRead() {
		return syscall.EPERM
	}
	return syscall.EINVAL
}

func (q *queueMap) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(q.access, flags, true); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL
	}
	return q.Pop(value)
}

// Len returns the number of elements.
func (q *queueMap) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int((q.head + q.size - q.tail) % q.size)
}
