//go:build linux

package action

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// actConn sends RTM_*ACTION requests to the kernel of a test namespace.
type actConn struct{ c *netlink.Conn }

func dialAct(t *testing.T, ns *kerneltest.NetNS) *actConn {
	t.Helper()
	var c *netlink.Conn
	require.NoError(t, ns.Do(func() error {
		var err error
		c, err = netlink.Dial(unix.NETLINK_ROUTE, nil)
		return err
	}))
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	t.Cleanup(func() { c.Close() })
	return &actConn{c: c}
}

// kernelErr is the kernel's refusal: errno and extack message.
type kernelErr struct {
	errno syscall.Errno
	msg   string
}

func (a *actConn) do(typ uint16, flags netlink.HeaderFlags, tab []byte) ([]netlink.Message, *kernelErr, error) {
	body := make([]byte, uapi.SizeofTcamsg)
	if tab != nil {
		body = nlattr.Append(body, uapi.TCA_ACT_TAB, tab)
	}
	msg := netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request | flags}, Data: body}
	if typ != uapi.RTM_GETACTION {
		msg.Header.Flags |= netlink.Acknowledge
	}
	res, err := a.c.Execute(msg)
	if err != nil {
		var op *netlink.OpError
		var no syscall.Errno
		if errors.As(err, &op) && errors.As(op.Err, &no) {
			return nil, &kernelErr{no, op.Message}, nil
		}
		return nil, nil, err
	}
	return res, nil, nil
}

// mirredOpts builds a mirred TCA_ACT_OPTIONS payload.
func mirredOpts(index uint32, verdict Verdict, eaction, ifindex uint32) []byte {
	b := putGen(nil, tcGen{index: index, action: verdict})
	b = binary.LittleEndian.AppendUint32(b, eaction)
	b = binary.LittleEndian.AppendUint32(b, ifindex)
	return nlattr.Append(nil, uapi.TCA_MIRRED_PARMS, b)
}

// actNest builds one action nest from its kind and options; extra
// attributes follow.
func actNest(kind string, opts []byte, extra ...[]byte) []byte {
	b := nlattr.AppendString(nil, uapi.TCA_ACT_KIND, kind)
	if opts != nil {
		b = nlattr.Append(b, uapi.TCA_ACT_OPTIONS, opts)
	}
	for _, e := range extra {
		b = append(b, e...)
	}
	return b
}

// list numbers nests from 1.
func list(nests ...[]byte) []byte {
	var b []byte
	for i, n := range nests {
		b = nlattr.Append(b, uint16(i+1), n)
	}
	return b
}

func bitfield(t uint16, value, selector uint32) []byte {
	v := binary.LittleEndian.AppendUint32(nil, value)
	return nlattr.Append(nil, t, binary.LittleEndian.AppendUint32(v, selector))
}

// TestKernelMirredAdd sends mutated `tc actions add action mirred`
// requests (RTM_NEWACTION) to the kernel and to a Table and requires the
// same errno, the same extack text where the kernel gives one, and the
// same actions afterwards.
func TestKernelMirredAdd(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ifx := uint32(ns.Ifindex(t, "veth0"))
	conn := dialAct(t, ns)
	good := func(index uint32) []byte {
		return actNest("mirred", mirredOpts(index, Stolen, uapi.TCA_EGRESS_REDIR, ifx))
	}
	long := make([]byte, 40)
	copy(long, mirredOpts(0, Pipe, uapi.TCA_EGRESS_MIRROR, ifx)[4:])
	var many [][]byte
	for i := 0; i < 33; i++ {
		many = append(many, good(0))
	}
	tests := []struct {
		name    string
		pre     []byte // created first in both, must succeed
		tab     []byte
		replace bool
	}{
		{name: "redirect", tab: list(good(0))},
		{name: "mirror_pipe", tab: list(actNest("mirred", mirredOpts(0, Pipe, uapi.TCA_EGRESS_MIRROR, ifx)))},
		{name: "ingress_redirect_index", tab: list(actNest("mirred", mirredOpts(42, Stolen, uapi.TCA_INGRESS_REDIR, ifx)))},
		{name: "ingress_mirror", tab: list(actNest("mirred", mirredOpts(0, OK, uapi.TCA_INGRESS_MIRROR, ifx)))},
		{name: "eaction_0", tab: list(actNest("mirred", mirredOpts(0, Stolen, 0, ifx)))},
		{name: "eaction_5", tab: list(actNest("mirred", mirredOpts(0, Stolen, 5, ifx)))},
		{name: "ifindex_0", tab: list(actNest("mirred", mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, 0)))},
		{name: "no_such_device", tab: list(actNest("mirred", mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, 9999)))},
		{name: "verdict_trap", tab: list(actNest("mirred", mirredOpts(0, Trap, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_9", tab: list(actNest("mirred", mirredOpts(0, 9, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_10", tab: list(actNest("mirred", mirredOpts(0, 10, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_continue", tab: list(actNest("mirred", mirredOpts(0, Unspec, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_minus_7", tab: list(actNest("mirred", mirredOpts(0, -7, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_jump_2", tab: list(actNest("mirred", mirredOpts(0, ExtJump|2, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_goto_chain", tab: list(actNest("mirred", mirredOpts(0, ExtGotoChain|1, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "verdict_opcode_3", tab: list(actNest("mirred", mirredOpts(0, 0x30000000, uapi.TCA_EGRESS_REDIR, ifx)))},
		{name: "parms_short", tab: list(actNest("mirred", mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, ifx)[:4+27]))},
		{name: "parms_long", tab: list(actNest("mirred", nlattr.Append(nil, uapi.TCA_MIRRED_PARMS, long)))},
		{name: "parms_missing", tab: list(actNest("mirred", nlattr.AppendUint32(nil, uapi.TCA_MIRRED_BLOCKID, 3)))},
		{name: "options_missing", tab: list(actNest("mirred", nil))},
		{name: "options_empty", tab: list(actNest("mirred", []byte{}))},
		{name: "options_2_bytes", tab: list(actNest("mirred", []byte{1, 2}))},
		{name: "blockid_0", tab: list(actNest("mirred", append(mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, 0), nlattr.AppendUint32(nil, uapi.TCA_MIRRED_BLOCKID, 0)...)))},
		{name: "blockid_and_dev", tab: list(actNest("mirred", append(mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, ifx), nlattr.AppendUint32(nil, uapi.TCA_MIRRED_BLOCKID, 3)...)))},
		{name: "blockid_only", tab: list(actNest("mirred", append(mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, 0), nlattr.AppendUint32(nil, uapi.TCA_MIRRED_BLOCKID, 3)...)))},
		{name: "blockid_short", tab: list(actNest("mirred", append(mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, 0), nlattr.AppendUint16(nil, uapi.TCA_MIRRED_BLOCKID, 3)...)))},
		{name: "kind_missing", tab: list(nlattr.Append(nil, uapi.TCA_ACT_OPTIONS, mirredOpts(0, Stolen, 1, ifx)))},
		{name: "kind_empty", tab: list(nlattr.Append(nil, uapi.TCA_ACT_KIND, nil))},
		{name: "kind_no_nul", tab: list(append(nlattr.Append(nil, uapi.TCA_ACT_KIND, []byte("mirred")), nlattr.Append(nil, uapi.TCA_ACT_OPTIONS, mirredOpts(0, Stolen, 1, ifx))...))},
		{name: "kind_15_chars", tab: list(actNest("abcdefghijklmno", mirredOpts(0, Stolen, 1, ifx)))},
		{name: "kind_16_chars", tab: list(actNest("abcdefghijklmnop", mirredOpts(0, Stolen, 1, ifx)))},
		{name: "unknown_kind_second", tab: list(actNest("mirred", mirredOpts(0, 99, 1, ifx)), actNest("nosuchkind", nil))},
		{name: "cookie_16", tab: list(good(0)), pre: nil},
		{name: "cookie_17", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, make([]byte, 17))))},
		{name: "cookie_ok", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, []byte{1, 2, 3})))},
		{name: "flags_skip_hw", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 2)))},
		{name: "flags_skip_sw", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 4, 4)))},
		{name: "flags_both_skips", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 6, 6)))},
		{name: "flags_unknown_bit", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 8, 8)))},
		{name: "flags_value_unselected", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 0)))},
		{name: "flags_no_percpu", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_FLAGS, 1, 1)))},
		{name: "flags_short", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), nlattr.AppendUint32(nil, uapi.TCA_ACT_FLAGS, 2)))},
		{name: "hw_stats_delayed", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_HW_STATS, 2, 2)))},
		{name: "hw_stats_bad", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), bitfield(uapi.TCA_ACT_HW_STATS, 4, 4)))},
		{name: "index_attr_short", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), nlattr.AppendUint16(nil, uapi.TCA_ACT_INDEX, 1)))},
		{name: "index_attr_ignored", tab: list(actNest("mirred", mirredOpts(0, Stolen, 1, ifx), nlattr.AppendUint32(nil, uapi.TCA_ACT_INDEX, 77)))},
		{name: "two_auto_indexes", tab: list(good(0), good(0))},
		{name: "gap_in_numbering", tab: nlattr.Append(nlattr.Append(nil, 1, good(0)), 3, good(0))},
		{name: "second_fails_first_undone", tab: list(good(5), actNest("mirred", mirredOpts(6, Stolen, 9, ifx)))},
		{name: "33_actions", tab: list(many...)},
		{name: "32_actions", tab: list(many[:32]...)},
		{name: "empty_tab", tab: []byte{}},
		{name: "exists_no_replace", pre: list(good(3)), tab: list(good(3))},
		{name: "exists_replace", pre: list(good(3)), tab: list(actNest("mirred", mirredOpts(3, Pipe, uapi.TCA_EGRESS_MIRROR, ifx))), replace: true},
		{name: "exists_replace_bad_eaction", pre: list(good(3)), tab: list(actNest("mirred", mirredOpts(3, Pipe, 7, ifx))), replace: true},
		{name: "exists_replace_no_dev", pre: list(good(3)), tab: list(actNest("mirred", mirredOpts(3, Pipe, uapi.TCA_EGRESS_MIRROR, 0))), replace: true},
		{name: "same_index_twice", tab: list(good(4), good(4))},
		{name: "auto_after_explicit", pre: list(good(1), good(2)), tab: list(good(0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer ns.Run("tc", "actions", "flush", "action", "mirred")
			tbl := NewTable(Config{Forwarder: newFakeFwd(map[uint32]DeviceState{ifx: {Up: true, MACHeaderXmit: true, Name: "veth0"}})})
			if tt.pre != nil {
				_, kerr, err := conn.do(uapi.RTM_NEWACTION, netlink.Create|netlink.Excl, tt.pre)
				require.NoError(t, err)
				require.Nil(t, kerr)
				_, err = tbl.AddAttrs(tt.pre, false)
				require.NoError(t, err)
			}
			flags := netlink.Create | netlink.Excl
			if tt.replace {
				flags = netlink.Create | netlink.Replace
			}
			_, kerr, err := conn.do(uapi.RTM_NEWACTION, flags, tt.tab)
			require.NoError(t, err)
			_, gerr := tbl.AddAttrs(tt.tab, tt.replace)
			if kerr == nil {
				require.NoError(t, gerr, "the kernel accepted it")
			} else {
				require.Error(t, gerr, "the kernel refused it with %v %q", kerr.errno, kerr.msg)
				assert.ErrorIs(t, gerr, kerr.errno, "kernel: %v %q; here: %v", kerr.errno, kerr.msg, gerr)
				var e *Error
				require.ErrorAs(t, gerr, &e)
				if kerr.msg != "" {
					assert.Equal(t, kerr.msg, e.Msg)
				}
			}
			assert.Equal(t, kernelIndexes(t, ns), tableIndexes(tbl), "mirred actions afterwards")
			for _, a := range tbl.Actions("mirred") {
				compareDump(t, conn, tbl, a.Index())
			}
		})
	}
}

// waitNoActions flushes the kernel's standalone mirred actions and waits
// for the ones a deleted filter held to go: the kernel releases a filter's
// actions after an RCU grace period.
func waitNoActions(t *testing.T, ns *kerneltest.NetNS) {
	for i := 0; i < 300; i++ {
		_, _ = ns.Run("tc", "actions", "flush", "action", "mirred")
		if len(kernelIndexes(t, ns)) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("kernel actions did not go away")
}

// kernelIndexes lists the kernel's mirred actions with their verdicts.
func kernelIndexes(t *testing.T, ns *kerneltest.NetNS) []string {
	out, err := ns.Run("tc", "actions", "list", "action", "mirred")
	require.NoError(t, err)
	var idx []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "index" {
			idx = append(idx, f[1])
		}
	}
	return idx
}

// tableIndexes lists the table's mirred actions from its list dump, as
// kernelIndexes lists the kernel's (with the same side effect).
func tableIndexes(t *Table) []string {
	dump, err := t.DumpKind("mirred")
	if err != nil {
		panic(err)
	}
	var idx []string
	nlattr.Walk(dump, func(n nlattr.Attr) bool {
		nlattr.Walk(n.Data, func(a nlattr.Attr) bool {
			if a.Type == uapi.TCA_ACT_OPTIONS {
				nlattr.Walk(a.Data, func(o nlattr.Attr) bool {
					if o.Type == uapi.TCA_MIRRED_PARMS {
						idx = append(idx, itoa(binary.LittleEndian.Uint32(o.Data)))
					}
					return true
				})
			}
			return true
		})
		return true
	})
	return idx
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// maskTimes zeroes the tcf_t payloads (ages in ticks, which depend on
// when the dump runs) of an action dump.
func maskTimes(b []byte) []byte {
	out := append([]byte{}, b...)
	var walk func(off int, b []byte, depth int)
	walk = func(off int, b []byte, depth int) {
		pos := 0
		nlattr.Walk(b, func(a nlattr.Attr) bool {
			start := off + pos + uapi.NLA_HDRLEN
			if len(a.Data) == uapi.SizeofTcfT && depth == 2 && a.Type == uapi.TCA_MIRRED_TM {
				clear(out[start : start+uapi.SizeofTcfT])
			}
			if depth < 2 && (depth != 1 || a.Type == uapi.TCA_ACT_OPTIONS) {
				walk(start, a.Data, depth+1)
			}
			pos += (uapi.NLA_HDRLEN + len(a.Data) + 3) &^ 3
			return true
		})
	}
	walk(0, b, 0)
	return out
}

// compareDump requires the kernel's RTM_GETACTION answer for the mirred
// action with the index to equal the Table's dump byte for byte, times
// aside.
func compareDump(t *testing.T, conn *actConn, tbl *Table, index uint32) {
	t.Helper()
	req := list(append(nlattr.AppendString(nil, uapi.TCA_ACT_KIND, "mirred"), nlattr.AppendUint32(nil, uapi.TCA_ACT_INDEX, index)...))
	msgs, kerr, err := conn.do(uapi.RTM_GETACTION, 0, req)
	require.NoError(t, err)
	require.Nil(t, kerr)
	require.Len(t, msgs, 1)
	var ktab []byte
	nlattr.Walk(msgs[0].Data[uapi.SizeofTcamsg:], func(a nlattr.Attr) bool {
		if a.Type == uapi.TCA_ACT_TAB {
			ktab = a.Data
		}
		return true
	})
	mine, err := tbl.DumpAction("mirred", index)
	require.NoError(t, err)
	assert.Equal(t, maskTimes(ktab), maskTimes(mine), "dump of mirred %d", index)
}

// TestKernelFilterActions attaches cls_bpf filters whose TCA_BPF_ACT lists
// are mutated, to the kernel and to ParseChain, and requires the same
// errno and extack, and on success the same TCA_BPF_ACT dump.
func TestKernelFilterActions(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "veth0", "clsact")
	ifx := uint32(ns.Ifindex(t, "veth0"))
	rt := ns.Rtnl(t)
	conn := dialAct(t, ns)
	good := func(index uint32, v Verdict) []byte {
		return actNest("mirred", mirredOpts(index, v, uapi.TCA_EGRESS_MIRROR, ifx))
	}
	var many [][]byte
	for i := 0; i < 33; i++ {
		many = append(many, good(0, Pipe))
	}
	// Two new actions with the same explicit index in one filter request
	// are not tested here: the kernel answers -EAGAIN internally and
	// tc_new_tfilter replays the request forever (ParseChain returns
	// EAGAIN; see TestTableIndexes).
	tests := []struct {
		name string
		pre  []byte // standalone actions created first
		act  []byte
	}{
		{name: "one", act: list(good(0, Pipe))},
		{name: "three", act: list(good(0, Pipe), good(0, Pipe), good(0, OK))},
		{name: "goto_chain", act: list(good(0, ExtGotoChain|5))},
		{name: "jump", act: list(good(0, ExtJump|1), good(0, Pipe))},
		{name: "verdict_9", act: list(good(0, 9))},
		{name: "skip_hw", act: list(actNest("mirred", mirredOpts(0, Pipe, 2, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 2)))},
		{name: "skip_sw", act: list(actNest("mirred", mirredOpts(0, Pipe, 2, ifx), bitfield(uapi.TCA_ACT_FLAGS, 4, 4)))},
		{name: "no_percpu", act: list(actNest("mirred", mirredOpts(0, Pipe, 2, ifx), bitfield(uapi.TCA_ACT_FLAGS, 1, 1)))},
		{name: "cookie", act: list(actNest("mirred", mirredOpts(0, Pipe, 2, ifx), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, []byte("0123456789abcdef"))))},
		{name: "hw_stats_immediate", act: list(actNest("mirred", mirredOpts(0, Pipe, 2, ifx), bitfield(uapi.TCA_ACT_HW_STATS, 1, 1)))},
		{name: "33_actions", act: list(many...)},
		{name: "32_actions", act: list(many[:32]...)},
		{name: "unknown_kind", act: list(good(0, Pipe), actNest("nosuchkind", nil))},
		{name: "bind_existing", pre: list(good(9, Pipe)), act: list(good(9, Shot))},
		{name: "bind_existing_cookie", pre: list(good(9, Pipe)), act: list(actNest("mirred", mirredOpts(9, OK, 7, 0), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, []byte{9, 9})))},
		{name: "bind_existing_skip_hw", pre: list(actNest("mirred", mirredOpts(9, Pipe, 2, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 2))), act: list(good(9, Pipe))},
		{name: "bad_second_undoes_first", act: list(good(6, Pipe), actNest("mirred", mirredOpts(7, Pipe, 9, ifx)))},
	}
	ops := []byte{0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	tcm := kerneltest.Tcmsg{Ifindex: int32(ifx), Handle: 1, Parent: 0xFFFFFFF2, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer waitNoActions(t, ns)
			defer ns.Run("tc", "filter", "del", "dev", "veth0", "ingress")
			tbl := NewTable(Config{Forwarder: newFakeFwd(map[uint32]DeviceState{ifx: {Up: true, MACHeaderXmit: true, Name: "veth0"}})})
			if tt.pre != nil {
				_, kerr, err := conn.do(uapi.RTM_NEWACTION, netlink.Create|netlink.Excl, tt.pre)
				require.NoError(t, err)
				require.Nil(t, kerr)
				_, err = tbl.AddAttrs(tt.pre, false)
				require.NoError(t, err)
			}
			opts := nlattr.AppendUint16(nil, uapi.TCA_BPF_OPS_LEN, 1)
			opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, ops)
			opts = nlattr.Append(opts, uapi.TCA_BPF_ACT, tt.act)
			attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
			attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
			_, kerr := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
			chain, gerr := tbl.ParseChain(tt.act, FilterContext{Ingress: true})
			if kerr != nil {
				var re *kerneltest.RtnlError
				require.ErrorAs(t, kerr, &re)
				require.Error(t, gerr, "the kernel refused it: %v", kerr)
				assert.ErrorIs(t, gerr, re.Errno, "kernel: %v; here: %v", kerr, gerr)
				var e *Error
				require.ErrorAs(t, gerr, &e)
				if re.Message != "" {
					assert.Equal(t, re.Message, e.Msg)
				}
				assert.Equal(t, kernelIndexes(t, ns), tableIndexes(tbl), "nothing left behind")
				return
			}
			require.NoError(t, gerr, "the kernel accepted it")
			msgs, err := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_GETTFILTER, Tcmsg: tcm})
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			var kact []byte
			nlattr.Walk(msgs[0].Attr(uapi.TCA_OPTIONS), func(a nlattr.Attr) bool {
				if a.Type == uapi.TCA_BPF_ACT {
					kact = a.Data
				}
				return true
			})
			assert.Equal(t, maskTimes(kact), maskTimes(chain.Dump()))
			assert.Equal(t, kernelIndexes(t, ns), tableIndexes(tbl))
		})
	}
}

// actionStats reads the basic and queue counters of the kernel's mirred
// action with the index.
func actionStats(t *testing.T, conn *actConn, index uint32) Stats {
	t.Helper()
	req := list(append(nlattr.AppendString(nil, uapi.TCA_ACT_KIND, "mirred"), nlattr.AppendUint32(nil, uapi.TCA_ACT_INDEX, index)...))
	msgs, kerr, err := conn.do(uapi.RTM_GETACTION, 0, req)
	require.NoError(t, err)
	require.Nil(t, kerr)
	require.Len(t, msgs, 1)
	var st Stats
	nlattr.Walk(msgs[0].Data[uapi.SizeofTcamsg:], func(tab nlattr.Attr) bool {
		nlattr.Walk(tab.Data, func(n nlattr.Attr) bool {
			nlattr.Walk(n.Data, func(a nlattr.Attr) bool {
				if a.Type != uapi.TCA_ACT_STATS {
					return true
				}
				nlattr.Walk(a.Data, func(s nlattr.Attr) bool {
					switch s.Type {
					case uapi.TCA_STATS_BASIC:
						st.Bytes = binary.LittleEndian.Uint64(s.Data)
						st.Packets = uint64(binary.LittleEndian.Uint32(s.Data[8:]))
					case uapi.TCA_STATS_QUEUE:
						st.Drops = uint64(binary.LittleEndian.Uint32(s.Data[8:]))
						st.Overlimits = uint64(binary.LittleEndian.Uint32(s.Data[16:]))
					}
					return true
				})
				return true
			})
			return true
		})
		return true
	})
	return st
}

// TestKernelMirredFlow sends frames through cls_bpf filters carrying
// mirred actions on veth devices and requires the kernel's action
// counters (bytes as qdisc_pkt_len counts them, packets, drops,
// overlimits) and copies delivered to equal the model's.
func TestKernelMirredFlow(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	// No IPv6: link-local chatter would count as mirrored copies.
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	ns.MustRun(t, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "ip", "link", "add", "veth2", "type", "veth", "peer", "name", "veth3")
	ns.MustRun(t, "ip", "link", "add", "veth4", "type", "veth", "peer", "name", "veth5")
	for _, d := range []string{"veth0", "veth1", "veth2", "veth3"} {
		ns.MustRun(t, "ip", "link", "set", d, "up")
	}
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "veth0", "clsact")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "veth1", "clsact")
	up := uint32(ns.Ifindex(t, "veth2"))
	down := uint32(ns.Ifindex(t, "veth4"))
	v0 := ns.Ifindex(t, "veth0")
	v1 := ns.Ifindex(t, "veth1")
	rt := ns.Rtnl(t)
	conn := dialAct(t, ns)

	var sock int
	require.NoError(t, ns.Do(func() error {
		var err error
		sock, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		return err
	}))
	t.Cleanup(func() { unix.Close(sock) })
	frame := udpFrame(t, 100)
	rx := func() uint64 {
		out := ns.MustRun(t, "cat", "/sys/class/net/veth3/statistics/rx_packets")
		var n uint64
		for _, c := range strings.TrimSpace(out) {
			n = n*10 + uint64(c-'0')
		}
		return n
	}

	tests := []struct {
		name    string
		dev     int32  // device whose clsact gets the filter
		parent  uint32 // ingress or egress
		eaction uint32
		target  uint32
		verdict Verdict
	}{
		{name: "ingress_mirror", dev: v1, parent: 0xFFFFFFF2, eaction: uapi.TCA_EGRESS_MIRROR, target: up, verdict: Pipe},
		{name: "ingress_redirect_stolen", dev: v1, parent: 0xFFFFFFF2, eaction: uapi.TCA_EGRESS_REDIR, target: up, verdict: Stolen},
		{name: "egress_mirror", dev: v0, parent: 0xFFFFFFF3, eaction: uapi.TCA_EGRESS_MIRROR, target: up, verdict: Pipe},
		{name: "egress_redirect_to_down_device", dev: v0, parent: 0xFFFFFFF3, eaction: uapi.TCA_EGRESS_REDIR, target: down, verdict: Stolen},
		{name: "ingress_mirror_to_down_device", dev: v1, parent: 0xFFFFFFF2, eaction: uapi.TCA_EGRESS_MIRROR, target: down, verdict: Pipe},
	}
	ops := []byte{0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index := uint32(100 + i)
			act := list(actNest("mirred", mirredOpts(index, tt.verdict, tt.eaction, tt.target)))
			opts := nlattr.AppendUint16(nil, uapi.TCA_BPF_OPS_LEN, 1)
			opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, ops)
			opts = nlattr.Append(opts, uapi.TCA_BPF_ACT, act)
			attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
			attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
			tcm := kerneltest.Tcmsg{Ifindex: tt.dev, Handle: 1, Parent: tt.parent, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)}
			_, err := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
			require.NoError(t, err)
			defer rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_DELTFILTER, Tcmsg: tcm})

			rx0 := rx()
			const n = 3
			sa := &unix.SockaddrLinklayer{Ifindex: int(v0), Protocol: 0x0300}
			for j := 0; j < n; j++ {
				// A drop at egress comes back to the sender as ENOBUFS.
				if err := unix.Sendto(sock, frame, 0, sa); err != nil {
					require.ErrorIs(t, err, syscall.ENOBUFS)
				}
			}
			// Ingress processing and veth delivery finish in softirq
			// context, possibly after sendto returned: wait for the
			// kernel's counters to settle.
			var kst Stats
			var kcopies uint64
			for wait := 0; wait < 100; wait++ {
				kst = actionStats(t, conn, index)
				kcopies = rx() - rx0
				if kst.Packets == n && (tt.target == down || kcopies == n) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			kcopies = rx() - rx0

			fwd := newFakeFwd(map[uint32]DeviceState{up: {Up: true, MACHeaderXmit: true}, down: {Up: false, MACHeaderXmit: true}})
			tbl := NewTable(Config{Forwarder: fwd})
			chain, err := tbl.ParseChain(act, FilterContext{Ingress: tt.parent == 0xFFFFFFF2})
			require.NoError(t, err)
			var copies uint64
			for j := 0; j < n; j++ {
				pkt := egressPacket(t, frame)
				if tt.parent == 0xFFFFFFF2 {
					pkt.Direction = packet.Ingress
				}
				var res Result
				chain.Run(pkt, &res)
			}
			copies = uint64(len(fwd.sent))
			mst := chain.Actions()[0].Stats()
			assert.Equal(t, kst.Bytes, mst.Bytes, "bytes")
			assert.Equal(t, kst.Packets, mst.Packets, "packets")
			assert.Equal(t, kst.Drops, mst.Drops, "drops")
			assert.Equal(t, kst.Overlimits, mst.Overlimits, "overlimits")
			assert.Equal(t, kcopies, copies, "copies delivered to the target")
		})
	}
}

var tcTimes = regexp.MustCompile(` (installed|used|firstused) [0-9]+ sec`)

// TestKernelMirredFormat compares the printed form of mirred actions with
// what tc prints for the kernel's: `tc -s actions get` for standalone
// actions and `tc -s filter show` for a filter's.
func TestKernelMirredFormat(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		kerneltest.Skip(t, "iproute2 'tc' not installed")
	}
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "veth0", "clsact")
	ifx := uint32(ns.Ifindex(t, "veth0"))
	conn := dialAct(t, ns)
	fwd := newFakeFwd(map[uint32]DeviceState{ifx: {Up: true, MACHeaderXmit: true, Name: "veth0"}})
	tbl := NewTable(Config{Forwarder: fwd})
	nests := [][]byte{
		actNest("mirred", mirredOpts(3, Stolen, uapi.TCA_EGRESS_REDIR, ifx), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, []byte{0x0a, 0x0b})),
		actNest("mirred", mirredOpts(4, Pipe, uapi.TCA_EGRESS_MIRROR, ifx), bitfield(uapi.TCA_ACT_FLAGS, 1, 1)),
		actNest("mirred", mirredOpts(5, ExtJump|1, uapi.TCA_INGRESS_MIRROR, ifx), bitfield(uapi.TCA_ACT_HW_STATS, 1, 1)),
		actNest("mirred", mirredOpts(6, ExtGotoChain|3, uapi.TCA_INGRESS_REDIR, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 2)),
	}
	for i, n := range nests {
		index := uint32(3 + i)
		t.Run(fmt.Sprintf("get_%d", index), func(t *testing.T) {
			if i == 3 {
				// goto chain needs a filter; standalone gets a plain verdict.
				n = actNest("mirred", mirredOpts(6, Unspec, uapi.TCA_INGRESS_REDIR, ifx), bitfield(uapi.TCA_ACT_FLAGS, 2, 2))
			}
			_, kerr, err := conn.do(uapi.RTM_NEWACTION, netlink.Create|netlink.Excl, list(n))
			require.NoError(t, err)
			require.Nil(t, kerr)
			acts, err := tbl.AddAttrs(list(n), false)
			require.NoError(t, err)
			out := ns.MustRun(t, "tc", "-s", "actions", "get", "action", "mirred", "index", fmt.Sprint(index))
			want := strings.TrimPrefix(out, "total acts 0\n")
			assert.Equal(t, tcTimes.ReplaceAllString(want, ""), tcTimes.ReplaceAllString(tbl.Format(acts[0]), ""))
		})
	}
	t.Run("filter_show", func(t *testing.T) {
		actList := list(
			actNest("mirred", mirredOpts(0, Pipe, uapi.TCA_EGRESS_MIRROR, ifx), nlattr.Append(nil, uapi.TCA_ACT_COOKIE, []byte{1, 2, 3})),
			actNest("mirred", mirredOpts(0, ExtGotoChain|3, uapi.TCA_EGRESS_MIRROR, ifx), bitfield(uapi.TCA_ACT_FLAGS, 1, 1)),
			actNest("mirred", mirredOpts(0, ExtJump|1, uapi.TCA_INGRESS_MIRROR, ifx), bitfield(uapi.TCA_ACT_HW_STATS, 2, 2)),
			actNest("mirred", mirredOpts(0, Stolen, uapi.TCA_EGRESS_REDIR, ifx)),
		)
		opts := nlattr.AppendUint16(nil, uapi.TCA_BPF_OPS_LEN, 1)
		opts = nlattr.Append(opts, uapi.TCA_BPF_OPS, []byte{0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
		opts = nlattr.Append(opts, uapi.TCA_BPF_ACT, actList)
		attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
		attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, opts)
		tcm := kerneltest.Tcmsg{Ifindex: int32(ifx), Handle: 1, Parent: 0xFFFFFFF2, Info: kerneltest.FilterInfo(1, uapi.ETH_P_ALL)}
		_, err := ns.Rtnl(t).Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
		require.NoError(t, err)
		chain, err := tbl.ParseChain(actList, FilterContext{Ingress: true})
		require.NoError(t, err)
		out := ns.MustRun(t, "tc", "-s", "filter", "show", "dev", "veth0", "ingress")
		i := strings.Index(out, "\n\taction order 1")
		require.GreaterOrEqual(t, i, 0, out)
		want := strings.TrimRight(out[i:], "\n")
		assert.Equal(t, tcTimes.ReplaceAllString(want, ""), tcTimes.ReplaceAllString(strings.TrimRight(chain.String(), "\n"), ""))
	})
}
