package kerneltest

import (
	"encoding/binary"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Tcmsg is struct tcmsg, the fixed header of every tc netlink message.
type Tcmsg struct {
	Family  uint8
	Ifindex int32
	Handle  uint32
	Parent  uint32
	// Info holds the priority in its upper and the protocol (network byte
	// order) in its lower 16 bits for filters.
	Info uint32
}

// Marshal encodes the header in host byte order.
func (t Tcmsg) Marshal() []byte {
	b := make([]byte, uapi.SizeofTcmsg)
	b[0] = t.Family
	binary.LittleEndian.PutUint32(b[4:], uint32(t.Ifindex))
	binary.LittleEndian.PutUint32(b[8:], t.Handle)
	binary.LittleEndian.PutUint32(b[12:], t.Parent)
	binary.LittleEndian.PutUint32(b[16:], t.Info)
	return b
}

// UnmarshalTcmsg decodes the header at the start of b; ok is false when b
// is too short.
func UnmarshalTcmsg(b []byte) (t Tcmsg, ok bool) {
	if len(b) < uapi.SizeofTcmsg {
		return t, false
	}
	return Tcmsg{
		Family:  b[0],
		Ifindex: int32(binary.LittleEndian.Uint32(b[4:])),
		Handle:  binary.LittleEndian.Uint32(b[8:]),
		Parent:  binary.LittleEndian.Uint32(b[12:]),
		Info:    binary.LittleEndian.Uint32(b[16:]),
	}, true
}

// FilterInfo builds tcm_info for a filter: priority prio (the user value,
// 1..0xFFFF) and an EtherType in host order.
func FilterInfo(prio uint16, ethertype uint16) uint32 {
	return uint32(prio)<<16 | uint32(ethertype>>8|ethertype<<8)
}

// TCMessage is one tc netlink message as the kernel sent it: the tcmsg
// header, its attributes in order, and the raw attribute bytes.
type TCMessage struct {
	Type  uint16
	Flags uint16
	Tcmsg Tcmsg
	// Attrs is the raw attribute stream after the tcmsg.
	Attrs []byte
}

// Attr returns the payload of the last attribute of type typ, with its
// header and padding stripped, or nil when absent.
func (m TCMessage) Attr(typ uint16) []byte {
	var out []byte
	nlattr.Walk(m.Attrs, func(a nlattr.Attr) bool {
		if a.Type == typ {
			out = a.Data
		}
		return true
	})
	return out
}

// RawAttr returns the last attribute of type typ as it was on the wire:
// header, payload and padding; nil when absent.
func (m TCMessage) RawAttr(typ uint16) []byte {
	var out []byte
	off := 0
	nlattr.Walk(m.Attrs, func(a nlattr.Attr) bool {
		l := uapi.NLA_HDRLEN + len(a.Data)
		end := min((l+3)&^3, len(m.Attrs)-off)
		if a.Type == typ {
			out = m.Attrs[off : off+end]
		}
		off += (l + 3) &^ 3
		return true
	})
	return out
}

// TCFilterRequest is one RTM_NEWTFILTER, RTM_DELTFILTER or RTM_GETTFILTER
// request.
type TCFilterRequest struct {
	Type  uint16 // uapi.RTM_*
	Flags uint16 // NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, ...
	Tcmsg Tcmsg
	// Attrs is the attribute stream after the tcmsg, sent as is.
	Attrs []byte
}
