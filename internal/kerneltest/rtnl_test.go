package kerneltest

import (
	"encoding/hex"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestRtnlFilterRoundTrip adds the spec's example classic filter through
// raw RTM_NEWTFILTER and reads back the dump bytes the spec records
// (cls_bpf.md §5.8), which proves the harness sends and reads exactly.
func TestRtnlFilterRoundTrip(t *testing.T) {
	ns := NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "veth0", "clsact")
	rt := ns.Rtnl(t)
	idx := ns.Ifindex(t, "veth0")

	ops, _ := hex.DecodeString("280000000c000000150000010008000006000000ffffffff0600000000000000")
	opts := nlattr.AppendUint32(nil, uapi.TCA_BPF_CLASSID, 0x00010010)
	opts = nlattr.AppendUint16(opts, uapi.TCA_BPF_OPS_LEN, 4)
	opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, ops)
	attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
	attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
	tcm := Tcmsg{Ifindex: idx, Handle: 1, Parent: 0xFFFFFFF2, Info: FilterInfo(10, uapi.ETH_P_ALL)}

	_, err := rt.Do(TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
	require.NoError(t, err)

	_, err = rt.Do(TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
	var rerr *RtnlError
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, syscall.EEXIST, rerr.Errno)
	assert.Equal(t, "Filter already exists", rerr.Message)

	msgs, err := rt.Do(TCFilterRequest{Type: uapi.RTM_GETTFILTER, Tcmsg: tcm})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	want := "40000200" + "0800030010000100" + "0600040004000000" +
		"24000500" + hex.EncodeToString(ops) + "0800090008000000"
	assert.Equal(t, want, hex.EncodeToString(msgs[0].RawAttr(uapi.TCA_OPTIONS)))

	dump, err := rt.DumpFilters(idx, 0xFFFFFFF2)
	require.NoError(t, err)
	require.Len(t, dump, 2, "one proto header message and one filter")
	assert.Zero(t, dump[0].Tcmsg.Handle)
	assert.Equal(t, uint32(1), dump[1].Tcmsg.Handle)
}
