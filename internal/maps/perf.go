package maps

import (
	"sync"
	"syscall"
)

// perf_event_output flags (include/uapi/linux/bpf.h).
const (
	BPF_F_INDEX_MASK  = 0xffffffff
	BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK
	BPF_F_CTXLEN_MASK = 0xfffff << 32
)

// Sizes of the perf records a sample and a loss report take in a perf
// buffer: struct perf_event_header (8 bytes), then for PERF_SAMPLE_RAW a
// u32 size and the data padded so that the record is a multiple of 8; a
// PERF_RECORD_LOST is the header, an id and the count (24 bytes).
const (
	perfHeaderSize = 8
	perfLostSize   = 24
)

// PerfBuffer is the per-slot buffer a perf event array slot holds: the
// stand-in for a PERF_COUNT_SW_BPF_OUTPUT event opened on one CPU with its
// mmap'ed ring. Samples that do not fit are counted as lost and reported
// before the next sample that does, as the kernel's PERF_RECORD_LOST.
type PerfBuffer struct {
	slot uint32
	size int

	mu    sync.Mutex
	used  int
	lost  uint64
	queue []perfRecord // FIFO of unread records
	head  int
	wake  chan struct{}
}

type perfRecord struct {
	raw  []byte // padded raw sample; nil for a loss report
	lost uint64
	cost int
}

// NewPerfBuffer returns a buffer for slot holding size bytes of records;
// wake, if not nil, receives a token (without blocking) after each record.
func NewPerfBuffer(slot uint32, size int, wake chan struct{}) *PerfBuffer {
	return &PerfBuffer{slot: slot, size: size, wake: wake}
}

// Slot is the execution slot the buffer belongs to.
func (b *PerfBuffer) Slot() uint32 { return b.slot }

// write adds a sample made of data then extra, or counts it lost
// (ENOSPC, the perf_output_begin failure the helper returns).
func (b *PerfBuffer) write(data, extra []byte) syscall.Errno {
	n := len(data) + len(extra)
	rawLen := (n+4+7)&^7 - 4
	cost := perfHeaderSize + 4 + rawLen
	b.mu.Lock()
	defer b.mu.Unlock()
	need := cost
	if b.lost > 0 {
		need += perfLostSize
	}
	if b.used+need > b.size {
		b.lost++
		return syscall.ENOSPC
	}
	if b.lost > 0 {
		b.queue = append(b.queue, perfRecord{lost: b.lost, cost: perfLostSize})
		b.used += perfLostSize
		b.lost = 0
	}
	raw := make([]byte, rawLen)
	copy(raw, data)
	copy(raw[len(data):], extra)
	b.queue = append(b.queue, perfRecord{raw: raw, cost: cost})
	b.used += cost
	if b.wake != nil {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return 0
}

// Next returns the oldest unread record: the raw sample (padded as the
// kernel pads it) or, for a loss report, nil and the number of samples
// lost. ok is false when the buffer is empty.
func (b *PerfBuffer) Next() (raw []byte, lost uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head == len(b.queue) {
		return nil, 0, false
	}
	r := b.queue[b.head]
	b.queue[b.head] = perfRecord{}
	b.head++
	if b.head == len(b.queue) {
		b.queue, b.head = b.queue[:0], 0
	}
	b.used -= r.cost
	return r.raw, r.lost, true
}

// Pending returns the bytes of unread records.
func (b *PerfBuffer) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// PerfOutput is the map side of bpf_perf_event_output on a perf event
// array from a program on slot: flags carry the index (BPF_F_CURRENT_CPU
// for the slot's own) and the ctx length the helper has already turned
// into extra. Errors are the kernel's: EINVAL for unknown flags, E2BIG for
// an index beyond max_entries, ENOENT for an empty index, EOPNOTSUPP for a
// buffer of another slot, ENOSPC when the buffer is full.
func PerfOutput(m Map, slot uint32, flags uint64, data, extra []byte) syscall.Errno {
	a, ok := m.(*fdArray)
	if !ok || a.info.Spec.Type != BPF_MAP_TYPE_PERF_EVENT_ARRAY {
		return syscall.EINVAL
	}
	if flags&^uint64(BPF_F_INDEX_MASK|BPF_F_CTXLEN_MASK) != 0 {
		return syscall.EINVAL
	}
	index := uint32(flags & BPF_F_INDEX_MASK)
	if index == BPF_F_CURRENT_CPU {
		index = slot
	}
	if index >= a.max {
		return syscall.E2BIG
	}
	pb, _ := a.At(index).(*PerfBuffer)
	if pb == nil {
		return syscall.ENOENT
	}
	if pb.slot != slot {
		return syscall.EOPNOTSUPP
	}
	return pb.write(data, extra)
}

// PerfSampleSize returns the length of the raw sample the kernel delivers
// for n bytes of output: n rounded so that the u32 size and the data end
// on an 8-byte boundary.
func PerfSampleSize(n int) int { return (n+4+7)&^7 - 4 }
