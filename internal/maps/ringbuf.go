package maps

import (
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// Ring buffer record header bits and helper flags (include/uapi/linux/bpf.h).
const (
	BPF_RINGBUF_BUSY_BIT    = 1 << 31
	BPF_RINGBUF_DISCARD_BIT = 1 << 30
	BPF_RINGBUF_HDR_SZ      = 8

	BPF_RB_NO_WAKEUP    = 1 << 0
	BPF_RB_FORCE_WAKEUP = 1 << 1

	BPF_RB_AVAIL_DATA = 0
	BPF_RB_RING_SIZE  = 1
	BPF_RB_CONS_POS   = 2
	BPF_RB_PROD_POS   = 3

	// ringbufMaxRecordSize is RINGBUF_MAX_RECORD_SZ.
	ringbufMaxRecordSize = (1<<32 - 1) / 4
	// ringbufPgOff is RINGBUF_PGOFF + RINGBUF_POS_PAGES: the page offset of
	// the data area in struct bpf_ringbuf, which record headers count from.
	ringbufPgOff = 3
)

// RingBuf is BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a power-of-two
// data area shared by producers (programs, under a lock as in the kernel)
// and one consumer (a reader in Go), with the kernel's 64-bit consumer,
// producer and pending positions and its 8-byte record headers.
//
// The kernel maps the data pages twice in a row so that a record that
// wraps past the end is contiguous; here the data area is twice the ring
// size and a wrapping record is written into the second half, where the
// consumer reads it. Reserve copies the first pages' bytes there and
// Commit copies them back, so that even the bytes a program reserves but
// does not write are the kernel's (what earlier records left there).
// Positions, space accounting, headers and contents are the kernel's bit
// for bit.
type RingBuf struct {
	*access
	info Info
	mask uint64
	data []byte // atomicmem, 2 * ring size

	mu      sync.Mutex // producer lock (rb->spinlock)
	pending uint64     // under mu
	prod    atomic.Uint64
	cons    atomic.Uint64
	wake    chan struct{}
}

func newRingBuf(info Info, opts Options) (Map, error) {
	s := &info.Spec
	if s.Flags&^BPF_F_NUMA_NODE != 0 || s.KeySize != 0 || s.ValueSize != 0 ||
		s.MaxEntries == 0 || s.MaxEntries&(s.MaxEntries-1) != 0 || s.MaxEntries%PageSize != 0 {
		return nil, errf("create", syscall.EINVAL,
			"ring buffers need key_size 0, value_size 0, a power-of-two, page-aligned max_entries (%d) and no flags but BPF_F_NUMA_NODE", s.MaxEntries)
	}
	if err := checkMemory(2*uint64(s.MaxEntries), opts); err != nil {
		return nil, err
	}
	return &RingBuf{
		access: newAccess(s.Flags),
		info:   info,
		mask:   uint64(s.MaxEntries) - 1,
		data:   atomicmem.Alloc(2 * int(s.MaxEntries)),
		wake:   make(chan struct{}, 1),
	}, nil
}

// Info returns the map's spec, slot count and id.
func (r *RingBuf) Info() *Info { return &r.info }

// Size is the data area size (max_entries).
func (r *RingBuf) Size() uint64 { return r.mask + 1 }

// Reserve is bpf_ringbuf_reserve after its flags check: size writable
// bytes for a record, or nil when the record does not fit.
func (r *RingBuf) Reserve(size uint64) []byte {
	if size > ringbufMaxRecordSize {
		return nil
	}
	n := (size + BPF_RINGBUF_HDR_SZ + 7) &^ 7
	if n > r.mask+1 {
		return nil
	}
	cons := r.cons.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	pend, prod := r.pending, r.prod.Load()
	for pend < prod {
		l := atomicmem.Load32(r.data, int(pend&r.mask))
		if l&BPF_RINGBUF_BUSY_BIT != 0 {
			break
		}
		pend += (uint64(l&^BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) &^ 7
	}
	r.pending = pend
	np := prod + n
	if np-cons > r.mask || np-pend > r.mask {
		return nil
	}
	off := int(prod & r.mask)
	if wrap := off + int(n) - int(r.mask+1); wrap > 0 {
		// The second mapping of the first pages: the record sees the
		// bytes those pages hold, as in the kernel.
		atomicmem.Move(r.data, int(r.mask+1), r.data, 0, wrap)
	}
	atomicmem.Store32(r.data, off, uint32(size)|BPF_RINGBUF_BUSY_BIT)
	atomicmem.Store32(r.data, off+4, uint32(ringbufPgOff+off/PageSize))
	r.prod.Store(np)
	start := off + BPF_RINGBUF_HDR_SZ
	return r.data[start : start+int(size) : start+int(n)-BPF_RINGBUF_HDR_SZ]
}

// Commit is bpf_ringbuf_submit (discard false) and bpf_ringbuf_discard:
// it clears the busy bit of the record sample was reserved as (setting the
// discard bit to discard) and wakes the reader as flags and the consumer
// position say. It reports false when sample is not a reserved record of
// this ring.
func (r *RingBuf) Commit(sample []byte, flags uint64, discard bool) bool {
	if cap(sample) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sample)))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r.data)))
	if p < base+BPF_RINGBUF_HDR_SZ || p >= base+uintptr(len(r.data)) {
		return false
	}
	hdr := int(p-base) - BPF_RINGBUF_HDR_SZ
	if hdr&7 != 0 || uint64(hdr) > r.mask {
		return false
	}
	l := atomicmem.Load32(r.data, hdr)
	if l&BPF_RINGBUF_BUSY_BIT == 0 {
		return false
	}
	n := (int(l&^(BPF_RINGBUF_BUSY_BIT|BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ + 7) &^ 7
	if wrap := hdr + n - int(r.mask+1); wrap > 0 {
		// Write the wrapped part back to the first pages, which the
		// kernel's second mapping shares.
		atomicmem.Move(r.data, 0, r.data, int(r.mask+1), wrap)
	}
	for {
		l := atomicmem.Load32(r.data, hdr)
		if l&BPF_RINGBUF_BUSY_BIT == 0 {
			return false
		}
		nl := l ^ BPF_RINGBUF_BUSY_BIT
		if discard {
			nl |= BPF_RINGBUF_DISCARD_BIT
		}
		if old, _ := atomicmem.CmpXchg32(r.data, hdr, l, nl); old == l {
			break
		}
	}
	cons := r.cons.Load() & r.mask
	if flags&BPF_RB_FORCE_WAKEUP != 0 || cons == uint64(hdr) && flags&BPF_RB_NO_WAKEUP == 0 {
		r.Wake()
	}
	return true
}

// Output is bpf_ringbuf_output: EINVAL for unknown flags, EAGAIN when the
// record does not fit.
func (r *RingBuf) Output(data []byte, flags uint64) syscall.Errno {
	if flags&^(BPF_RB_NO_WAKEUP|BPF_RB_FORCE_WAKEUP) != 0 {
		return syscall.EINVAL
	}
	rec := r.Reserve(uint64(len(data)))
	if rec == nil {
		return syscall.EAGAIN
	}
	atomicmem.CopyIn(rec, 0, data)
	r.Commit(rec, flags, false)
	return 0
}

// Query is bpf_ringbuf_query.
func (r *RingBuf) Query(flags uint64) uint64 {
	switch flags {
	case BPF_RB_AVAIL_DATA:
		return r.prod.Load() - r.cons.Load()
	case BPF_RB_RING_SIZE:
		return r.mask + 1
	case BPF_RB_CONS_POS:
		return r.cons.Load()
	case BPF_RB_PROD_POS:
		return r.prod.Load()
	}
	return 0
}

// Wake signals the reader (the kernel's irq_work wake-up).
func (r *RingBuf) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Wakeups returns the channel a reader waits on.
func (r *RingBuf) Wakeups() <-chan struct{} { return r.wake }

// Consume reads the record at the consumer position as a user-space
// consumer of the mmap'ed ring does: it skips discarded records and stops
// at a record still being written (busy) or at the producer position. It
// appends the sample to buf and advances the consumer past it; ok is false
// when there is no committed record.
func (r *RingBuf) Consume(buf []byte) (out []byte, ok bool) {
	for {
		cons, prod := r.cons.Load(), r.prod.Load()
		if cons >= prod {
			return buf, false
		}
		off := int(cons & r.mask)
		l := atomicmem.Load32(r.data, off)
		if l&BPF_RINGBUF_BUSY_BIT != 0 {
			return buf, false
		}
		size := int(l &^ BPF_RINGBUF_DISCARD_BIT)
		next := cons + (uint64(size)+BPF_RINGBUF_HDR_SZ+7)&^7
		if l&BPF_RINGBUF_DISCARD_BIT != 0 {
			r.cons.Store(next)
			continue
		}
		n := len(buf)
		buf = slices.Grow(buf, size)[:n+size]
		atomicmem.CopyOut(buf[n:], r.data, off+BPF_RINGBUF_HDR_SZ)
		r.cons.Store(next)
		return buf, true
	}
}

// Lookup returns nil: programs use the ring buffer helpers, and the
// verifier rejects map_lookup_elem on a ring buffer.
func (r *RingBuf) Lookup(key []byte, slot uint32) []byte { return nil }

// Update is ENOTSUPP (ringbuf_map_update_elem).
func (r *RingBuf) Update(key, value []byte, flags uint64, slot uint32) syscall.Errno {
	return ENOTSUPP
}

// Delete is ENOTSUPP (ringbuf_map_delete_elem).
func (r *RingBuf) Delete(key []byte) syscall.Errno { return ENOTSUPP }

// SysValueSize is 0: ring buffers have no values.
func (r *RingBuf) SysValueSize() int { return 0 }

// SysLookup is BPF_MAP_LOOKUP_ELEM: ENOTSUPP after the common checks.
func (r *RingBuf) SysLookup(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupPre(r.access, flags); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL // __bpf_copy_key: a key for key_size 0
	}
	return ENOTSUPP
}

// SysUpdate is BPF_MAP_UPDATE_ELEM: ENOTSUPP after the common checks.
func (r *RingBuf) SysUpdate(key, value []byte, flags uint64) syscall.Errno {
	if e := sysUpdatePre(r.access, flags); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL
	}
	return ENOTSUPP
}

// SysDelete is BPF_MAP_DELETE_ELEM: ENOTSUPP after the common checks.
func (r *RingBuf) SysDelete(key []byte) syscall.Errno {
	if !r.canWrite() {
		return syscall.EPERM
	}
	if key != nil {
		return syscall.EINVAL
	}
	return ENOTSUPP
}

// SysNextKey is BPF_MAP_GET_NEXT_KEY: ENOTSUPP after the common checks.
func (r *RingBuf) SysNextKey(key, next []byte) syscall.Errno {
	if !r.canRead() {
		return syscall.EPERM
	}
	if key != nil {
		return syscall.EINVAL
	}
	return ENOTSUPP
}

// SysLookupAndDelete is BPF_MAP_LOOKUP_AND_DELETE_ELEM: ENOTSUPP after
// the common checks.
func (r *RingBuf) SysLookupAndDelete(key, value []byte, flags uint64) syscall.Errno {
	if e := sysLookupAndDeletePre(r.access, flags, false); e != 0 {
		return e
	}
	if key != nil {
		return syscall.EINVAL
	}
	return ENOTSUPP
}
