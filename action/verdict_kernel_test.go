package action

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// mirredAct is one TCA_BPF_ACT list holding a mirred mirror action to
// ifindex whose control verdict is v.
func mirredAct(v Verdict, ifindex int32) []byte {
	parms := make([]byte, uapi.SizeofTcMirred)
	binary.LittleEndian.PutUint32(parms[8:], uint32(v)) // tc_gen.action
	binary.LittleEndian.PutUint32(parms[20:], uapi.TCA_EGRESS_MIRROR)
	binary.LittleEndian.PutUint32(parms[24:], uint32(ifindex))
	opts := nlattr.Append(nil, uapi.TCA_MIRRED_PARMS, parms)
	act := nlattr.AppendString(nil, uapi.TCA_ACT_KIND, "mirred")
	act = nlattr.Append(act, uapi.TCA_ACT_OPTIONS, opts)
	return nlattr.Append(nil, 1, act)
}

// TestKernelValid configures a mirred action with each verdict of
// validCases, and a random sample, on a cls_bpf filter and requires the
// kernel to accept exactly the verdicts Valid accepts, refusing the others
// with EINVAL and Validate's extack text.
func TestKernelValid(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "lo", "clsact")
	rt := ns.Rtnl(t)
	idx := ns.Ifindex(t, "lo")

	values := make([]Verdict, 0, len(validCases)+40)
	for _, tt := range validCases {
		values = append(values, tt.v)
	}
	r := rand.New(rand.NewPCG(10, 11))
	for range 40 {
		values = append(values, Verdict(r.Uint32()))
	}
	accepted := 0
	for i, v := range values {
		opts := nlattr.AppendUint16(nil, uapi.TCA_BPF_OPS_LEN, 1)
		opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, []byte{0x06, 0, 0, 0, 0, 0, 0, 0})
		opts = nlattr.Append(opts, uapi.TCA_BPF_ACT, mirredAct(v, idx))
		attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
		_, kerr := rt.Do(kerneltest.TCFilterRequest{
			Type:  uapi.RTM_NEWTFILTER,
			Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL,
			Tcmsg: kerneltest.Tcmsg{Ifindex: idx, Handle: uint32(i + 1), Parent: 0xFFFFFFF2, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)},
			Attrs: attrs,
		})
		err := v.Validate()
		name := fmt.Sprintf("%d (%#x)", int32(v), uint32(v))
		if kerr == nil {
			accepted++
			assert.NoError(t, err, name)
			assert.True(t, v.Valid(), name)
			continue
		}
		var rerr *kerneltest.RtnlError
		require.ErrorAs(t, kerr, &rerr, name)
		assert.Equal(t, syscall.EINVAL, rerr.Errno, name)
		if assert.Error(t, err, name) {
			assert.True(t, strings.HasPrefix(err.Error(), rerr.Message), "%s: kernel says %q, we say %q", name, rerr.Message, err)
		}
		assert.False(t, v.Valid(), name)
	}
	t.Logf("kernel accepted %d of %d verdicts", accepted, len(values))
	assert.Positive(t, accepted)
	assert.Less(t, accepted, len(values))
}

// tcControl is the control_action object tc -j prints.
type tcControl struct {
	Type  string  `json:"type"`
	Chain *uint32 `json:"chain"`
	Jump  *uint32 `json:"jump"`
}

// TestKernelParseVerdict gives the word forms of parseCases to tc as a
// mirred action's control verdict and compares what tc refuses and what the
// kernel then reports (printed by tc's print_action_control) with
// ParseVerdict and String. tc's mirred takes no numbers and not "stolen";
// those cases are ParseVerdict's documented additions and are skipped.
func TestKernelParseVerdict(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "lo", "clsact")
	handle := 0
	for _, tt := range parseCases {
		words := strings.Fields(tt.in)
		if len(words) == 0 || tt.in == "stolen" {
			continue
		}
		if strings.ContainsAny(words[0][:1], "0123456789+-") {
			continue // numbers: parse_action_control with allow_num, as police's conform-exceed only
		}
		handle++
		args := append([]string{"filter", "add", "dev", "lo", "ingress", "pref", "1", "handle", strconv.Itoa(handle),
			"bpf", "bytecode", "1,6 0 0 0", "action", "mirred", "egress", "mirror", "dev", "lo"}, words...)
		_, tcErr := ns.Run("tc", args...)
		v, err := ParseVerdict(tt.in)
		if tcErr != nil {
			assert.Error(t, err, "%q: tc refuses it", tt.in)
			continue
		}
		if !assert.NoError(t, err, "%q: tc accepts it", tt.in) {
			continue
		}
		out := ns.MustRun(t, "tc", "-j", "filter", "get", "dev", "lo", "ingress", "pref", "1", "handle", strconv.Itoa(handle), "protocol", "all", "bpf")
		var dump []struct {
			Options struct {
				Actions []struct {
					Control tcControl `json:"control_action"`
				} `json:"actions"`
			} `json:"options"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &dump), out)
		require.Len(t, dump, 1, out)
		require.Len(t, dump[0].Options.Actions, 1, out)
		got := dump[0].Options.Actions[0].Control
		printed := got.Type
		if got.Chain != nil {
			printed += " chain " + strconv.FormatUint(uint64(*got.Chain), 10)
		}
		if got.Jump != nil {
			printed += " " + strconv.FormatUint(uint64(*got.Jump), 10)
		}
		assert.Equal(t, v.String(), printed, "%q", tt.in)
	}
	t.Logf("%d verdict strings compared with tc", handle)
	require.Positive(t, handle)
}

// TestKernelParseVerdictRandom gives random sequences of verdict words,
// prefixes and numbers to tc as a mirred action's control verdict, as
// TestKernelParseVerdict does with its table.
func TestKernelParseVerdictRandom(t *testing.T) {
	vocab := []string{"continue", "c", "co", "dr", "drop", "shot", "s", "sh", "pass", "p", "pa", "ok", "o",
		"rec", "pipe", "pi", "goto", "g", "chain", "ch", "jump", "j", "trap", "t", "x", "st",
		"0", "5", "010", "268435455", "268435456", "-0", "+2"}
	n := 120
	if testing.Short() {
		n = 30
	}
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "lo", "clsact")
	r := rand.New(rand.NewPCG(12, 13))
	accepted := 0
	for i := range n {
		names, numbers := vocab[:26], vocab[26:]
		words := []string{names[r.IntN(len(names))]}
		switch {
		case (words[0] == "goto" || words[0] == "g") && r.IntN(4) != 0:
			words = append(words, []string{"chain", "ch", "c", "x"}[r.IntN(4)], numbers[r.IntN(len(numbers))])
		case (words[0] == "jump" || words[0] == "j") && r.IntN(4) != 0:
			words = append(words, numbers[r.IntN(len(numbers))])
		}
		for r.IntN(4) == 0 {
			words = append(words, vocab[r.IntN(len(vocab))])
		}
		in := strings.Join(words, " ")
		handle := strconv.Itoa(i + 1)
		args := append([]string{"filter", "add", "dev", "lo", "ingress", "pref", "1", "handle", handle,
			"bpf", "bytecode", "1,6 0 0 0", "action", "mirred", "egress", "mirror", "dev", "lo"}, words...)
		_, tcErr := ns.Run("tc", args...)
		// Words the verdict does not take are tc's filter parser's (a
		// trailing "c" is its "classid"): compare only the verdict.
		v, used, reason := parseWords(words)
		if tcErr != nil {
			assert.False(t, reason == "" && used == len(words), "%q: tc refuses it, ParseVerdict takes it", in)
			continue
		}
		accepted++
		if !assert.Empty(t, reason, "%q: tc accepts it", in) {
			continue
		}
		out := ns.MustRun(t, "tc", "-j", "filter", "get", "dev", "lo", "ingress", "pref", "1", "handle", handle, "protocol", "all", "bpf")
		var dump []struct {
			Options struct {
				Actions []struct {
					Control tcControl `json:"control_action"`
				} `json:"actions"`
			} `json:"options"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &dump), out)
		require.Len(t, dump, 1, out)
		require.Len(t, dump[0].Options.Actions, 1, out)
		got := dump[0].Options.Actions[0].Control
		printed := got.Type
		if got.Chain != nil {
			printed += " chain " + strconv.FormatUint(uint64(*got.Chain), 10)
		}
		if got.Jump != nil {
			printed += " " + strconv.FormatUint(uint64(*got.Jump), 10)
		}
		assert.Equal(t, v.String(), printed, "%q", in)
	}
	t.Logf("tc accepted %d of %d", accepted, n)
}
