package maps

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

func newRing(t *testing.T, size uint32) *RingBuf {
	t.Helper()
	m, err := New(&Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: size}, Options{})
	require.NoError(t, err)
	return m.(*RingBuf)
}

// TestRingBufRecords checks the record layout (8-byte header with length,
// busy and discard bits and page offset; 8-byte rounding), the positions
// the query helper reports, and what a consumer reads.
func TestRingBufRecords(t *testing.T) {
	r := newRing(t, 4096)
	rec := r.Reserve(5)
	require.Len(t, rec, 5)
	assert.Equal(t, uint32(5|BPF_RINGBUF_BUSY_BIT), binary.LittleEndian.Uint32(r.data[0:]))
	assert.Equal(t, uint32(ringbufPgOff), binary.LittleEndian.Uint32(r.data[4:]))
	assert.Equal(t, uint64(16), r.Query(BPF_RB_PROD_POS))
	assert.Equal(t, uint64(16), r.Query(BPF_RB_AVAIL_DATA))
	assert.Equal(t, uint64(4096), r.Query(BPF_RB_RING_SIZE))
	assert.Equal(t, uint64(0), r.Query(BPF_RB_CONS_POS))
	assert.Equal(t, uint64(0), r.Query(9), "unknown query")

	_, ok := r.Consume(nil)
	assert.False(t, ok, "a busy record is not consumed")
	atomicmem.CopyIn(rec, 0, []byte("hello"))
	require.True(t, r.Commit(rec, 0, false))
	assert.False(t, r.Commit(rec, 0, false), "committed twice")
	assert.Equal(t, uint32(5), binary.LittleEndian.Uint32(r.data[0:]))

	d := r.Reserve(3)
	require.True(t, r.Commit(d, 0, true))
	assert.Equal(t, uint32(3|BPF_RINGBUF_DISCARD_BIT), binary.LittleEndian.Uint32(r.data[16:]))
	require.Zero(t, r.Output([]byte("world!!!"), BPF_RB_NO_WAKEUP))
	assert.Equal(t, syscall.EINVAL, r.Output([]byte("x"), 4))

	got, ok := r.Consume(nil)
	require.True(t, ok)
	assert.Equal(t, "hello", string(got))
	got, ok = r.Consume(got[:0])
	require.True(t, ok, "discarded record skipped")
	assert.Equal(t, "world!!!", string(got))
	_, ok = r.Consume(nil)
	assert.False(t, ok)
	assert.Equal(t, uint64(48), r.Query(BPF_RB_CONS_POS))
	assert.Equal(t, uint64(0), r.Query(BPF_RB_AVAIL_DATA))

	assert.False(t, r.Commit(make([]byte, 8), 0, false), "not a record of this ring")
}

// TestRingBufSpace checks the space rules of __bpf_ringbuf_reserve: a
// record may use at most size-8 bytes with its header; the producer may
// not run more than size-1 bytes ahead of the consumer or of the oldest
// uncommitted record.
func TestRingBufSpace(t *testing.T) {
	r := newRing(t, 4096)
	assert.Nil(t, r.Reserve(4096-8), "a record of the whole ring")
	assert.Nil(t, r.Reserve(1<<31))
	assert.Equal(t, syscall.EAGAIN, r.Output(make([]byte, 4096), 0))
	big := r.Reserve(4096 - 16)
	require.NotNil(t, big, "size-8 bytes with the header fit")
	assert.Nil(t, r.Reserve(1), "full until consumed")
	r.Commit(big, 0, false)
	assert.Nil(t, r.Reserve(1), "committed but not consumed")
	out, ok := r.Consume(nil)
	require.True(t, ok)
	assert.Len(t, out, 4096-16)

	// The next record's header is the ring's last 8 bytes: its data wraps
	// past the end and reads back whole.
	wrap := make([]byte, 100)
	for i := range wrap {
		wrap[i] = byte(255 - i)
	}
	require.Zero(t, r.Output(wrap, 0))
	got, ok := r.Consume(nil)
	require.True(t, ok)
	assert.Equal(t, wrap, got)
	payload := make([]byte, 200)
	for i := range payload {
		payload[i] = byte(i)
	}
	require.Zero(t, r.Output(payload, 0))
	got, ok = r.Consume(nil)
	require.True(t, ok)
	assert.Equal(t, payload, got)
	assert.Equal(t, uint64(4096-8+112+208), r.Query(BPF_RB_CONS_POS))
}

// TestRingBufWakeups checks the wake-up rules of bpf_ringbuf_commit.
func TestRingBufWakeups(t *testing.T) {
	r := newRing(t, 4096)
	woken := func() bool {
		select {
		case <-r.Wakeups():
			return true
		default:
			return false
		}
	}
	require.Zero(t, r.Output([]byte{1}, BPF_RB_NO_WAKEUP))
	assert.False(t, woken(), "NO_WAKEUP")
	require.Zero(t, r.Output([]byte{1}, 0))
	assert.False(t, woken(), "the consumer is not at this record")
	require.Zero(t, r.Output([]byte{1}, BPF_RB_FORCE_WAKEUP))
	assert.True(t, woken(), "FORCE_WAKEUP")
	for {
		if _, ok := r.Consume(nil); !ok {
			break
		}
	}
	require.Zero(t, r.Output([]byte{1}, 0))
	assert.True(t, woken(), "the consumer waits at this record")
}

// TestPerfOutput checks perf_event_output's map side: index selection,
// the errors, loss counting and the loss report.
func TestPerfOutput(t *testing.T) {
	m := mustNew(t, Spec{Type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 2)
	om := m.(ObjectMap)
	b0 := NewPerfBuffer(0, 64, nil)
	b1 := NewPerfBuffer(1, 4096, nil)
	require.Zero(t, om.UpdateObject(k32(0), b0, 0))
	require.Zero(t, om.UpdateObject(k32(1), b1, 0))
	assert.Equal(t, syscall.EINVAL, om.UpdateObject(k32(1), b1, BPF_NOEXIST))
	assert.Equal(t, syscall.E2BIG, om.UpdateObject(k32(3), b1, 0))
	assert.Equal(t, syscall.EINVAL, om.UpdateObject(k32(2), "not a buffer", 0))

	assert.Zero(t, PerfOutput(m, 1, BPF_F_CURRENT_CPU, []byte{1, 2, 3}, []byte{9}))
	assert.Equal(t, syscall.EOPNOTSUPP, PerfOutput(m, 1, 0, []byte{1}, nil), "buffer of slot 0")
	assert.Equal(t, syscall.ENOENT, PerfOutput(m, 2, BPF_F_CURRENT_CPU, []byte{1}, nil))
	assert.Equal(t, syscall.E2BIG, PerfOutput(m, 0, 3, []byte{1}, nil))
	assert.Equal(t, syscall.EINVAL, PerfOutput(m, 0, 1<<52, []byte{1}, nil))
	raw, lost, ok := b1.Next()
	require.True(t, ok)
	assert.Zero(t, lost)
	assert.Equal(t, []byte{1, 2, 3, 9}, raw, "data, then the ctx bytes, padded to 4 (4+4 = 8)")

	// 64 bytes hold two 16-byte-payload samples (8+4+20 = 32 each).
	p := make([]byte, 16)
	assert.Zero(t, PerfOutput(m, 0, 0, p, nil))
	assert.Zero(t, PerfOutput(m, 0, 0, p, nil))
	assert.Equal(t, syscall.ENOSPC, PerfOutput(m, 0, 0, p, nil))
	assert.Equal(t, syscall.ENOSPC, PerfOutput(m, 0, 0, p, nil))
	for i := 0; i < 2; i++ {
		raw, _, ok := b0.Next()
		require.True(t, ok)
		assert.Len(t, raw, PerfSampleSize(16))
	}
	assert.Zero(t, PerfOutput(m, 0, 0, []byte{7}, nil))
	_, lost, ok = b0.Next()
	require.True(t, ok)
	assert.Equal(t, uint64(2), lost, "loss report before the next sample")
	raw, _, ok = b0.Next()
	require.True(t, ok)
	assert.Equal(t, []byte{7, 0, 0, 0}, raw)
	assert.Equal(t, 4, PerfSampleSize(1))
	assert.Equal(t, 12, PerfSampleSize(5))
}

func TestFdArrays(t *testing.T) {
	in := Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	aom := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 2, Inner: &in}, 1).(ObjectMap)
	good := mustNew(t, in, 1)
	wrongSize := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 1)
	wrongType := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 2}, 1)
	assert.Zero(t, aom.UpdateObject(k32(0), good, 0))
	assert.Equal(t, syscall.EINVAL, aom.UpdateObject(k32(1), wrongSize, 0), "array max_entries must match")
	assert.Equal(t, syscall.EINVAL, aom.UpdateObject(k32(1), wrongType, 0))
	assert.Equal(t, syscall.E2BIG, aom.UpdateObject(k32(2), good, 0))
	assert.Equal(t, good, aom.LookupObject(k32(0)))
	assert.Nil(t, aom.LookupObject(k32(1)))
	id := make([]byte, 4)
	require.Zero(t, aom.SysLookup(k32(0), id, 0))
	assert.Equal(t, good.Info().ID, le32(id))
	assert.Equal(t, syscall.ENOENT, aom.SysLookup(k32(1), id, 0))
	assert.Equal(t, syscall.EBADF, aom.SysUpdate(k32(1), id, 0), "fds are objects here")
	assert.Equal(t, syscall.ENOENT, aom.SysDelete(k32(1)))
	assert.Zero(t, aom.SysDelete(k32(0)))
	assert.Equal(t, syscall.E2BIG, aom.SysDelete(k32(9)))

	inInner := Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_INNER_MAP}
	loose := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1, Inner: &inInner}, 1).(ObjectMap)
	anySize := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 9, Flags: BPF_F_INNER_MAP}, 1)
	assert.Zero(t, loose.UpdateObject(k32(0), anySize, 0), "BPF_F_INNER_MAP: any max_entries")

	hom := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 8, ValueSize: 4, MaxEntries: 1, Inner: &in}, 1).(ObjectMap)
	assert.Zero(t, hom.UpdateObject(v64(5), good, BPF_NOEXIST))
	assert.Equal(t, syscall.EEXIST, hom.UpdateObject(v64(5), good, BPF_NOEXIST))
	assert.Equal(t, syscall.E2BIG, hom.UpdateObject(v64(6), good, 0))
	assert.Equal(t, good, hom.LookupObject(v64(5)))
	require.Zero(t, hom.SysLookup(v64(5), id, 0))
	assert.Equal(t, good.Info().ID, le32(id))
	assert.Equal(t, ENOTSUPP, hom.SysLookupAndDelete(v64(5), id, 0))

	pa := mustNew(t, Spec{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2}, 1).(ProgArray)
	assert.Zero(t, pa.UpdateObject(k32(0), fakeProg{typ: 3, id: 42}, 0))
	assert.Equal(t, syscall.EINVAL, pa.UpdateObject(k32(1), fakeProg{typ: 4, id: 43}, 0), "another program type")
	assert.True(t, pa.Compatible(3))
	assert.False(t, pa.Compatible(4))
	assert.Equal(t, fakeProg{typ: 3, id: 42}, pa.At(0))
	assert.Nil(t, pa.At(1))
	assert.Nil(t, pa.At(7))
	require.Zero(t, pa.SysLookup(k32(0), id, 0))
	assert.Equal(t, uint32(42), le32(id))
	assert.Nil(t, pa.Lookup(k32(0), 0), "programs cannot look prog arrays up")
	assert.Zero(t, pa.Delete(k32(0)))
	assert.Nil(t, pa.At(0))
}

type fakeProg struct{ typ, id uint32 }

func (p fakeProg) ProgramType() uint32 { return p.typ }
func (p fakeProg) ProgramID() uint32   { return p.id }
