package classifier

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

func blockDump(t *testing.T, b *Block) string {
	t.Helper()
	msgs, err := b.Dump(Message{})
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		out = append(out, hex.EncodeToString(m.Body()))
	}
	return strings.Join(out, "\n")
}

// FuzzBlockRequest feeds random filter requests (type, flags, tcm_info,
// handle, attributes) to a block holding filters in two chains: a refused
// request must wrap an errno and leave the dump exactly as it was, an
// accepted one must leave a dump that decodes, and nothing may panic;
// Classify must still run.
func FuzzBlockRequest(f *testing.F) {
	classic := ops([4]uint32{0x06, 0, 0, 0xFFFFFFFF}) // ret #-1
	filterAttrs := func(chain uint32, kind string, o []byte) []byte {
		a := nlattr.AppendUint32(nil, uapi.TCA_CHAIN, chain)
		a = nlattr.AppendString(a, uapi.TCA_KIND, kind)
		return nlattr.Append(a, uapi.TCA_OPTIONS, o)
	}
	goto2 := action.EncodeSpecs([]action.Spec{&action.Gact{Params: action.Params{Verdict: gotoChainVerdict(2)}}})
	f.Add(uint16(uapi.RTM_NEWTFILTER), uint16(uapi.NLM_F_CREATE|uapi.NLM_F_EXCL), Info(10, ProtocolAll), uint32(0), filterAttrs(0, "bpf", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, classic)))
	f.Add(uint16(uapi.RTM_NEWTFILTER), uint16(uapi.NLM_F_CREATE), Info(0, uapi.ETH_P_IP), uint32(3), filterAttrs(5, "bpf", opts{}.u16(uapi.TCA_BPF_OPS_LEN, 1).raw(uapi.TCA_BPF_OPS, classic).raw(uapi.TCA_BPF_ACT, goto2)))
	f.Add(uint16(uapi.RTM_NEWTFILTER), uint16(0), Info(1, ProtocolAll), uint32(1), filterAttrs(0, "nosuch", nil))
	f.Add(uint16(uapi.RTM_DELTFILTER), uint16(0), Info(1, ProtocolAll), uint32(0), []byte(nil))
	f.Add(uint16(uapi.RTM_DELTFILTER), uint16(0), uint32(0), uint32(0), nlattr.AppendUint32(nil, uapi.TCA_CHAIN, 1))
	f.Add(uint16(uapi.RTM_GETTFILTER), uint16(0), Info(1, ProtocolAll), uint32(1), []byte{5, 0, 11, 0, 1})
	f.Fuzz(func(t *testing.T, typ, flags uint16, info, h uint32, attrs []byte) {
		table := action.NewTable(action.Config{})
		b := NewBlock(BlockConfig{Config: Config{Actions: NewActionParser(table)}, Parent: 0xFFFFFFF2})
		for _, w := range []Where{{0, 1, ProtocolAll}, {1, 1, uapi.ETH_P_IP}} {
			_, _, err := b.Change(w, FilterSpec{Handle: 1, Program: retK(0xFFFFFFFF)}, Create)
			require.NoError(t, err)
		}
		before := blockDump(t, b)
		_, err := b.Request(Message{Type: typ, Flags: flags, TCMsg: TCMsg{Handle: h, Info: info}, Attrs: attrs})
		if err != nil {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.NotZero(t, e.Errno)
			require.Equal(t, before, blockDump(t, b), "a refused request left a trace")
		} else {
			msgs, err := b.Dump(Message{})
			require.NoError(t, err)
			for _, m := range msgs {
				_, err := ParseMessage(m.Type, m.Flags, m.Body())
				require.NoError(t, err)
			}
		}
		_ = b.Classify(newPacket(t))
	})
}
