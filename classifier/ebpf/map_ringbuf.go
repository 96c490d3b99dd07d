package ebpf

import (
	"sync"
	"time"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// RingBufReader reads the records programs submit to a RingBuf map, as
// cilium/ebpf's ringbuf.Reader reads a kernel ring buffer: in order,
// skipping discarded records, blocking until a record is committed, the
// deadline passes or the reader is closed.
//
// A ring has one consumer position: use one reader per map. Read may be
// called from one goroutine at a time; SetDeadline and Close from any.
//
// Producers that pass BPF_RB_NO_WAKEUP do not wake the reader, as in the
// kernel: a blocked Read then returns at its deadline or at a later
// wake-up, and finds the record.
type RingBufReader struct {
	rb *maps.RingBuf
	w  waiter
	mu sync.Mutex
}

// RingBufRecord is one record.
type RingBufRecord struct {
	// RawSample is the record's data, the size the program reserved.
	RawSample []byte
	// Remaining is the number of bytes still in the ring after this
	// record (committed or not).
	Remaining int
}

// NewRingBufReader returns a reader of m, which must be a RingBuf map.
func NewRingBufReader(m *Map) (*RingBufReader, error) {
	rb, ok := m.m.(*maps.RingBuf)
	if !ok {
		return nil, m.argError("ring buffer reader", "map type %s is not RingBuf", m.spec.Type)
	}
	return &RingBufReader{rb: rb, w: newWaiter()}, nil
}

// Read returns the next record.
func (r *RingBufReader) Read() (RingBufRecord, error) {
	var rec RingBufRecord
	err := r.ReadInto(&rec)
	return rec, err
}

// ReadInto is Read into rec, reusing rec.RawSample's capacity: a reader
// that keeps its record allocates nothing per record. Errors:
// os.ErrDeadlineExceeded, ErrClosed.
func (r *RingBufReader) ReadInto(rec *RingBufRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		select {
		case <-r.w.closed:
			return ErrClosed
		default:
		}
		buf, ok := r.rb.Consume(rec.RawSample[:0])
		rec.RawSample = buf
		if ok {
			rec.Remaining = int(r.rb.Query(maps.BPF_RB_AVAIL_DATA))
			return nil
		}
		if err := r.w.wait(r.rb.Wakeups()); err != nil {
			return err
		}
	}
}

// SetDeadline makes a blocked or later Read return os.ErrDeadlineExceeded
// when t passes and no record is there; the zero time waits forever.
func (r *RingBufReader) SetDeadline(t time.Time) { r.w.setDeadline(t) }

// AvailableBytes returns producer minus consumer position: the bytes of
// records not yet read (BPF_RB_AVAIL_DATA).
func (r *RingBufReader) AvailableBytes() int {
	return int(r.rb.Query(maps.BPF_RB_AVAIL_DATA))
}

// Close makes blocked and later Reads return ErrClosed.
func (r *RingBufReader) Close() error {
	r.w.close()
	return nil
}
