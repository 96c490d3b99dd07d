package ebpfvm

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The tc context: struct __sk_buff (include/uapi/linux/bpf.h) over a
// packet.Packet, with the access rules of tc_cls_act_is_valid_access and
// bpf_skb_is_valid_access (net/core/filter.c). The verifier resolves each
// context access at load, by offset and size, into a ctxAccess; the run
// loop then executes a direct field operation with no decoding. Adding a
// field means a case in resolveSkb and in ctxLoad/ctxStore.

// Context fields the VM knows.
const (
	skbLen uint8 = iota
	skbMark
	skbPriority
	skbCB
	skbData
	skbDataEnd
	skbDataMeta
)

// ctxAccess is a resolved context access.
type ctxAccess struct {
	field uint8  // skb* field
	size  uint8  // access width in bytes
	shift uint8  // narrow read: bit offset into the 32-bit field
	cbOff uint8  // skbCB: byte offset into cb[]
	kind  kindID // register kind of the loaded value
}

// resolveSkb checks a context access of size bytes at offset off and
// returns how to perform it. write is true for ST and STX. Violations are
// EACCES "invalid bpf_context access", as the kernel reports them.
func resolveSkb(idx int, off int32, size uint32, write bool) (ctxAccess, *VerifyError) {
	bad := func() (ctxAccess, *VerifyError) {
		return ctxAccess{}, verr(idx, syscall.EACCES, "invalid bpf_context access off=%d size=%d", off, size)
	}
	if off < 0 || off >= uapi.SK_BUFF_CTX_SIZE || off%int32(size) != 0 {
		return bad()
	}
	a := ctxAccess{size: uint8(size), kind: kScalar}
	cbEnd := int32(uapi.SKB_OFF_CB + 20)
	if off >= uapi.SKB_OFF_CB && off+int32(size) <= cbEnd {
		a.field, a.cbOff = skbCB, uint8(off-uapi.SKB_OFF_CB)
		return a, nil
	}
	field := off &^ 3
	switch field {
	case uapi.SKB_OFF_DATA, uapi.SKB_OFF_DATA_END, uapi.SKB_OFF_DATA_META:
		if write || size != 4 {
			return bad()
		}
		switch field {
		case uapi.SKB_OFF_DATA:
			a.field, a.kind = skbData, kPkt
		case uapi.SKB_OFF_DATA_END:
			a.field, a.kind = skbDataEnd, kPktEnd
		default:
			a.field, a.kind = skbDataMeta, kPktMeta
		}
		return a, nil
	case uapi.SKB_OFF_LEN, uapi.SKB_OFF_MARK, uapi.SKB_OFF_PRIORITY:
		if size == 8 {
			return bad()
		}
		if write && (size != 4 || field == uapi.SKB_OFF_LEN) {
			return bad()
		}
		a.shift = uint8(off&3) * 8
		switch field {
		case uapi.SKB_OFF_LEN:
			a.field = skbLen
		case uapi.SKB_OFF_MARK:
			a.field = skbMark
		default:
			a.field = skbPriority
		}
		return a, nil
	}
	return bad()
}

// ctxLoad performs a resolved context read.
func (m *Machine) ctxLoad(a *ctxAccess) uint64 {
	p := m.pkt
	var v uint64
	switch a.field {
	case skbLen:
		v = uint64(uint32(p.Len()))
	case skbMark:
		v = uint64(p.Mark)
	case skbPriority:
		v = uint64(p.Priority)
	case skbCB:
		for i := uint8(0); i < a.size; i++ {
			b := a.cbOff + i
			v |= uint64(byte(p.CB[b/4]>>(8*(b%4)))) << (8 * i)
		}
		return v
	case skbData:
		_, data, _, _ := p.Buffer()
		return packetAddr(data)
	case skbDataEnd:
		_, _, lin, _ := p.Buffer()
		return packetAddr(lin)
	case skbDataMeta:
		_, data, _, _ := p.Buffer()
		return packetAddr(data - len(p.Meta()))
	}
	v >>= a.shift
	switch a.size {
	case 1:
		v &= 0xff
	case 2:
		v &= 0xffff
	}
	return v
}

// ctxStore performs a resolved context write of v.
func (m *Machine) ctxStore(a *ctxAccess, v uint64) {
	p := m.pkt
	switch a.field {
	case skbMark:
		p.Mark = uint32(v)
	case skbPriority:
		p.Priority = uint32(v)
	case skbCB:
		for i := uint8(0); i < a.size; i++ {
			b := a.cbOff + i
			sh := 8 * (b % 4)
			p.CB[b/4] = p.CB[b/4]&^(0xff<<sh) | uint32(byte(v>>(8*i)))<<sh
		}
	}
}
