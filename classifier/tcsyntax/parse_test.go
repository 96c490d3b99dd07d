package tcsyntax_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/handle"
)

var testDevs = tcsyntax.DeviceMap{"eth0": 2, "eth1": 3}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name string
		line string
		want func(t *testing.T, f *tcsyntax.Filter)
	}{
		{"whole_line", `tc filter add dev eth0 ingress protocol ip pref 10 handle 0x5 chain 2 bpf bytecode '1,6 0 0 4294967295' flowid 1:10 da skip_hw`, func(t *testing.T, f *tcsyntax.Filter) {
			assert.Equal(t, tcsyntax.Add, f.Command)
			assert.Equal(t, uint32(2), f.Ifindex)
			assert.Equal(t, handle.IngressParent, f.Parent)
			assert.Equal(t, classifier.Where{Chain: 2, Prio: 10, Protocol: 0x0800}, f.Where())
			assert.Equal(t, uint32(5), f.Handle)
			assert.Equal(t, handle.Handle(0x10010), f.ClassID)
			assert.True(t, f.DirectAction)
			assert.Equal(t, uint32(classifier.SkipHW), f.Flags)
		}},
		{"prefixes_as_tc", `pro ipv6 pr 3 bpf b '1,6 0 0 0' cl 1:2 d s`, func(t *testing.T, f *tcsyntax.Filter) {
			assert.Equal(t, uint16(0x86DD), f.Protocol)
			assert.Equal(t, uint16(3), f.Pref)
			assert.Equal(t, handle.Handle(0x10002), f.ClassID)
			assert.True(t, f.DirectAction)
			assert.Equal(t, uint32(classifier.SkipHW), f.Flags, `"s" is skip_hw, tried first`)
		}},
		{"change_has_no_default_protocol", `tc filter change dev eth0 egress pref 1 handle 1 bpf bc '1,6 0 0 0'`, func(t *testing.T, f *tcsyntax.Filter) {
			assert.Equal(t, tcsyntax.Change, f.Command)
			assert.Equal(t, uint16(0), f.Protocol)
		}},
		{"object_file", `bpf da obj prog.o sec cls verbose`, func(t *testing.T, f *tcsyntax.Filter) {
			assert.Equal(t, tcsyntax.ObjectFile, f.Source)
			assert.Equal(t, "prog.o", f.File)
			assert.Equal(t, "cls", f.Section)
			assert.True(t, f.Verbose)
			_, err := f.Message()
			assert.ErrorIs(t, err, syscall.EOPNOTSUPP)
			assert.ErrorIs(t, err, tcsyntax.ErrNoObjects, "no Config.Objects")
		}},
		{"object_pinned", `bpf da pinned /sys/fs/bpf/p`, func(t *testing.T, f *tcsyntax.Filter) {
			assert.Equal(t, tcsyntax.ObjectPinned, f.Source)
			_, err := f.Message()
			assert.ErrorIs(t, err, syscall.EOPNOTSUPP)
			assert.ErrorIs(t, err, tcsyntax.ErrObjectNotSupported)
		}},
		{"actions", `bpf bc '1,6 0 0 0' action mirred egress redirect dev eth1 index 4 cookie 0a0b action skbedit mark 5/0xff pipe action police rate 1mbit burst 10k conform-exceed drop/pass action vlan push id 10 protocol 802.1ad priority 3 action csum iph and tcp action gact drop random determ pass 10 index 7 action bpf bytecode '1,6 0 0 0' action pass`, func(t *testing.T, f *tcsyntax.Filter) {
			require.Len(t, f.Actions, 8)
			m := f.Actions[0].(*action.Mirred)
			assert.Equal(t, &action.Mirred{Params: action.Params{Index: 4, Verdict: action.Stolen, Cookie: []byte{10, 11}}, Action: action.EgressRedirect, Ifindex: 3}, m)
			s := f.Actions[1].(*action.Skbedit)
			assert.True(t, s.SetMark && s.SetMask)
			assert.Equal(t, uint32(0xff), s.Mask)
			p := f.Actions[2].(*action.Police)
			assert.Equal(t, uint32(125000), p.Rate.Rate)
			assert.Equal(t, action.BurstTicks(125000, 10240), p.Burst)
			assert.Equal(t, action.Shot, p.Verdict)
			assert.Equal(t, action.OK, p.Conform)
			v := f.Actions[3].(*action.Vlan)
			assert.Equal(t, uint16(0x88A8), v.Protocol)
			c := f.Actions[4].(*action.Csum)
			assert.Equal(t, action.CsumIPv4Header|action.CsumTCP, c.Update)
			g := f.Actions[5].(*action.Gact)
			assert.Equal(t, action.ProbDeterm, g.Prob)
			assert.Equal(t, uint32(7), g.Index)
			assert.Equal(t, action.OK, f.Actions[7].(*action.Gact).Verdict)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tcsyntax.ParseFilter(tt.line, tcsyntax.Config{Devices: testDevs})
			require.NoError(t, err)
			tt.want(t, f)
			again, err := tcsyntax.ParseFilter(f.String(), tcsyntax.Config{Devices: testDevs})
			require.NoError(t, err, f.String())
			assert.Equal(t, f.String(), again.String())
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		errno syscall.Errno
		msg   string
	}{
		{"unknown_option", `bpf bc '1,6 0 0 0' bytcode`, syscall.EINVAL, `word 4 "bytcode": What is "bytcode"?`},
		{"bad_mode", `bpf frob x`, syscall.EINVAL, `word 2 "frob": What mode is "frob"?`},
		{"bad_classid", `bpf bc '1,6 0 0 0' classid zz`, syscall.EINVAL, `word 5 "zz": Illegal "classid"`},
		{"bad_pref", `pref 70000 bpf bc '1,6 0 0 0'`, syscall.EINVAL, `word 2 "70000": invalid priority value`},
		{"bad_protocol", `protocol bogus bpf bc '1,6 0 0 0'`, syscall.EINVAL, `word 2 "bogus": invalid protocol`},
		{"duplicate_parent", `ingress egress bpf bc '1,6 0 0 0'`, syscall.EINVAL, `word 2 "egress": Error: "egress" is duplicate parent ID`},
		{"handle_without_kind", `handle 1`, syscall.EINVAL, `Must specify filter type when using "handle"`},
		{"other_kind", `u32 match ip src 1.2.3.4`, syscall.EOPNOTSUPP, `word 1 "u32": filter kind "u32" is not supported: only bpf`},
		{"no_program", `bpf classid 1:1`, syscall.EINVAL, `bpf needs a program`},
		{"unknown_device", `bpf bc '1,6 0 0 0' action mirred egress redirect dev eth9`, syscall.ENODEV, `word 9 "eth9": Cannot find device "eth9"`},
		{"bad_control", `bpf bc '1,6 0 0 0' action gact frob`, syscall.EINVAL, `word 6 "frob": Bad action type frob`},
		{"police_needs_burst", `bpf bc '1,6 0 0 0' police rate 1mbit`, syscall.EINVAL, `'burst' requires 'rate'.`},
		{"csum_empty", `bpf bc '1,6 0 0 0' action csum ipx`, syscall.EINVAL, `Illegal csum construct, empty <UPDATE> list`},
		{"other_action", `bpf bc '1,6 0 0 0' action pedit ex munge ip ttl set 1`, syscall.EOPNOTSUPP, `word 5 "pedit": action kind "pedit" is not supported`},
		{"empty_action", `bpf bc '1,6 0 0 0' action`, syscall.EINVAL, `Command line is not complete`},
		{"missing_file", `bpf bytecode-file /nonexistent/x`, syscall.ENOENT, `Cannot read bytecode-file`},
		{"unterminated_quote", `bpf bc '1,6 0 0 0`, syscall.EINVAL, `unterminated ' quote`},
		{"shell_variable", `bpf bc $PROG`, syscall.EINVAL, `shell syntax '$'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tcsyntax.ParseFilter(tt.line, tcsyntax.Config{Devices: testDevs})
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tt.errno)
			assert.Contains(t, err.Error(), tt.msg)
			var te *tcsyntax.Error
			assert.True(t, errors.As(err, &te))
		})
	}
}

// TestApplyRefusals: what tc parses and the kernel refuses, the Block
// refuses with the kernel's errno.
func TestApplyRefusals(t *testing.T) {
	blk := classifier.NewBlock(classifier.BlockConfig{Parent: 0xFFFFFFF2})
	f, err := tcsyntax.ParseFilter(`pref 1 bpf bc '3,32 0 0 0,21 0 1 7,6 0 0 4294967295'`, tcsyntax.Config{})
	require.NoError(t, err)
	assert.ErrorIs(t, f.Apply(blk), syscall.EINVAL, "jump out of range")
	f, err = tcsyntax.ParseFilter(`pref 1 bpf bc '1,6 0 0 0' skip_sw`, tcsyntax.Config{})
	require.NoError(t, err)
	assert.ErrorIs(t, f.Apply(blk), syscall.EOPNOTSUPP, "skip_sw with no offloading device")
	f, err = tcsyntax.ParseFilter(`pref 1 bpf bc '1,6 0 0 0' action drop`, tcsyntax.Config{})
	require.NoError(t, err)
	assert.ErrorIs(t, f.Apply(blk), syscall.EOPNOTSUPP, "actions without an action parser")
}

func TestSplit(t *testing.T) {
	got, err := tcsyntax.Split(`a 'b c' "d \"e\"" f\ g h'i'"j" # comment`)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b c", `d "e"`, "f g", "hij"}, got)
	for _, w := range []string{"", "a b", "it's", "x'y", "$", "plain-1:2"} {
		back, err := tcsyntax.Split(tcsyntax.Quote(w))
		require.NoError(t, err)
		assert.Equal(t, []string{w}, back, "quote %q", w)
	}
}

func TestProtocolName(t *testing.T) {
	assert.Equal(t, "802.1Q", tcsyntax.ProtocolName(0x8100))
	assert.Equal(t, "LLDP", tcsyntax.ProtocolName(0x88CC))
	assert.Equal(t, "[4660]", tcsyntax.ProtocolName(0x1234))
	p, ok := tcsyntax.ParseProtocol("802.1q")
	assert.True(t, ok)
	assert.Equal(t, uint16(0x8100), p)
}
