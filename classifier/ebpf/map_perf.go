package ebpf

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/clsbpf/clsbpf/internal/maps"
)

// DefaultPerfBufferSize is the bytes of records each slot's buffer holds
// unless NewPerfReader is told otherwise (cilium/ebpf's perf readers are
// commonly sized a few pages per CPU).
const DefaultPerfBufferSize = 4 * 4096

// PerfReader reads the samples programs emit with perf_event_output into a
// PerfEventArray, as cilium/ebpf's perf.Reader does for the kernel: it
// gives each execution slot a buffer of its own, installed at the slot's
// index of the array (what a per-CPU perf event fd is there), and returns
// samples and reports of lost samples as they come.
//
// Read may be called from one goroutine at a time; SetDeadline and Close
// from any. Close removes the buffers from the array.
type PerfReader struct {
	m    *Map
	bufs []*maps.PerfBuffer
	wake chan struct{}
	w    waiter
	mu   sync.Mutex
	next int
}

// PerfRecord is a sample or a loss report.
type PerfRecord struct {
	// CPU is the execution slot that emitted the sample.
	CPU int
	// RawSample is the data the program passed followed by the packet
	// bytes it asked for, zero-padded as the kernel pads raw samples
	// (to 4 bytes short of a multiple of 8). Nil for a loss report.
	RawSample []byte
	// LostSamples is, for a loss report, the number of samples dropped
	// because the slot's buffer was full.
	LostSamples uint64
	// Remaining is the bytes of unread records in this slot's buffer.
	Remaining int
}

// NewPerfReader installs a buffer of perSlotBuffer bytes (0:
// DefaultPerfBufferSize) for every slot below both m's slot count and
// max_entries, and returns their reader.
func NewPerfReader(m *Map, perSlotBuffer int) (*PerfReader, error) {
	if m.spec.Type != PerfEventArray {
		return nil, m.argError("perf reader", "map type %s is not PerfEventArray", m.spec.Type)
	}
	if perSlotBuffer <= 0 {
		perSlotBuffer = DefaultPerfBufferSize
	}
	n := min(m.Slots(), int(m.spec.MaxEntries))
	r := &PerfReader{m: m, wake: make(chan struct{}, 1), w: newWaiter()}
	om := m.m.(maps.ObjectMap)
	for s := 0; s < n; s++ {
		b := maps.NewPerfBuffer(uint32(s), perSlotBuffer, r.wake)
		var key [4]byte
		binary.NativeEndian.PutUint32(key[:], uint32(s))
		if e := om.UpdateObject(key[:], b, 0); e != 0 {
			return nil, m.opError("perf reader", e)
		}
		r.bufs = append(r.bufs, b)
	}
	return r, nil
}

// Read returns the next record of any slot.
func (r *PerfReader) Read() (PerfRecord, error) {
	var rec PerfRecord
	err := r.ReadInto(&rec)
	return rec, err
}

// ReadInto is Read into rec. Errors: os.ErrDeadlineExceeded, ErrClosed.
func (r *PerfReader) ReadInto(rec *PerfRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		select {
		case <-r.w.closed:
			return ErrClosed
		default:
		}
		for i := range r.bufs {
			s := (r.next + i) % len(r.bufs)
			raw, lost, ok := r.bufs[s].Next()
			if !ok {
				continue
			}
			r.next = (s + 1) % len(r.bufs)
			*rec = PerfRecord{CPU: s, RawSample: raw, LostSamples: lost, Remaining: r.bufs[s].Pending()}
			return nil
		}
		if len(r.bufs) == 0 {
			return ErrClosed
		}
		if err := r.w.wait(r.wake); err != nil {
			return err
		}
	}
}

// SetDeadline makes a blocked or later Read return os.ErrDeadlineExceeded
// when t passes and no record is there; the zero time waits forever.
func (r *PerfReader) SetDeadline(t time.Time) { r.w.setDeadline(t) }

// Close removes the buffers from the array and makes Reads return
// ErrClosed.
func (r *PerfReader) Close() error {
	r.w.close()
	om := r.m.m.(maps.ObjectMap)
	for s, b := range r.bufs {
		var key [4]byte
		binary.NativeEndian.PutUint32(key[:], uint32(s))
		if om.LookupObject(key[:]) == b {
			om.Delete(key[:])
		}
	}
	return nil
}
