package action

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// one builds a one-action chain from a spec.
func one(t *testing.T, tbl *Table, s Spec, fc FilterContext) (*Chain, Action) {
	t.Helper()
	c, err := tbl.NewChain([]Spec{s}, fc)
	require.NoError(t, err)
	return c, c.Actions()[0]
}

func TestGact(t *testing.T) {
	t.Run("verdicts", func(t *testing.T) {
		for _, v := range []Verdict{OK, Shot, Pipe, Reclassify, Stolen, Trap, Unspec, Queued, Redirect} {
			tbl := NewTable(Config{})
			c, a := one(t, tbl, &Gact{Params: Params{Verdict: v}}, FilterContext{})
			var res Result
			assert.Equal(t, v, c.Run(egressPacket(t, udpFrame(t, 10)), &res), "%v", v)
			if v == Shot {
				assert.Equal(t, uint64(1), a.Stats().Drops)
			} else {
				assert.Zero(t, a.Stats().Drops)
			}
		}
	})
	t.Run("determ_every_third", func(t *testing.T) {
		tbl := NewTable(Config{})
		c, a := one(t, tbl, &Gact{Params: Params{Verdict: OK}, Prob: ProbDeterm, ProbVal: 3, ProbVerdict: Shot}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 10))
		var res Result
		var got []Verdict
		for i := 0; i < 6; i++ {
			got = append(got, c.Run(pkt, &res))
		}
		assert.Equal(t, []Verdict{OK, OK, Shot, OK, OK, Shot}, got)
		assert.Equal(t, uint64(2), a.Stats().Drops)
	})
	t.Run("netrand_seeded", func(t *testing.T) {
		run := func(seed uint64) []Verdict {
			tbl := NewTable(Config{Rand: NewLockedRand(rand.NewPCG(seed, 1))})
			c, _ := one(t, tbl, &Gact{Params: Params{Verdict: OK}, Prob: ProbRandom, ProbVal: 4, ProbVerdict: Shot}, FilterContext{})
			pkt := egressPacket(t, udpFrame(t, 10))
			var res Result
			var out []Verdict
			for i := 0; i < 4000; i++ {
				out = append(out, c.Run(pkt, &res))
			}
			return out
		}
		a, b := run(7), run(7)
		assert.Equal(t, a, b, "same seed, same draws")
		shots := 0
		for _, v := range a {
			if v == Shot {
				shots++
			}
		}
		assert.InDelta(t, 1000, shots, 120, "one in four")
	})
	t.Run("pval_zero_is_one", func(t *testing.T) {
		tbl := NewTable(Config{})
		c, _ := one(t, tbl, &Gact{Params: Params{Verdict: OK}, Prob: ProbDeterm, ProbVerdict: Shot}, FilterContext{})
		var res Result
		assert.Equal(t, Shot, c.Run(egressPacket(t, udpFrame(t, 10)), &res))
	})
	t.Run("format", func(t *testing.T) {
		clock := newFakeClock()
		tbl := NewTable(Config{Clock: clock})
		c, _ := one(t, tbl, &Gact{Params: Params{Verdict: Shot}}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 56))
		var res Result
		clock.Advance(8e9)
		c.Run(pkt, &res)
		c.Run(pkt, &res)
		clock.Advance(2e9)
		want := "\n\taction order 1: gact action drop\n\t random type none pass val 0\n\t index 1 ref 1 bind 1 installed 10 sec used 2 sec firstused 2 sec\n" +
			"\tAction statistics:\n\tSent 196 bytes 2 pkt (dropped 2, overlimits 0 requeues 0) \n\tbacklog 0b 0p requeues 0\n"
		assert.Equal(t, want, c.String())
	})
}

// gactOpts is a raw gact TCA_ACT_OPTIONS payload.
func gactOpts(v Verdict, prob []byte) []byte {
	b := nlattr.Append(nil, uapi.TCA_GACT_PARMS, putGen(nil, tcGen{action: v}))
	if prob != nil {
		b = nlattr.Append(b, uapi.TCA_GACT_PROB, prob)
	}
	return b
}

func gactProbBytes(ptype, pval uint16, paction Verdict) []byte {
	b := binary.LittleEndian.AppendUint16(nil, ptype)
	b = binary.LittleEndian.AppendUint16(b, pval)
	return binary.LittleEndian.AppendUint32(b, uint32(paction))
}

// TestValidation covers the per-kind refusals the kernel makes (act_*.c
// init functions); mirred's are also compared with the kernel itself in
// TestKernelMirredAdd.
func TestValidation(t *testing.T) {
	fwd := newFakeFwd(map[uint32]DeviceState{2: {Up: true, MACHeaderXmit: true}})
	parms := func(t uint16, extra ...byte) []byte {
		return nlattr.Append(nil, t, append(putGen(nil, tcGen{action: Pipe}), extra...))
	}
	u32 := func(t uint16, v uint32) []byte { return nlattr.AppendUint32(nil, t, v) }
	u16 := func(t uint16, v uint16) []byte { return nlattr.AppendUint16(nil, t, v) }
	u64 := func(t uint16, v uint64) []byte {
		return nlattr.Append(nil, t, binary.LittleEndian.AppendUint64(nil, v))
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	vlan := func(action uint32, extra ...[]byte) []byte {
		return cat(append([][]byte{parms(uapi.TCA_VLAN_PARMS, binary.LittleEndian.AppendUint32(nil, action)...)}, extra...)...)
	}
	ops := encodeOps([]bpf.RawInstruction{{Op: 0x06, K: 0xffffffff}})
	tests := []struct {
		name string
		kind string
		opts []byte
		fc   FilterContext
		want syscall.Errno
		msg  string
	}{
		{name: "gact_ok", kind: "gact", opts: gactOpts(Shot, nil)},
		{name: "gact_no_parms", kind: "gact", opts: []byte{}, want: syscall.EINVAL},
		{name: "gact_short_parms", kind: "gact", opts: nlattr.Append(nil, uapi.TCA_GACT_PARMS, make([]byte, 19)), want: syscall.ERANGE},
		{name: "gact_ptype_3", kind: "gact", opts: gactOpts(OK, gactProbBytes(3, 2, Shot)), want: syscall.EINVAL},
		{name: "gact_prob_goto", kind: "gact", opts: gactOpts(OK, gactProbBytes(1, 2, ExtGotoChain|3)), want: syscall.EINVAL, msg: "goto chain not allowed on fallback"},
		{name: "gact_prob_short", kind: "gact", opts: gactOpts(OK, make([]byte, 6)), want: syscall.ERANGE},
		{name: "gact_goto_chain_in_filter", kind: "gact", opts: gactOpts(ExtGotoChain|3, nil)},
		{name: "gact_verdict_9", kind: "gact", opts: gactOpts(9, nil), want: syscall.EINVAL, msg: "invalid control action"},
		{name: "skbedit_nothing", kind: "skbedit", opts: parms(uapi.TCA_SKBEDIT_PARMS), want: syscall.EINVAL},
		{name: "skbedit_mark", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u32(uapi.TCA_SKBEDIT_MARK, 5))},
		{name: "skbedit_mark_short", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_MARK, 5)), want: syscall.ERANGE},
		{name: "skbedit_ptype_3", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_PTYPE, 3))},
		{name: "skbedit_ptype_4", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_PTYPE, 4)), want: syscall.EINVAL},
		{name: "skbedit_queue_egress", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, 1))},
		{name: "skbedit_queue_ingress", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, 1)), fc: FilterContext{Ingress: true}, want: syscall.EOPNOTSUPP},
		{name: "skbedit_hash_no_max", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, 1), u64(uapi.TCA_SKBEDIT_FLAGS, uapi.SKBEDIT_F_TXQ_SKBHASH)), want: syscall.EINVAL, msg: "act_skbedit: Missing required range of queue_mapping."},
		{name: "skbedit_hash_max_lt_min", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING, 4), u16(uapi.TCA_SKBEDIT_QUEUE_MAPPING_MAX, 3), u64(uapi.TCA_SKBEDIT_FLAGS, uapi.SKBEDIT_F_TXQ_SKBHASH)), want: syscall.EINVAL, msg: "act_skbedit: The range of queue_mapping is invalid, max < min."},
		{name: "skbedit_inherit_only", kind: "skbedit", opts: cat(parms(uapi.TCA_SKBEDIT_PARMS), u64(uapi.TCA_SKBEDIT_FLAGS, uapi.SKBEDIT_F_INHERITDSFIELD))},
		{name: "vlan_pop", kind: "vlan", opts: vlan(1)},
		{name: "vlan_bad_action", kind: "vlan", opts: vlan(6), want: syscall.EINVAL},
		{name: "vlan_push_no_id", kind: "vlan", opts: vlan(2), want: syscall.EINVAL},
		{name: "vlan_push_id_4095", kind: "vlan", opts: vlan(2, u16(uapi.TCA_VLAN_PUSH_VLAN_ID, 4095)), want: syscall.ERANGE},
		{name: "vlan_push_id_4094", kind: "vlan", opts: vlan(2, u16(uapi.TCA_VLAN_PUSH_VLAN_ID, 4094))},
		{name: "vlan_push_proto_ip", kind: "vlan", opts: vlan(2, u16(uapi.TCA_VLAN_PUSH_VLAN_ID, 5), nlattr.Append(nil, uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL, []byte{8, 0})), want: syscall.EPROTONOSUPPORT},
		{name: "vlan_push_proto_qinq", kind: "vlan", opts: vlan(2, u16(uapi.TCA_VLAN_PUSH_VLAN_ID, 5), nlattr.Append(nil, uapi.TCA_VLAN_PUSH_VLAN_PROTOCOL, []byte{0x88, 0xa8}))},
		{name: "vlan_modify_no_id", kind: "vlan", opts: vlan(3), want: syscall.EINVAL},
		{name: "vlan_push_eth_no_src", kind: "vlan", opts: vlan(5, nlattr.Append(nil, uapi.TCA_VLAN_PUSH_ETH_DST, make([]byte, 6))), want: syscall.EINVAL},
		{name: "vlan_push_eth_short_mac", kind: "vlan", opts: vlan(5, nlattr.Append(nil, uapi.TCA_VLAN_PUSH_ETH_DST, make([]byte, 5))), want: syscall.ERANGE},
		{name: "vlan_push_eth", kind: "vlan", opts: vlan(5, nlattr.Append(nil, uapi.TCA_VLAN_PUSH_ETH_DST, make([]byte, 6)), nlattr.Append(nil, uapi.TCA_VLAN_PUSH_ETH_SRC, make([]byte, 6)))},
		{name: "csum_ok", kind: "csum", opts: parms(uapi.TCA_CSUM_PARMS, 0x7f, 0, 0, 0)},
		{name: "csum_short", kind: "csum", opts: parms(uapi.TCA_CSUM_PARMS), want: syscall.ERANGE},
		{name: "bpf_classic", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u16(uapi.TCA_ACT_BPF_OPS_LEN, 1), nlattr.Append(nil, uapi.TCA_ACT_BPF_OPS, ops))},
		{name: "bpf_neither", kind: "bpf", opts: parms(uapi.TCA_ACT_BPF_PARMS), want: syscall.EINVAL},
		{name: "bpf_both", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u16(uapi.TCA_ACT_BPF_OPS_LEN, 1), nlattr.Append(nil, uapi.TCA_ACT_BPF_OPS, ops), u32(uapi.TCA_ACT_BPF_FD, 3)), want: syscall.EINVAL},
		{name: "bpf_len_mismatch", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u16(uapi.TCA_ACT_BPF_OPS_LEN, 2), nlattr.Append(nil, uapi.TCA_ACT_BPF_OPS, ops)), want: syscall.EINVAL},
		{name: "bpf_len_0", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u16(uapi.TCA_ACT_BPF_OPS_LEN, 0), nlattr.Append(nil, uapi.TCA_ACT_BPF_OPS, nil)), want: syscall.EINVAL},
		{name: "bpf_check_fails", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u16(uapi.TCA_ACT_BPF_OPS_LEN, 1), nlattr.Append(nil, uapi.TCA_ACT_BPF_OPS, encodeOps([]bpf.RawInstruction{{Op: 0x00}}))), want: syscall.EINVAL},
		{name: "bpf_fd_no_resolver", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u32(uapi.TCA_ACT_BPF_FD, 3)), want: syscall.EBADF},
		{name: "bpf_name_no_nul", kind: "bpf", opts: cat(parms(uapi.TCA_ACT_BPF_PARMS), u32(uapi.TCA_ACT_BPF_FD, 3), nlattr.Append(nil, uapi.TCA_ACT_BPF_NAME, []byte("x"))), want: syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{Forwarder: fwd})
			nest := nlattr.AppendString(nil, uapi.TCA_ACT_KIND, tt.kind)
			nest = nlattr.Append(nest, uapi.TCA_ACT_OPTIONS, tt.opts)
			c, err := tbl.ParseChain(nlattr.Append(nil, 1, nest), tt.fc)
			if tt.want == 0 {
				require.NoError(t, err)
				require.Equal(t, 1, c.Len())
				// Its dump parses back to an equal action.
				again, err := NewTable(Config{Forwarder: fwd}).ParseChain(stripStats(t, c.Dump()), tt.fc)
				require.NoError(t, err)
				assert.Equal(t, maskTimesAll(c.Dump()), maskTimesAll(again.Dump()))
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, c)
			if tt.msg != "" {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tt.msg, e.Msg)
			}
			assert.Empty(t, tbl.Actions(tt.kind))
		})
	}
}

// stripStats turns a chain dump into a request: the dumped options are
// valid input, the statistics are ignored by the parser anyway.
func stripStats(t *testing.T, dump []byte) []byte { return dump }

// maskTimesAll zeroes every tcf_t in a chain dump.
func maskTimesAll(b []byte) []byte {
	out := append([]byte{}, b...)
	nlattr.Walk(out, func(n nlattr.Attr) bool {
		nlattr.Walk(n.Data, func(a nlattr.Attr) bool {
			if a.Type == uapi.TCA_ACT_OPTIONS {
				nlattr.Walk(a.Data, func(o nlattr.Attr) bool {
					if len(o.Data) == uapi.SizeofTcfT {
						clear(o.Data)
					}
					return true
				})
			}
			return true
		})
		return true
	})
	return out
}

func TestMirred(t *testing.T) {
	devs := map[uint32]DeviceState{
		2: {Up: true, MACHeaderXmit: true, Name: "veth0"},
		3: {Up: false, MACHeaderXmit: true, Name: "down0"},
		4: {Up: true, MACHeaderXmit: false, Name: "tun0"},
	}
	tests := []struct {
		name    string
		spec    *Mirred
		dir     packet.Direction
		fail    bool
		gone    bool
		want    Verdict
		wantFwd []Forward
		overlim uint64
	}{
		{name: "egress_redirect", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}, dir: packet.Egress, want: Stolen, wantFwd: []Forward{{Ifindex: 2, Redirect: true}}},
		{name: "egress_mirror", spec: &Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 2}, dir: packet.Egress, want: Pipe, wantFwd: []Forward{{Ifindex: 2}}},
		{name: "ingress_redirect_reinserts", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}, dir: packet.Ingress, want: Consumed, wantFwd: []Forward{{Ifindex: 2, Redirect: true, Reinsert: true}}},
		{name: "ingress_redirect_pipe_clones", spec: &Mirred{Params: Params{Verdict: Pipe}, Action: EgressRedirect, Ifindex: 2}, dir: packet.Ingress, want: Pipe, wantFwd: []Forward{{Ifindex: 2, Redirect: true}}},
		{name: "to_ingress_expects_network", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: IngressRedirect, Ifindex: 2}, dir: packet.Egress, want: Stolen, wantFwd: []Forward{{Ifindex: 2, Ingress: true, Redirect: true, AtNetwork: true}}},
		{name: "to_l3_device_expects_network", spec: &Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 4}, dir: packet.Egress, want: Pipe, wantFwd: []Forward{{Ifindex: 4, AtNetwork: true}}},
		{name: "redirect_to_down_device_drops", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 3}, dir: packet.Egress, want: Shot, overlim: 1},
		{name: "mirror_to_down_device_keeps_verdict", spec: &Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 3}, dir: packet.Egress, want: Pipe, overlim: 1},
		{name: "forward_error_counts_overlimit", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}, dir: packet.Egress, fail: true, want: Stolen, wantFwd: []Forward{{Ifindex: 2, Redirect: true}}, overlim: 1},
		{name: "device_gone", spec: &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}, dir: packet.Egress, gone: true, want: Stolen, overlim: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fwd := newFakeFwd(map[uint32]DeviceState{2: devs[2], 3: devs[3], 4: devs[4]})
			if tt.fail {
				fwd.fail = syscall.ENOBUFS
			}
			tbl := NewTable(Config{Forwarder: fwd})
			c, a := one(t, tbl, tt.spec, FilterContext{})
			if tt.gone {
				delete(fwd.devs, tt.spec.Ifindex)
			}
			pkt := egressPacket(t, udpFrame(t, 20))
			pkt.Direction = tt.dir
			var res Result
			assert.Equal(t, tt.want, c.Run(pkt, &res))
			assert.Equal(t, tt.wantFwd, fwd.sent)
			assert.Equal(t, tt.overlim, a.Stats().Overlimits)
			assert.Equal(t, uint64(1), a.Stats().Packets)
		})
	}
	t.Run("nesting_limit", func(t *testing.T) {
		fwd := newFakeFwd(map[uint32]DeviceState{2: devs[2]})
		tbl := NewTable(Config{Forwarder: fwd})
		c, _ := one(t, tbl, &Mirred{Params: Params{Verdict: Pipe}, Action: EgressMirror, Ifindex: 2}, FilterContext{})
		var inner []Verdict
		fwd.onFwd = func(pkt *packet.Packet, req Forward) {
			var res Result
			inner = append(inner, c.Run(pkt, &res))
		}
		pkt := egressPacket(t, udpFrame(t, 20))
		var res Result
		assert.Equal(t, Pipe, c.Run(pkt, &res))
		// Levels 1 to 4 forward; the fifth nested run is dropped.
		assert.Equal(t, []Verdict{Shot, Pipe, Pipe, Pipe}, inner)
		assert.Len(t, fwd.sent, 4)
		assert.Zero(t, tbl.nest[0].Load())
	})
	t.Run("blockcast_redirect", func(t *testing.T) {
		fwd := newFakeFwd(map[uint32]DeviceState{2: devs[2], 5: devs[2], 6: devs[2]})
		fwd.ports = map[uint32][]uint32{7: {2, 5, 6}}
		tbl := NewTable(Config{Forwarder: fwd})
		c, _ := one(t, tbl, &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Block: 7}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 20))
		pkt.Ifindex = 5
		var res Result
		assert.Equal(t, Stolen, c.Run(pkt, &res))
		assert.Equal(t, []Forward{{Ifindex: 2}, {Ifindex: 6, Redirect: true}}, fwd.sent)
	})
	t.Run("format", func(t *testing.T) {
		tbl := NewTable(Config{Forwarder: newFakeFwd(devs)})
		c, _ := one(t, tbl, &Mirred{Params: Params{Verdict: Stolen}, Action: EgressRedirect, Ifindex: 2}, FilterContext{})
		assert.True(t, strings.HasPrefix(c.String(), "\n\taction order 1: mirred (Egress Redirect to device veth0) stolen\n\tindex 1 ref 1 bind 1"), c.String())
	})
}

func TestSkbedit(t *testing.T) {
	fwd := newFakeFwd(map[uint32]DeviceState{1: {Up: true, TxQueues: 8}})
	tests := []struct {
		name  string
		spec  *Skbedit
		prep  func(p *packet.Packet)
		check func(t *testing.T, p *packet.Packet)
		want  Verdict
	}{
		{name: "mark_masked", spec: &Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 0xab, SetMask: true, Mask: 0x0f},
			prep: func(p *packet.Packet) { p.Mark = 0x1234 }, want: Pipe,
			check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint32(0x123b), p.Mark) }},
		{name: "mark_all_bits", spec: &Skbedit{Params: Params{Verdict: Pipe}, SetMark: true, Mark: 7},
			prep: func(p *packet.Packet) { p.Mark = 0xffff }, want: Pipe,
			check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint32(7), p.Mark) }},
		{name: "priority_and_ptype", spec: &Skbedit{Params: Params{Verdict: OK}, SetPriority: true, Priority: 0x10002, SetPtype: true, Ptype: 3}, want: OK,
			check: func(t *testing.T, p *packet.Packet) {
				assert.Equal(t, uint32(0x10002), p.Priority)
				assert.Equal(t, packet.OtherHost, p.PktType)
			}},
		{name: "inheritdsfield_ipv4", spec: &Skbedit{Params: Params{Verdict: Pipe}, InheritDSField: true}, want: Pipe,
			check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint32(0xb8>>2), p.Priority) }},
		{name: "inheritdsfield_truncated_drops", spec: &Skbedit{Params: Params{Verdict: Pipe}, InheritDSField: true}, want: Shot,
			prep: func(p *packet.Packet) { require.NoError(t, p.Trim(30)) }},
		{name: "queue_mapping", spec: &Skbedit{Params: Params{Verdict: Pipe}, SetQueueMapping: true, QueueMapping: 5}, want: Pipe,
			prep: func(p *packet.Packet) { p.Ifindex = 1 }, check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint16(5), p.QueueMapping) }},
		{name: "queue_mapping_beyond_device", spec: &Skbedit{Params: Params{Verdict: Pipe}, SetQueueMapping: true, QueueMapping: 8}, want: Pipe,
			prep: func(p *packet.Packet) { p.Ifindex = 1; p.QueueMapping = 3 }, check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint16(3), p.QueueMapping) }},
		{name: "queue_mapping_hash", spec: &Skbedit{Params: Params{Verdict: Pipe}, SetQueueMapping: true, QueueMapping: 2, HashQueue: true, QueueMappingMax: 5}, want: Pipe,
			prep: func(p *packet.Packet) { p.Ifindex = 1; p.Hash = 7 }, check: func(t *testing.T, p *packet.Packet) { assert.Equal(t, uint16(2+7%4), p.QueueMapping) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{Forwarder: fwd})
			c, a := one(t, tbl, tt.spec, FilterContext{})
			pkt := egressPacket(t, udpFrame(t, 20))
			if tt.prep != nil {
				tt.prep(pkt)
			}
			var res Result
			assert.Equal(t, tt.want, c.Run(pkt, &res))
			if tt.check != nil {
				tt.check(t, pkt)
			}
			if tt.want == Shot {
				assert.Equal(t, uint64(1), a.Stats().Drops)
			}
		})
	}
	tbl := NewTable(Config{})
	c, _ := one(t, tbl, &Skbedit{Params: Params{Verdict: Pipe}, SetPriority: true, Priority: 0x10002, SetMark: true, Mark: 5, SetMask: true, Mask: 0xff, SetPtype: true, Ptype: 1}, FilterContext{})
	assert.Contains(t, c.String(), "skbedit  priority 1:2 mark 5/0xff ptype broadcast pipe\n\t index 1 ref 1 bind 1")
}

// vlanFrame builds an Ethernet frame with the given 802.1Q tags (outer
// first) around an IPv4/UDP packet.
func vlanFrame(t *testing.T, tags ...uint16) []byte {
	t.Helper()
	et := layers.EthernetTypeDot1Q
	if len(tags) == 0 {
		et = layers.EthernetTypeIPv4
	}
	ls := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: et}}
	for i, tag := range tags {
		next := layers.EthernetTypeDot1Q
		if i == len(tags)-1 {
			next = layers.EthernetTypeIPv4
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: tag & 0xfff, Priority: uint8(tag >> 13), Type: next})
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	require.NoError(t, udp.SetNetworkLayerForChecksum(ip))
	ls = append(ls, ip, udp, gopacket.Payload([]byte("abcd")))
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ls...))
	return buf.Bytes()
}

func TestVlan(t *testing.T) {
	plain := vlanFrame(t)
	tagged := vlanFrame(t, 10)
	double := vlanFrame(t, 10, 20)
	tests := []struct {
		name      string
		spec      *Vlan
		frame     []byte
		untag     bool // move the outer tag into the offload fields first
		want      Verdict
		wantFrame []byte
		wantTag   uint16 // offloaded TCI, 0 for none
		wantProto uint16 // skb->protocol afterwards
		wantMAC   int
	}{
		{name: "push_untagged", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPush, ID: 100, SetPriority: true, Priority: 5}, frame: plain, want: Pipe, wantFrame: plain, wantTag: 100 | 5<<13, wantProto: 0x0800, wantMAC: 14},
		{name: "push_onto_offloaded_moves_it_in_frame", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPush, ID: 30}, frame: tagged, untag: true, want: Pipe, wantFrame: tagged, wantTag: 30, wantProto: 0x8100, wantMAC: 18},
		{name: "pop_offloaded", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPop}, frame: tagged, untag: true, want: Pipe, wantFrame: plain, wantProto: 0x0800, wantMAC: 14},
		{name: "pop_in_frame", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPop}, frame: tagged, want: Pipe, wantFrame: plain, wantProto: 0x0800, wantMAC: 14},
		{name: "pop_offloaded_promotes_next", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPop}, frame: double, untag: true, want: Pipe, wantFrame: plain, wantTag: 20, wantProto: 0x0800, wantMAC: 14},
		{name: "pop_untagged_noop", spec: &Vlan{Params: Params{Verdict: OK}, Action: VlanPop}, frame: plain, want: OK, wantFrame: plain, wantProto: 0x0800, wantMAC: 14},
		{name: "modify_untagged_noop", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 7}, frame: plain, want: Pipe, wantFrame: plain, wantProto: 0x0800, wantMAC: 14},
		{name: "modify_keeps_pcp", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 7}, frame: vlanFrame(t, 10|3<<13), untag: true, want: Pipe, wantFrame: plain, wantTag: 7 | 3<<13, wantProto: 0x0800, wantMAC: 14},
		{name: "modify_in_frame_becomes_offloaded", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 7, SetPriority: true, Priority: 1}, frame: tagged, want: Pipe, wantFrame: plain, wantTag: 7 | 1<<13, wantProto: 0x0800, wantMAC: 14},
		{name: "pop_eth", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPopEth}, frame: plain, want: Pipe, wantFrame: plain[14:], wantProto: 0x0800, wantMAC: 0},
		{name: "pop_eth_tagged_drops", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPopEth}, frame: tagged, want: Shot, wantFrame: tagged, wantProto: 0x8100, wantMAC: 14},
		{name: "push_eth_needs_l3", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPushEth, Dst: net.HardwareAddr{1, 2, 3, 4, 5, 6}, Src: net.HardwareAddr{6, 5, 4, 3, 2, 1}}, frame: plain, want: Shot, wantFrame: plain, wantProto: 0x0800, wantMAC: 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{})
			c, a := one(t, tbl, tt.spec, FilterContext{})
			pkt := egressPacket(t, tt.frame)
			if tt.untag {
				require.NoError(t, pkt.UntagVLAN())
			}
			var res Result
			assert.Equal(t, tt.want, c.Run(pkt, &res))
			// Frames differ only in the Ethernet padding gopacket adds.
			assert.Equal(t, bytes.TrimRight(tt.wantFrame, "\x00"), bytes.TrimRight(pkt.Bytes(), "\x00"))
			if tt.wantTag != 0 {
				assert.True(t, pkt.VLANPresent)
				assert.Equal(t, tt.wantTag, pkt.VLANTCI)
			} else {
				assert.False(t, pkt.VLANPresent)
			}
			assert.Equal(t, tt.wantProto, pkt.Protocol)
			assert.Equal(t, tt.wantMAC, pkt.MACLen())
			if tt.want == Shot {
				assert.Equal(t, uint64(1), a.Stats().Drops)
			}
		})
	}
	t.Run("push_eth_on_l3", func(t *testing.T) {
		tbl := NewTable(Config{})
		dst, src := net.HardwareAddr{1, 2, 3, 4, 5, 6}, net.HardwareAddr{6, 5, 4, 3, 2, 1}
		c, _ := one(t, tbl, &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPushEth, Dst: dst, Src: src}, FilterContext{})
		pkt := packet.New(64)
		require.NoError(t, pkt.SetL3(plain[14:]))
		var res Result
		assert.Equal(t, Pipe, c.Run(pkt, &res))
		want := append(append(append([]byte{}, dst...), src...), 8, 0)
		assert.Equal(t, append(want, plain[14:]...), pkt.Bytes())
		assert.Equal(t, 14, pkt.MACLen())
	})
}

func TestBpfAction(t *testing.T) {
	prog := func(ret uint32) []bpf.RawInstruction {
		return []bpf.RawInstruction{
			{Op: 0x06, K: ret}, // ret #ret
		}
	}
	tests := []struct {
		ret  uint32
		want Verdict
	}{
		{uint32(Pipe), Pipe}, {uint32(Reclassify), Reclassify}, {uint32(OK), OK}, {uint32(Redirect), Redirect},
		{uint32(Shot), Shot}, {0xffffffff, Stolen}, {uint32(Stolen), Unspec}, {uint32(Trap), Unspec}, {9, Unspec}, {0x10000001, Unspec},
	}
	for _, tt := range tests {
		tbl := NewTable(Config{})
		c, a := one(t, tbl, &Bpf{Params: Params{Verdict: Stolen}, Ops: prog(tt.ret)}, FilterContext{})
		var res Result
		assert.Equal(t, tt.want, c.Run(egressPacket(t, udpFrame(t, 4)), &res), "program returns %#x", tt.ret)
		if tt.want == Shot {
			assert.Equal(t, uint64(1), a.Stats().Drops)
		}
	}
	t.Run("reads_packet", func(t *testing.T) {
		tbl := NewTable(Config{})
		// ldh [12]; jeq #0x800, pass, drop
		c, _ := one(t, tbl, &Bpf{Ops: []bpf.RawInstruction{
			{Op: 0x28, K: 12},                  // ldh [12]
			{Op: 0x15, Jt: 0, Jf: 1, K: 0x800}, // jeq #0x800, 0, 1
			{Op: 0x06, K: 0},                   // ret #0 (OK)
			{Op: 0x06, K: 2},                   // ret #2 (SHOT)
		}}, FilterContext{})
		var res Result
		assert.Equal(t, OK, c.Run(egressPacket(t, udpFrame(t, 4)), &res))
		assert.Equal(t, Shot, c.Run(egressPacket(t, vlanFrame(t, 3)), &res))
		assert.Contains(t, c.String(), "bpf bytecode '4,40 0 0 12,21 0 1 2048,6 0 0 0,6 0 0 2' default-action pass")
	})
	t.Run("ebpf_through_resolver", func(t *testing.T) {
		tbl := NewTable(Config{Programs: fixedResolver{}})
		c, _ := one(t, tbl, &Bpf{FD: 3, Name: "prog"}, FilterContext{})
		var res Result
		assert.Equal(t, Redirect, c.Run(egressPacket(t, udpFrame(t, 4)), &res))
		opts := c.Dump()
		assert.Contains(t, string(opts), "prog")
	})
}

type constProg uint32

func (c constProg) Run(*packet.Packet) uint32 { return uint32(c) }

type fixedResolver struct{}

func (fixedResolver) ActProgram(fd uint32) (*EBPFProgram, error) {
	if fd != 3 {
		return nil, syscall.EBADF
	}
	return &EBPFProgram{Program: constProg(Redirect), ID: 77, Tag: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}, nil
}

// TestVlanChecksumComplete keeps a CHECKSUM_COMPLETE sum covering the
// packet from its network header, as the kernel's rcsum helpers do.
func TestVlanChecksumComplete(t *testing.T) {
	tests := []struct {
		name  string
		spec  *Vlan
		frame []byte
		untag bool
	}{
		{name: "pop_in_frame", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPop}, frame: vlanFrame(t, 10)},
		{name: "push_onto_offloaded", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPush, ID: 9}, frame: vlanFrame(t, 10), untag: true},
		{name: "modify_in_frame", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanModify, ID: 9}, frame: vlanFrame(t, 10, 20)},
		{name: "pop_eth", spec: &Vlan{Params: Params{Verdict: Pipe}, Action: VlanPopEth}, frame: vlanFrame(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{})
			c, _ := one(t, tbl, tt.spec, FilterContext{})
			pkt := egressPacket(t, tt.frame)
			pkt.Direction = packet.Ingress
			if tt.untag {
				require.NoError(t, pkt.UntagVLAN())
			}
			pkt.Checksum = packet.ChecksumComplete
			pkt.Csum = uint32(csum.Partial(pkt.Bytes()[pkt.NetworkOffset():], 0))
			var res Result
			require.Equal(t, Pipe, c.Run(pkt, &res))
			want := csum.Fold(csum.Partial(pkt.Bytes()[pkt.NetworkOffset():], 0))
			assert.Equal(t, want, csum.Fold(csum.Wsum(pkt.Csum)))
		})
	}
}
