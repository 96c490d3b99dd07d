package classifier

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// AppendOptions appends the filter's TCA_OPTIONS attribute to b exactly as
// cls_bpf_dump writes it (host byte order, 4-byte alignment, zero padding,
// no NLA_F_NESTED on the nest), in the kernel's order:
//
//	TCA_BPF_CLASSID     if the classid is not 0
//	TCA_BPF_NAME        eBPF, if a name was given (with its NUL)
//	TCA_BPF_ID          eBPF
//	TCA_BPF_TAG         eBPF
//	TCA_BPF_OPS_LEN     classic (u16, padded)
//	TCA_BPF_OPS         classic
//	TCA_BPF_ACT/POLICE  if the action chain dumps itself
//	TCA_BPF_FLAGS       1, if direct-action
//	TCA_BPF_FLAGS_GEN   if not 0 (it always holds IN_HW or NOT_IN_HW)
//
// The result is what RTM_GETTFILTER returns as TCA_OPTIONS for the same
// filter in the kernel, byte for byte.
func (f *Filter) AppendOptions(b []byte) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	if f.classID != 0 {
		ae.Uint32(uapi.TCA_BPF_CLASSID, uint32(f.classID))
	}
	if f.ebpf != nil {
		if f.hasName {
			ae.String(uapi.TCA_BPF_NAME, f.name)
		}
		ae.Uint32(uapi.TCA_BPF_ID, f.ebpf.ID())
		tag := f.ebpf.Tag()
		ae.Bytes(uapi.TCA_BPF_TAG, tag[:])
	} else {
		insns := f.classic.Instructions()
		ae.Uint16(uapi.TCA_BPF_OPS_LEN, uint16(len(insns)))
		ops := make([]byte, 0, len(insns)*uapi.SizeofSockFilter)
		for _, in := range insns {
			ops = binary.LittleEndian.AppendUint16(ops, in.Op)
			ops = append(ops, in.Jt, in.Jf)
			ops = binary.LittleEndian.AppendUint32(ops, in.K)
		}
		ae.Bytes(uapi.TCA_BPF_OPS, ops)
	}
	inner, err := ae.Encode()
	if err != nil {
		return b, fmt.Errorf("dump filter %s: %w", hexs(f.handle), err)
	}
	if d, ok := f.actions.(interface{ AppendAttrs([]byte) ([]byte, error) }); ok {
		if inner, err = d.AppendAttrs(inner); err != nil {
			return b, fmt.Errorf("dump filter %s actions: %w", hexs(f.handle), err)
		}
	}
	ae = netlink.NewAttributeEncoder()
	if f.direct {
		ae.Uint32(uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
	}
	if f.genFlags != 0 {
		ae.Uint32(uapi.TCA_BPF_FLAGS_GEN, f.genFlags)
	}
	tail, err := ae.Encode()
	if err != nil {
		return b, fmt.Errorf("dump filter %s: %w", hexs(f.handle), err)
	}
	inner = append(inner, tail...)
	if uapi.NLA_HDRLEN+len(inner) > 0xFFFF {
		return b, &Error{Op: "dump", Msg: fmt.Sprintf("filter %s: %d bytes of options do not fit one attribute", hexs(f.handle), len(inner)), Errno: syscall.EMSGSIZE}
	}
	return nlattr.Append(b, uapi.TCA_OPTIONS, inner), nil
}

// Dump returns the TCA_OPTIONS attribute of the filter with handle h, as
// RTM_GETTFILTER reports it (see Filter.AppendOptions). A missing handle is
// ENOENT, as tc_get_tfilter reports it.
func (c *Chain) Dump(h uint32) ([]byte, error) {
	f, ok := c.Get(h)
	if !ok {
		return nil, &Error{Op: "get", Msg: "no filter with handle " + hexs(h), Extack: extackHandleNotFound, Errno: syscall.ENOENT}
	}
	c.updateStats(f)
	return f.AppendOptions(nil)
}
