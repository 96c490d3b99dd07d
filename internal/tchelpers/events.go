package tchelpers

import (
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/atomicmem"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/maps"
)

// Output to Go readers (ring buffers, perf event arrays, the trace
// writer), bpf_spin_lock and the flow hash.

var (
	errNotRecord = errors.New("tchelpers: pointer is not a reserved ring buffer record")
	errLockArg   = errors.New("tchelpers: spin lock pointer is not an aligned word of a map value")
	errLockSpin  = errors.New("tchelpers: spin lock held too long (a program exited holding it)")
)

// ringArg returns the ring buffer behind handle h.
func ringArg(m *ebpfvm.Machine, h uint64) (*maps.RingBuf, error) {
	mp, err := mapArg(m, h)
	if err != nil {
		return nil, err
	}
	rb, ok := mp.(*maps.RingBuf)
	if !ok {
		return nil, fmt.Errorf("%w: %s ring buffer operation", errMapOp, mp.Info().Spec.Type)
	}
	return rb, nil
}

// ringbufOutput is bpf_ringbuf_output(ringbuf, data, size, flags).
func ringbufOutput(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	rb, err := ringArg(m, a[0])
	if err != nil {
		return 0, err
	}
	data, err := readArg(m, 0, a[1], uint32(a[2]))
	if err != nil {
		return 0, err
	}
	if e := rb.Output(data, a[3]); e != 0 {
		return neg(e), nil
	}
	return 0, nil
}

// ringbufReserve is bpf_ringbuf_reserve(ringbuf, size, flags): a pointer
// to the record, or NULL when flags are set or the record does not fit.
func (e *Env) ringbufReserve(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	rb, err := ringArg(m, a[0])
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		return 0, nil
	}
	rec := rb.Reserve(a[1])
	if rec == nil {
		return 0, nil
	}
	p, err := m.MapValue(rec, false)
	if err != nil {
		rb.Commit(rec, maps.BPF_RB_NO_WAKEUP, true)
		return 0, err
	}
	e.slot(m).reserve(rb, rec)
	return p, nil
}

// ringbufCommit is bpf_ringbuf_submit and bpf_ringbuf_discard(data,
// flags): data must be the start of a reserved record.
func (e *Env) ringbufCommit(discard bool) ebpfvm.HelperFunc {
	return func(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
		mem, off, ok := m.RegionAt(a[0])
		if !ok || off != 0 {
			return 0, errNotRecord
		}
		rb := e.slot(m).release(mem)
		if rb == nil || !rb.Commit(mem, a[1], discard) {
			return 0, errNotRecord
		}
		return 0, nil
	}
}

// maxReserved bounds the ring buffer records a slot holds reserved at
// once; the kernel's verifier makes every program release its records
// before it exits, so only a program that does not is affected: its
// oldest records are forgotten (and stay busy in their ring, as they
// would in the kernel).
const maxReserved = 16

// reservation is a record reserved on a slot and not yet committed.
type reservation struct {
	rb  *maps.RingBuf
	rec []byte
}

// reserve remembers rec as reserved from rb.
func (s *slotState) reserve(rb *maps.RingBuf, rec []byte) {
	s.reserved[s.nextRes%maxReserved] = reservation{rb: rb, rec: rec}
	s.nextRes++
}

// release forgets the reservation of rec and returns its ring.
func (s *slotState) release(rec []byte) *maps.RingBuf {
	for i := range s.reserved {
		r := &s.reserved[i]
		if r.rb != nil && len(r.rec) == len(rec) && unsafe.SliceData(r.rec) == unsafe.SliceData(rec) {
			rb := r.rb
			*r = reservation{}
			return rb
		}
	}
	return nil
}

// ringbufQuery is bpf_ringbuf_query(ringbuf, flags).
func ringbufQuery(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	rb, err := ringArg(m, a[0])
	if err != nil {
		return 0, err
	}
	return rb.Query(a[1]), nil
}

// perfEventOutput is bpf_perf_event_output(ctx, map, flags, data, size)
// for skb programs (bpf_skb_event_output): the upper 32 bits of flags ask
// for that many packet bytes after data.
func perfEventOutput(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	mp, err := mapArg(m, a[1])
	if err != nil {
		return 0, err
	}
	flags := a[2]
	if flags&^uint64(maps.BPF_F_CTXLEN_MASK|maps.BPF_F_INDEX_MASK) != 0 {
		return neg(syscall.EINVAL), nil
	}
	ctxLen := (flags & maps.BPF_F_CTXLEN_MASK) >> 32
	if ctxLen > uint64(p.Len()) {
		return neg(syscall.EFAULT), nil
	}
	data, err := readArg(m, 0, a[3], uint32(a[4]))
	if err != nil {
		return 0, err
	}
	if e := maps.PerfOutput(mp, slotOf(m), flags, data, p.Bytes()[:ctxLen]); e != 0 {
		return neg(e), nil
	}
	return 0, nil
}

// spinLock is bpf_spin_lock(lock): a compare-and-swap loop on the 4-byte
// lock word in a map value. A lock that stays taken for more than
// spinLimit attempts ends the run with an error instead of hanging, since
// the VM's verifier does not prove that every path unlocks.
func spinLock(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mem, off, ok := m.RegionAt(a[0])
	if !ok || off%4 != 0 || uint64(off)+4 > uint64(len(mem)) {
		return 0, errLockArg
	}
	for i := 0; i < spinLimit; i++ {
		if old, _ := atomicmem.CmpXchg32(mem, int(off), 0, 1); old == 0 {
			return 0, nil
		}
		runtime.Gosched()
	}
	return 0, errLockSpin
}

// spinLimit bounds the attempts of spinLock.
const spinLimit = 1 << 20

// spinUnlock is bpf_spin_unlock(lock).
func spinUnlock(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	mem, off, ok := m.RegionAt(a[0])
	if !ok || off%4 != 0 || uint64(off)+4 > uint64(len(mem)) {
		return 0, errLockArg
	}
	atomicmem.Store32(mem, int(off), 0)
	return 0, nil
}

// getHashRecalc is bpf_get_hash_recalc(skb): skb_get_hash, computing a
// flow hash when none is set. The kernel keys its flow hash with a random
// seed; here Options.FlowHash computes it (by default FNV-1a over the
// EtherType, network addresses, protocol and ports).
func (e *Env) getHashRecalc(m *ebpfvm.Machine, _ *[5]uint64) (uint64, error) {
	p, err := pkt(m)
	if err != nil {
		return 0, err
	}
	if p.HashKind == 0 {
		h, l4 := e.flowHash(p)
		p.Hash, p.HashKind = h, packet.HashSoftware
		if l4 {
			p.HashKind |= packet.HashL4
		}
	}
	return uint64(p.Hash), nil
}

// defaultFlowHash hashes the flow of an IPv4 or IPv6 packet; l4 reports
// whether ports were part of it.
func defaultFlowHash(p *packet.Packet) (uint32, bool) {
	b := p.Bytes()
	n := p.NetworkOffset()
	h := fnv.New32a()
	var l4 bool
	switch {
	case p.Protocol == 0x0800 && n >= 0 && len(b) >= n+20:
		ihl := int(b[n]&0xf) * 4
		h.Write(b[n+12 : n+20])
		h.Write(b[n+9 : n+10])
		if t := n + ihl; (b[n+9] == 6 || b[n+9] == 17) && len(b) >= t+4 {
			h.Write(b[t : t+4])
			l4 = true
		}
	case p.Protocol == 0x86dd && n >= 0 && len(b) >= n+40:
		h.Write(b[n+8 : n+40])
		h.Write(b[n+6 : n+7])
		if t := n + 40; (b[n+6] == 6 || b[n+6] == 17) && len(b) >= t+4 {
			h.Write(b[t : t+4])
			l4 = true
		}
	default:
		return 0, false
	}
	s := h.Sum32()
	if s == 0 {
		s = 1
	}
	return s, l4
}

// traceBuf is the size of the kernel's bpf_trace_printk buffer
// (MAX_BPRINTF_BUF).
const traceBuf = 1024

// tracePrintk is bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3) with
// the kernel's format subset (bpf_bprintf_prepare): %d %i %u %x %X with
// the l and ll modifiers, %c, %s (from program memory), %px, %%, and
// flags 0 + - space with a width. The formatted text goes to
// Options.Trace; the result is its length, or -EINVAL for a format the
// kernel refuses.
func (e *Env) tracePrintk(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
	n := uint32(a[1])
	if _, ok := m.Mem(a[0], int(n), false); !ok || n == 0 {
		return 0, fmt.Errorf("%w: format of %d bytes at %#x", errBadMemArg, n, a[0])
	}
	f, _ := readArg(m, 2, a[0], n)
	end := -1
	for i, c := range f {
		if c == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return neg(syscall.EINVAL), nil
	}
	out, ok := formatTrace(m, f[:end], a[2:5])
	if !ok {
		return neg(syscall.EINVAL), nil
	}
	if len(out) > traceBuf-1 {
		out = out[:traceBuf-1]
	}
	if e.trace != nil {
		e.trace.Write(out)
	}
	return uint64(len(out)), nil
}

// formatTrace formats f with args as the kernel's bstr_printf does for
// the specifiers bpf_bprintf_prepare admits.
func formatTrace(m *ebpfvm.Machine, f []byte, args []uint64) ([]byte, bool) {
	var out []byte
	used := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r') || c == 0x7f {
			return nil, false
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(f) {
			return nil, false
		}
		if f[i] == '%' {
			out = append(out, '%')
			continue
		}
		if used >= len(args) {
			return nil, false
		}
		spec := i
		for i < len(f) && (f[i] == '0' || f[i] == '+' || f[i] == '-' || f[i] == ' ') {
			i++
		}
		if i < len(f) && f[i] >= '1' && f[i] <= '9' {
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
		}
		if i >= len(f) {
			return nil, false
		}
		flags := string(f[spec:i])
		arg := args[used]
		used++
		switch f[i] {
		case 'c':
			out = appendPadded(out, flags, []byte{byte(arg)})
			continue
		case 's':
			out = appendPadded(out, flags, []byte(traceString(m, arg)))
			continue
		case 'p':
			if i+1 < len(f) && f[i+1] == 'x' {
				i++
				if flags == "" {
					flags = "016"
				}
				out = fmt.Appendf(out, "%"+flags+"x", arg)
				continue
			}
			return nil, false
		}
		long := false
		if f[i] == 'l' {
			long = true
			i++
			if i < len(f) && f[i] == 'l' {
				i++
			}
		}
		if i >= len(f) {
			return nil, false
		}
		switch f[i] {
		case 'd', 'i':
			if long {
				out = fmt.Appendf(out, "%"+flags+"d", int64(arg))
			} else {
				out = fmt.Appendf(out, "%"+flags+"d", int32(arg))
			}
		case 'u':
			if long {
				out = fmt.Appendf(out, "%"+flags+"d", arg)
			} else {
				out = fmt.Appendf(out, "%"+flags+"d", uint32(arg))
			}
		case 'x', 'X':
			v := arg
			if !long {
				v = uint64(uint32(arg))
			}
			out = fmt.Appendf(out, "%"+flags+string(f[i]), v)
		default:
			return nil, false
		}
	}
	return out, true
}

// appendPadded appends b padded to the width in flags, on the left
// unless flags has '-', as the kernel pads %c and %s.
func appendPadded(out []byte, flags string, b []byte) []byte {
	w, left := 0, false
	for _, c := range flags {
		switch {
		case c == '-':
			left = true
		case c >= '0' && c <= '9' && (w > 0 || c != '0'):
			w = w*10 + int(c-'0')
		}
	}
	pad := w - len(b)
	if !left {
		for ; pad > 0; pad-- {
			out = append(out, ' ')
		}
	}
	out = append(out, b...)
	for ; pad > 0; pad-- {
		out = append(out, ' ')
	}
	return out
}

// traceString reads a NUL-terminated string at addr in program memory;
// an unreadable one prints as the empty string, as the kernel does.
func traceString(m *ebpfvm.Machine, addr uint64) string {
	var s []byte
	for i := uint64(0); i < traceBuf; i++ {
		b, ok := m.Mem(addr+i, 1, false)
		if !ok || b[0] == 0 {
			break
		}
		s = append(s, b[0])
	}
	return string(s)
}
