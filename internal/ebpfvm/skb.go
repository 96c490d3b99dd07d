package ebpfvm

import (
	"math/bits"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// The tc context: struct __sk_buff (include/uapi/linux/bpf.h) over a
// packet.Packet, with the access rules of tc_cls_act_is_valid_access and
// bpf_skb_is_valid_access and the translations of
// tc_cls_act_convert_ctx_access and bpf_convert_ctx_access
// (net/core/filter.c). The verifier resolves each context access at load,
// by offset and size, into a ctxAccess; the run loop then executes a
// direct field operation with no decoding. Adding a field means a case in
// resolveSkb and in ctxLoad/ctxStore.
//
// Every field of the 192-byte structure is served:
//
//	off  field            tc    backing
//	0    len              R     4
//	4    pkt_type         R     1
//	8    mark             RW    4
//	12   queue_mapping    RW    2  (a write of 0xFFFF or more is ignored)
//	16   protocol         R     2  (network order, as stored)
//	20   vlan_present     R     4  (computed 0/1)
//	24   vlan_tci         R     2
//	28   vlan_proto       R     2  (network order)
//	32   priority         RW    4
//	36   ingress_ifindex  R     4
//	40   ifindex          R     4
//	44   tc_index         RW    2
//	48   cb[5]            RW    any size inside the 20 bytes
//	68   hash             R     4
//	72   tc_classid       RW    2
//	76   data             R     pointer, 4-byte reads only
//	80   data_end         R     pointer, 4-byte reads only
//	84   napi_id          R     4  (0 below MIN_NAPI_ID)
//	88   family..local_port     rejected (socket fields)
//	140  data_meta        R     pointer, 4-byte reads only
//	144  flow_keys              rejected
//	152  tstamp           RW    8, 8-byte accesses only
//	160  wire_len         R     4
//	164  gso_segs         R     2
//	168  sk               R     8-byte reads only; always NULL here
//	176  gso_size         R     2
//	180  tstamp_type      R     1-byte reads only
//	181  padding                rejected
//	184  hwtstamp         R     8-byte reads only
//
// A narrow read (1 or 2 bytes of a 4-byte field) extracts the bytes at
// off&3 of the field's value, little-endian; as in the kernel, a narrow
// read at least as wide as the field's backing store returns the whole
// value whatever its offset (a 2-byte read of protocol at 18 returns the
// protocol, a 1-byte read at 18 returns 0). Writes other than cb[] and
// tstamp must be 4 bytes wide. Everything else is EACCES "invalid
// bpf_context access" at load.
//
// tstamp follows the kernel's tc_at_ingress rule: a program that never
// accesses tstamp_type reads 0 from tstamp at ingress when the timestamp
// is a delivery time (TstampType not TstampRealtime), and its writes at
// ingress reset TstampType to TstampRealtime.
//
// sk is always NULL: the library has no socket to hand out, so programs
// read 0 and take their no-socket path. The verifier types it as a
// nullable pointer, so the kernel's "if (sk) sk->field" pattern loads.

// Context fields the VM knows.
const (
	skbLen uint8 = iota
	skbMark
	skbPriority
	skbCB
	skbData
	skbDataEnd
	skbDataMeta
	skbPktType
	skbQueueMapping
	skbProtocol
	skbVlanPresent
	skbVlanTCI
	skbVlanProto
	skbIngressIfindex
	skbIfindex
	skbTCIndex
	skbHash
	skbTCClassID
	skbNapiID
	skbTstamp
	skbWireLen
	skbGSOSegs
	skbSk
	skbGSOSize
	skbTstampType
	skbHWTstamp
)

// minNapiID is MIN_NAPI_ID, NR_CPUS + 1 with Debian's CONFIG_NR_CPUS=8192:
// smaller napi_id values are sender CPUs, which __sk_buff hides as 0.
const minNapiID = 8192 + 1

// ctxAccess is a resolved context access.
type ctxAccess struct {
	field  uint8  // skb* field
	size   uint8  // access width in bytes
	shift  uint8  // narrow read: bit offset into the 32-bit field
	cbOff  uint8  // skbCB: byte offset into cb[]
	kind   kindID // register kind of the loaded value
	narrow bool   // the read is narrower than the backing store: shift and mask
	imm    bool   // the store is an ST with an immediate (queue_mapping's check)
}

// skbBacking returns the field id and backing width of the 4-byte field at
// off (a multiple of 4), or ok false.
func skbField(off int32) (field uint8, backing uint8, ok bool) {
	switch off {
	case uapi.SKB_OFF_LEN:
		return skbLen, 4, true
	case uapi.SKB_OFF_PKT_TYPE:
		return skbPktType, 1, true
	case uapi.SKB_OFF_MARK:
		return skbMark, 4, true
	case uapi.SKB_OFF_QUEUE_MAPPING:
		return skbQueueMapping, 2, true
	case uapi.SKB_OFF_PROTOCOL:
		return skbProtocol, 2, true
	case uapi.SKB_OFF_VLAN_PRESENT:
		return skbVlanPresent, 4, true
	case uapi.SKB_OFF_VLAN_TCI:
		return skbVlanTCI, 2, true
	case uapi.SKB_OFF_VLAN_PROTO:
		return skbVlanProto, 2, true
	case uapi.SKB_OFF_PRIORITY:
		return skbPriority, 4, true
	case uapi.SKB_OFF_INGRESS_IFINDEX:
		return skbIngressIfindex, 4, true
	case uapi.SKB_OFF_IFINDEX:
		return skbIfindex, 4, true
	case uapi.SKB_OFF_TC_INDEX:
		return skbTCIndex, 2, true
	case uapi.SKB_OFF_HASH:
		return skbHash, 4, true
	case uapi.SKB_OFF_TC_CLASSID:
		return skbTCClassID, 2, true
	case uapi.SKB_OFF_NAPI_ID:
		return skbNapiID, 4, true
	case uapi.SKB_OFF_WIRE_LEN:
		return skbWireLen, 4, true
	case uapi.SKB_OFF_GSO_SEGS:
		return skbGSOSegs, 2, true
	case uapi.SKB_OFF_GSO_SIZE:
		return skbGSOSize, 2, true
	}
	return 0, 0, false
}

// resolveSkb checks a context access of size bytes at offset off and
// returns how to perform it. write is true for ST and STX. Violations are
// EACCES "invalid bpf_context access", as the kernel reports them.
func resolveSkb(idx int, off int32, size uint32, write bool) (ctxAccess, *VerifyError) {
	bad := func() (ctxAccess, *VerifyError) {
		return ctxAccess{}, verr(idx, syscall.EACCES, "invalid bpf_context access off=%d size=%d", off, size)
	}
	if off < 0 || off >= uapi.SK_BUFF_CTX_SIZE || size == 0 || off%int32(size) != 0 {
		return bad()
	}
	a := ctxAccess{size: uint8(size), kind: kScalar}
	cbEnd := int32(uapi.SKB_OFF_CB + 20)
	if off >= uapi.SKB_OFF_CB && off < cbEnd {
		if off+int32(size) > cbEnd {
			return bad()
		}
		a.field, a.cbOff = skbCB, uint8(off-uapi.SKB_OFF_CB)
		return a, nil
	}
	switch {
	case off >= uapi.SKB_OFF_TSTAMP && off < uapi.SKB_OFF_TSTAMP+8:
		if size != 8 {
			return bad()
		}
		a.field = skbTstamp
		return a, nil
	case off >= uapi.SKB_OFF_SK && off < uapi.SKB_OFF_SK+8:
		if size != 8 || write {
			return bad()
		}
		a.field, a.kind = skbSk, kMapValueOrNull
		return a, nil
	case off >= uapi.SKB_OFF_HWTSTAMP:
		if size != 8 || write {
			return bad()
		}
		a.field = skbHWTstamp
		return a, nil
	case off == uapi.SKB_OFF_TSTAMP_TYPE:
		if size != 1 || write {
			return bad()
		}
		a.field = skbTstampType
		return a, nil
	case off > uapi.SKB_OFF_TSTAMP_TYPE && off < uapi.SKB_OFF_HWTSTAMP:
		return bad() // padding
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
	}
	f, backing, ok := skbField(field)
	if !ok || size == 8 {
		return bad()
	}
	if write {
		switch f {
		case skbMark, skbPriority, skbTCIndex, skbTCClassID, skbQueueMapping:
		default:
			return bad()
		}
		if size != 4 {
			return bad()
		}
	}
	a.field = f
	if size < uint32(backing) || (size < 4 && backing == 4) {
		a.narrow, a.shift = true, uint8(off&3)*8
	}
	return a, nil
}

// skbTstampTypeAccess reports whether any resolved access reads
// tstamp_type (the kernel's prog->tstamp_type_access).
func skbTstampTypeAccess(ctxs []ctxAccess) bool {
	for i := range ctxs {
		if ctxs[i].field == skbTstampType {
			return true
		}
	}
	return false
}

// skbField32 returns the value of a 4-byte-or-narrower field as a 4-byte
// read returns it.
func (m *Machine) skbField32(field uint8) uint64 {
	p := m.pkt
	switch field {
	case skbLen:
		return uint64(uint32(p.Len()))
	case skbPktType:
		return uint64(p.PktType & 7)
	case skbMark:
		return uint64(p.Mark)
	case skbQueueMapping:
		return uint64(p.QueueMapping)
	case skbProtocol:
		return uint64(bits.ReverseBytes16(p.Protocol))
	case skbVlanPresent:
		if p.VLANPresent {
			return 1
		}
		return 0
	case skbVlanTCI:
		return uint64(p.VLANTCI)
	case skbVlanProto:
		return uint64(bits.ReverseBytes16(p.VLANProto))
	case skbPriority:
		return uint64(p.Priority)
	case skbIngressIfindex:
		return uint64(p.IngressIfindex)
	case skbIfindex:
		return uint64(p.Ifindex)
	case skbTCIndex:
		return uint64(p.TCIndex)
	case skbHash:
		return uint64(p.Hash)
	case skbTCClassID:
		return uint64(p.TCClassID)
	case skbNapiID:
		if p.NapiID < minNapiID {
			return 0
		}
		return uint64(p.NapiID)
	case skbWireLen:
		if p.WireLen == 0 {
			return uint64(uint32(p.Len()))
		}
		return uint64(p.WireLen)
	case skbGSOSegs:
		return uint64(p.GSOSegs)
	case skbGSOSize:
		return uint64(p.GSOSize)
	}
	return 0
}

// ctxLoad performs a resolved context read.
func (m *Machine) ctxLoad(a *ctxAccess) uint64 {
	p := m.pkt
	var v uint64
	switch a.field {
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
	case skbTstamp:
		if !m.prog.tstampTypeAccess && p.Direction == packet.Ingress && p.TstampType != packet.TstampRealtime {
			return 0
		}
		return p.Tstamp
	case skbTstampType:
		return uint64(p.TstampType & 3)
	case skbHWTstamp:
		return p.HWTstamp
	case skbSk:
		return 0
	}
	v = m.skbField32(a.field)
	if a.narrow {
		v >>= a.shift
		switch a.size {
		case 1:
			v &= 0xff
		case 2:
			v &= 0xffff
		}
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
	case skbTCIndex:
		p.TCIndex = uint16(v)
	case skbTCClassID:
		p.TCClassID = uint16(v)
	case skbQueueMapping:
		// STX: a 64-bit unsigned comparison with NO_QUEUE_MAPPING; ST: the
		// kernel compares the signed 32-bit immediate, so -1 is stored.
		if a.imm {
			if int64(v) >= 0xffff {
				return
			}
		} else if v >= 0xffff {
			return
		}
		p.QueueMapping = uint16(v)
	case skbTstamp:
		if !m.prog.tstampTypeAccess && p.Direction == packet.Ingress {
			p.TstampType = packet.TstampRealtime
		}
		p.Tstamp = v
	case skbCB:
		for i := uint8(0); i < a.size; i++ {
			b := a.cbOff + i
			sh := 8 * (b % 4)
			p.CB[b/4] = p.CB[b/4]&^(0xff<<sh) | uint32(byte(v>>(8*i)))<<sh
		}
	}
}
