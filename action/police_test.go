package action

import (
	"encoding/binary"
	"math"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

func newPolice(t *testing.T, clock Clock, spec *Police, fc FilterContext) (*Chain, *policeAction) {
	t.Helper()
	tbl := NewTable(Config{Clock: clock})
	c, err := tbl.NewChain([]Spec{spec}, fc)
	require.NoError(t, err)
	return c, c.Actions()[0].(*policeAction)
}

// TestPoliceAdmitsConfiguredRate drives police with a steady stream at
// twice its rate for a simulated minute: the admitted bytes must be the
// configured rate within 1%.
func TestPoliceAdmitsConfiguredRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    uint32 // bytes per second
		size    int    // frame bytes
		linkATM bool
	}{
		{"1mbit_1000B", 125_000, 1000, false},
		{"8mbit_1500B", 1_000_000, 1500, false},
		{"100kbit_64B", 12_500, 64, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			burst := uint64(10 * tc.size)
			c, pa := newPolice(t, clock, &Police{
				Params:  Params{Verdict: Shot},
				Rate:    RateSpec{Rate: tc.rate, Linklayer: uapi.TC_LINKLAYER_ETHERNET},
				Burst:   BurstTicks(uint64(tc.rate), burst),
				Conform: OK,
			}, FilterContext{})
			pkt := egressPacket(t, udpFrame(t, tc.size-42))
			require.Equal(t, tc.size, pkt.Len())
			interval := int64(1e9) * int64(tc.size) / int64(2*tc.rate)
			var admitted, dropped uint64
			var res Result
			for now := int64(0); now < 60e9; now += interval {
				clock.Advance(interval)
				switch c.Run(pkt, &res) {
				case OK:
					admitted += uint64(tc.size)
				case Shot:
					dropped += uint64(tc.size)
				default:
					t.Fatal("unexpected verdict")
				}
			}
			want := float64(tc.rate) * 60
			assert.InDelta(t, want, float64(admitted), want*0.01, "admitted %d bytes, dropped %d", admitted, dropped)
			st := pa.Stats()
			assert.Equal(t, dropped/uint64(tc.size), st.Drops)
			assert.Equal(t, st.Drops, st.Overlimits)
			assert.Equal(t, (admitted+dropped)/uint64(tc.size), st.Packets)
		})
	}
}

func TestPoliceL2T(t *testing.T) {
	for _, rate := range []uint64{1, 1000, 125_000, 1_000_000_007, 1 << 40} {
		r := newRatecfg(RateSpec{Rate: uint32(min(rate, math.MaxUint32))}, rate)
		for _, l := range []uint32{1, 64, 1500, 65535} {
			exact := float64(l) * 1e9 / float64(rate)
			got := float64(r.l2t(l))
			assert.InDelta(t, exact, got, math.Max(1, exact*1e-6), "rate %d len %d", rate, l)
		}
	}
	atm := newRatecfg(RateSpec{Rate: 1000, Linklayer: uapi.TC_LINKLAYER_ATM, Overhead: 10, MPU: 0}, 0)
	// 100+10 bytes take ceil(110/48)=3 cells of 53 bytes.
	assert.Equal(t, uint64(159_000_000), atm.l2t(100))
	mpu := newRatecfg(RateSpec{Rate: 1000, MPU: 64}, 0)
	assert.Equal(t, mpu.l2t(64), mpu.l2t(10))
	mult, shift := precomputeMult(125_000)
	assert.Equal(t, uint64(8_000_000), (uint64(1000)*uint64(mult))>>shift)
}

func TestPoliceSemantics(t *testing.T) {
	t.Run("mtu_exceeded", func(t *testing.T) {
		clock := newFakeClock()
		c, pa := newPolice(t, clock, &Police{Params: Params{Verdict: Reclassify}, MTU: 100}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 100))
		var res Result
		assert.Equal(t, Reclassify, c.Run(pkt, &res))
		assert.Equal(t, uint64(1), pa.Stats().Overlimits)
		assert.Zero(t, pa.Stats().Drops)
		// Without any rate a packet within the MTU gets the conform verdict
		// and no counters.
		small := egressPacket(t, udpFrame(t, 10))
		assert.Equal(t, OK, c.Run(small, &res))
		assert.Equal(t, uint64(1), pa.Stats().Overlimits)
	})
	t.Run("mtu_counts_mac_at_ingress", func(t *testing.T) {
		clock := newFakeClock()
		frame := udpFrame(t, 50)
		c, _ := newPolice(t, clock, &Police{Params: Params{Verdict: Shot}, MTU: uint32(len(frame) - 1)}, FilterContext{})
		pkt := egressPacket(t, frame)
		var res Result
		assert.Equal(t, Shot, c.Run(pkt, &res))
		pkt.Direction = packet.Ingress
		assert.Equal(t, Shot, c.Run(pkt, &res), "qdisc_pkt_len + mac_len is the frame")
	})
	t.Run("burst_then_exceed", func(t *testing.T) {
		clock := newFakeClock()
		c, pa := newPolice(t, clock, &Police{Params: Params{Verdict: Shot}, Rate: RateSpec{Rate: 1000}, Burst: BurstTicks(1000, 300), Conform: Pipe}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 58)) // 100 bytes
		var res Result
		got := []Verdict{c.Run(pkt, &res), c.Run(pkt, &res), c.Run(pkt, &res), c.Run(pkt, &res)}
		assert.Equal(t, []Verdict{Pipe, Pipe, Pipe, Shot}, got)
		clock.Advance(100_000_000) // 100 ms refills 100 bytes
		assert.Equal(t, Pipe, c.Run(pkt, &res))
		assert.Equal(t, Shot, c.Run(pkt, &res))
		assert.Equal(t, uint64(2), pa.Stats().Drops)
	})
	t.Run("peakrate_limits_burst", func(t *testing.T) {
		clock := newFakeClock()
		c, _ := newPolice(t, clock, &Police{Params: Params{Verdict: Shot}, Rate: RateSpec{Rate: 1000}, PeakRate: RateSpec{Rate: 2000}, MTU: 400, Burst: BurstTicks(1000, 1000)}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 58)) // 100 bytes
		var res Result
		// The peak bucket holds one MTU (400 bytes): four packets, though
		// the byte bucket holds ten.
		var got []Verdict
		for i := 0; i < 5; i++ {
			got = append(got, c.Run(pkt, &res))
		}
		assert.Equal(t, []Verdict{OK, OK, OK, OK, Shot}, got)
		clock.Advance(50_000_000) // 50 ms at 2000 B/s is 100 bytes of peak
		assert.Equal(t, OK, c.Run(pkt, &res))
		assert.Equal(t, Shot, c.Run(pkt, &res))
	})
	t.Run("packet_rate", func(t *testing.T) {
		clock := newFakeClock()
		// 10 packets per second, a burst of 3 packets' time (0.3 s).
		c, _ := newPolice(t, clock, &Police{Params: Params{Verdict: Shot}, PktRate: 10, PktBurst: uint64(300_000_000 >> 6)}, FilterContext{})
		pkt := egressPacket(t, udpFrame(t, 58))
		var res Result
		// The kernel does not fill the packet bucket at configuration: it
		// starts empty and fills with time.
		assert.Equal(t, Shot, c.Run(pkt, &res))
		clock.Advance(300_000_000)
		got := []Verdict{c.Run(pkt, &res), c.Run(pkt, &res), c.Run(pkt, &res), c.Run(pkt, &res)}
		assert.Equal(t, []Verdict{OK, OK, OK, Shot}, got)
		clock.Advance(100_000_000)
		assert.Equal(t, OK, c.Run(pkt, &res))
	})
	t.Run("avrate_uses_estimator", func(t *testing.T) {
		est := &fixedEstimator{bps: 500, ok: true}
		tbl := NewTable(Config{Clock: newFakeClock(), Estimator: est})
		c, err := tbl.NewChain([]Spec{&Police{Params: Params{Verdict: Shot}, AvRate: 1000}}, FilterContext{RateEstimator: true})
		require.NoError(t, err)
		pkt := egressPacket(t, udpFrame(t, 58))
		var res Result
		assert.Equal(t, OK, c.Run(pkt, &res))
		est.bps = 1000
		assert.Equal(t, Shot, c.Run(pkt, &res))
		est.ok = false
		assert.Equal(t, Shot, c.Run(pkt, &res))
	})
}

type fixedEstimator struct {
	bps uint64
	ok  bool
}

func (e *fixedEstimator) Rate(Action) (uint64, bool) { return e.bps, e.ok }

// policeTBF is a raw struct tc_police.
func policeTBF(index uint32, exceed Verdict, burst, mtu uint32, rate, peak RateSpec, size int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, index)
	b = binary.LittleEndian.AppendUint32(b, uint32(exceed))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, burst)
	b = binary.LittleEndian.AppendUint32(b, mtu)
	b = rate.append(b)
	b = peak.append(b)
	b = append(b, make([]byte, 12)...)
	return b[:size]
}

func TestPoliceValidation(t *testing.T) {
	rate := RateSpec{Rate: 1000, CellLog: 3}
	rtab := nlattr.Append(nil, uapi.TCA_POLICE_RATE, make([]byte, 1024))
	tbf := func(r RateSpec, size int) []byte {
		return nlattr.Append(nil, uapi.TCA_POLICE_TBF, policeTBF(0, Shot, 100, 0, r, RateSpec{}, size))
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	tests := []struct {
		name string
		opts []byte
		fc   FilterContext
		want syscall.Errno
		msg  string
	}{
		{name: "ok_no_rate", opts: tbf(RateSpec{}, 56)},
		{name: "ok_compat_size", opts: tbf(RateSpec{}, 44)},
		{name: "tbf_missing", opts: nlattr.AppendUint32(nil, uapi.TCA_POLICE_AVRATE, 1), want: syscall.EINVAL},
		{name: "tbf_size_50", opts: tbf(RateSpec{}, 50), want: syscall.EINVAL},
		{name: "rate_without_table", opts: tbf(rate, 56), want: syscall.ENOMEM},
		{name: "rate_ok", opts: cat(tbf(rate, 56), rtab)},
		{name: "rate_cell_log_0", opts: cat(tbf(RateSpec{Rate: 1000}, 56), rtab), want: syscall.ENOMEM},
		{name: "rate_cell_log_32", opts: cat(tbf(RateSpec{Rate: 1000, CellLog: 32}, 56), rtab), want: syscall.ENOMEM},
		{name: "table_short", opts: cat(tbf(rate, 56), nlattr.Append(nil, uapi.TCA_POLICE_RATE, make([]byte, 1000))), want: syscall.ERANGE},
		{name: "table_long", opts: cat(tbf(rate, 56), nlattr.Append(nil, uapi.TCA_POLICE_RATE, make([]byte, 1028))), want: syscall.ENOMEM},
		{name: "peak_without_table", opts: cat(nlattr.Append(nil, uapi.TCA_POLICE_TBF, policeTBF(0, Shot, 100, 0, rate, rate, 56)), rtab), want: syscall.ENOMEM},
		{name: "peak_ignored_without_rate", opts: nlattr.Append(nil, uapi.TCA_POLICE_TBF, policeTBF(0, Shot, 100, 0, RateSpec{}, rate, 56))},
		{name: "avrate_without_estimator", opts: cat(tbf(RateSpec{}, 56), nlattr.AppendUint32(nil, uapi.TCA_POLICE_AVRATE, 5)), want: syscall.EINVAL},
		{name: "avrate_with_estimator", opts: cat(tbf(RateSpec{}, 56), nlattr.AppendUint32(nil, uapi.TCA_POLICE_AVRATE, 5)), fc: FilterContext{RateEstimator: true}},
		{name: "result_goto_chain", opts: cat(tbf(RateSpec{}, 56), nlattr.AppendUint32(nil, uapi.TCA_POLICE_RESULT, uint32(ExtGotoChain|1))), want: syscall.EINVAL, msg: "goto chain not allowed on fallback"},
		{name: "result_short", opts: cat(tbf(RateSpec{}, 56), nlattr.AppendUint16(nil, uapi.TCA_POLICE_RESULT, 1)), want: syscall.ERANGE},
		{name: "pps_without_burst", opts: cat(tbf(RateSpec{}, 56), nlattr.Append(nil, uapi.TCA_POLICE_PKTRATE64, make([]byte, 8))), want: syscall.ERANGE},
		{name: "pps_rate_only", opts: cat(tbf(RateSpec{}, 56), nlattr.Append(nil, uapi.TCA_POLICE_PKTRATE64, binary.LittleEndian.AppendUint64(nil, 5))), want: syscall.EINVAL, msg: "Both or neither packet-per-second burst and rate must be provided"},
		{name: "pps_with_byte_rate", opts: cat(tbf(rate, 56), rtab, nlattr.Append(nil, uapi.TCA_POLICE_PKTRATE64, binary.LittleEndian.AppendUint64(nil, 5)), nlattr.Append(nil, uapi.TCA_POLICE_PKTBURST64, binary.LittleEndian.AppendUint64(nil, 5))), want: syscall.EINVAL, msg: "packet-per-second and byte-per-second rate limits not allowed in same action"},
		{name: "pps_ok", opts: cat(tbf(RateSpec{}, 56), nlattr.Append(nil, uapi.TCA_POLICE_PKTRATE64, binary.LittleEndian.AppendUint64(nil, 5)), nlattr.Append(nil, uapi.TCA_POLICE_PKTBURST64, binary.LittleEndian.AppendUint64(nil, 5)))},
		{name: "exceed_invalid", opts: nlattr.Append(nil, uapi.TCA_POLICE_TBF, policeTBF(0, 9, 100, 0, RateSpec{}, RateSpec{}, 56)), want: syscall.EINVAL, msg: "invalid control action"},
		{name: "options_missing", opts: nil, want: syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := NewTable(Config{})
			nest := nlattr.AppendString(nil, uapi.TCA_ACT_KIND, "police")
			if tt.opts != nil {
				nest = nlattr.Append(nest, uapi.TCA_ACT_OPTIONS, tt.opts)
			}
			c, err := tbl.ParseChain(nlattr.Append(nil, 1, nest), tt.fc)
			if tt.want == 0 {
				require.NoError(t, err)
				require.Equal(t, 1, c.Len())
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, c)
			if tt.msg != "" {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tt.msg, e.Msg)
			}
			assert.Empty(t, tbl.Actions("police"))
		})
	}
}

func TestPoliceDump(t *testing.T) {
	clock := newFakeClock()
	c, _ := newPolice(t, clock, &Police{Params: Params{Verdict: Reclassify}, Rate: RateSpec{Rate: 125000, Linklayer: 1, Overhead: 4, MPU: 64}, Burst: 15625, Conform: Pipe}, FilterContext{})
	tb, err := parse(c.Dump(), 1, nil)
	require.NoError(t, err)
	act, err := parse(tb.data(1), uapi.TCA_ACT_MAX, nil)
	require.NoError(t, err)
	opts, err := parse(act.data(uapi.TCA_ACT_OPTIONS), uapi.TCA_POLICE_MAX, nil)
	require.NoError(t, err)
	tbf := opts.data(uapi.TCA_POLICE_TBF)
	require.Len(t, tbf, uapi.SizeofTcPolice)
	assert.Equal(t, uint32(1), binary.LittleEndian.Uint32(tbf[0:]), "index")
	assert.Equal(t, uint32(Reclassify), binary.LittleEndian.Uint32(tbf[4:]), "exceed")
	assert.Equal(t, uint32(15625), binary.LittleEndian.Uint32(tbf[12:]), "burst ticks")
	assert.Equal(t, uint32(255<<cellLog(0)), binary.LittleEndian.Uint32(tbf[16:]), "mtu from cell_log")
	assert.Equal(t, RateSpec{Rate: 125000, Linklayer: 1, Overhead: 4, MPU: 64}, getRateSpec(tbf[20:]), "getrate drops cell_log and cell_align")
	assert.Equal(t, uint32(Pipe), opts.u32(uapi.TCA_POLICE_RESULT))
	assert.Len(t, opts.data(uapi.TCA_POLICE_TM), uapi.SizeofTcfT)
	assert.Contains(t, c.String(), " police 0x1 rate 1Mbit burst 125b mtu 2Kb action reclassify/pipe overhead 4b \n\tref 1 bind 1")
}
