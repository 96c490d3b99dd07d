package action

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

const kindPolice = "police"

// RateSpec is struct tc_ratespec: a rate in bytes per second and how
// packet lengths are accounted (cell_log, link layer, per-packet overhead,
// minimum packet unit).
type RateSpec struct {
	CellLog   uint8
	Linklayer uint8 // TC_LINKLAYER_*: 0 unaware, 1 Ethernet, 2 ATM
	Overhead  uint16
	CellAlign int16
	MPU       uint16
	Rate      uint32 // bytes per second
}

func (r RateSpec) append(b []byte) []byte {
	b = append(b, r.CellLog, r.Linklayer)
	b = binary.LittleEndian.AppendUint16(b, r.Overhead)
	b = binary.LittleEndian.AppendUint16(b, uint16(r.CellAlign))
	b = binary.LittleEndian.AppendUint16(b, r.MPU)
	return binary.LittleEndian.AppendUint32(b, r.Rate)
}

func getRateSpec(b []byte) RateSpec {
	return RateSpec{
		CellLog:   b[0],
		Linklayer: b[1],
		Overhead:  binary.LittleEndian.Uint16(b[2:]),
		CellAlign: int16(binary.LittleEndian.Uint16(b[4:])),
		MPU:       binary.LittleEndian.Uint16(b[6:]),
		Rate:      binary.LittleEndian.Uint32(b[8:]),
	}
}

// Police is the spec of a policer (kind "police", act_police.c): a token
// bucket of Burst at Rate, optionally a second one of MTU at PeakRate, or
// a packet-rate bucket. Params.Verdict is the exceed verdict (tc's default
// is Reclassify); Conform is the verdict for packets within the rate.
type Police struct {
	Params
	// Rate and PeakRate are the byte rates; a zero Rate.Rate means none
	// (and then PeakRate is ignored, as in the kernel). A zero CellLog is
	// filled in as tc computes it from the MTU.
	Rate, PeakRate RateSpec
	// Rate64 and PeakRate64 carry rates beyond 32 bits (TCA_POLICE_RATE64,
	// TCA_POLICE_PEAKRATE64).
	Rate64, PeakRate64 uint64
	// Burst is the bucket depth in psched ticks of 64 ns (see
	// BurstTicks).
	Burst uint32
	// MTU is the largest packet that can conform; 0 means 255 << cell_log
	// with a rate, unlimited without.
	MTU uint32
	// AvRate limits the estimated rate (bytes per second); it needs a
	// rate estimator on the filter.
	AvRate uint32
	// Conform is the verdict for packets within the rate (TCA_POLICE_RESULT;
	// OK sends none). "goto chain" is refused.
	Conform Verdict
	// PktRate and PktBurst (ticks) configure a packet-rate bucket instead
	// of a byte rate (TCA_POLICE_PKTRATE64, TCA_POLICE_PKTBURST64).
	PktRate, PktBurst uint64
}

// Kind returns "police".
func (*Police) Kind() string { return kindPolice }

// BurstTicks converts a burst in bytes at a rate in bytes per second into
// psched ticks as tc does (tc_calc_xmittime with the 64 ns tick of
// current kernels).
func BurstTicks(rate uint64, bytes uint64) uint32 {
	v := math.Ceil(1e6 * (float64(bytes) / float64(rate)) * 15.625)
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// cellLog is tc_calc_rtable's choice of cell_log for an MTU.
func cellLog(mtu uint32) uint8 {
	if mtu == 0 {
		mtu = 2047
	}
	var c uint8
	for mtu>>c > 255 {
		c++
	}
	return c
}

func (p *Police) options(e *encoder) {
	rate, peak := p.Rate, p.PeakRate
	if rate.Rate != 0 && rate.CellLog == 0 {
		rate.CellLog = cellLog(p.MTU)
	}
	if peak.Rate != 0 && peak.CellLog == 0 {
		peak.CellLog = cellLog(p.MTU)
	}
	b := make([]byte, 0, uapi.SizeofTcPolice)
	b = binary.LittleEndian.AppendUint32(b, p.Index)
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Verdict))
	b = binary.LittleEndian.AppendUint32(b, 0) // limit
	b = binary.LittleEndian.AppendUint32(b, p.Burst)
	b = binary.LittleEndian.AppendUint32(b, p.MTU)
	b = rate.append(b)
	b = peak.append(b)
	b = append(b, make([]byte, 12)...) // refcnt, bindcnt, capab
	e.bytes(uapi.TCA_POLICE_TBF, b)
	if rate.Rate != 0 {
		e.bytes(uapi.TCA_POLICE_RATE, make([]byte, uapi.TC_RTAB_SIZE))
	}
	if peak.Rate != 0 {
		e.bytes(uapi.TCA_POLICE_PEAKRATE, make([]byte, uapi.TC_RTAB_SIZE))
	}
	if p.Rate64 != 0 {
		e.u64(uapi.TCA_POLICE_RATE64, p.Rate64)
	}
	if p.PeakRate64 != 0 {
		e.u64(uapi.TCA_POLICE_PEAKRATE64, p.PeakRate64)
	}
	if p.AvRate != 0 {
		e.u32(uapi.TCA_POLICE_AVRATE, p.AvRate)
	}
	if p.Conform != OK {
		e.u32(uapi.TCA_POLICE_RESULT, uint32(p.Conform))
	}
	if p.PktRate != 0 || p.PktBurst != 0 {
		e.u64(uapi.TCA_POLICE_PKTRATE64, p.PktRate)
		e.u64(uapi.TCA_POLICE_PKTBURST64, p.PktBurst)
	}
}

// ratecfg is struct psched_ratecfg: a rate as a reciprocal multiplier.
type ratecfg struct {
	rateBps   uint64
	mult      uint32
	overhead  uint16
	mpu       uint16
	linklayer uint8
	shift     uint8
}

// precomputeMult is psched_ratecfg_precompute__: mult and shift such that
// ns = (len * mult) >> shift.
func precomputeMult(rate uint64) (mult uint32, shift uint8) {
	mult = 1
	if rate == 0 {
		return
	}
	factor := uint64(1e9)
	for {
		mult = uint32(factor / rate)
		if mult&(1<<31) != 0 || factor&(1<<63) != 0 {
			break
		}
		factor <<= 1
		shift++
	}
	return
}

// newRatecfg is psched_ratecfg_precompute.
func newRatecfg(conf RateSpec, rate64 uint64) ratecfg {
	r := ratecfg{overhead: conf.Overhead, mpu: conf.MPU, rateBps: max(uint64(conf.Rate), rate64), linklayer: conf.Linklayer & uapi.TC_LINKLAYER_MASK}
	r.mult, r.shift = precomputeMult(r.rateBps)
	return r
}

// l2t is psched_l2t_ns: nanoseconds to send length bytes at the rate.
func (r *ratecfg) l2t(length uint32) uint64 {
	length += uint32(r.overhead)
	if length < uint32(r.mpu) {
		length = uint32(r.mpu)
	}
	if r.linklayer == uapi.TC_LINKLAYER_ATM {
		return (uint64((length+47)/48*53) * uint64(r.mult)) >> r.shift
	}
	return (uint64(length) * uint64(r.mult)) >> r.shift
}

// getrate is psched_ratecfg_getrate: the tc_ratespec a dump shows.
func (r *ratecfg) getrate() RateSpec {
	return RateSpec{Rate: uint32(min(r.rateBps, math.MaxUint32)), Overhead: r.overhead, MPU: r.mpu, Linklayer: r.linklayer}
}

// policeParams is struct tcf_police_params.
type policeParams struct {
	result      Verdict
	ewmaRate    uint32
	burst       int64 // ns
	mtu         uint32
	mtuPtoks    int64
	pktBurst    int64
	rate        ratecfg
	peak        ratecfg
	pps         ratecfg // rate_pkts_ps in rateBps
	ratePresent bool
	peakPresent bool
	ppsPresent  bool
}

type policeAction struct {
	Common
	p   atomic.Pointer[policeParams]
	est Estimator

	// The bucket state, guarded by lock as the kernel's tcfp_lock guards
	// it: a few integer operations per packet.
	lock    atomic.Bool
	tc      int64
	toks    int64
	ptoks   int64
	pkttoks int64
}

var policePolicy = []pol{
	uapi.TCA_POLICE_RATE:       polLen(uapi.TC_RTAB_SIZE),
	uapi.TCA_POLICE_PEAKRATE:   polLen(uapi.TC_RTAB_SIZE),
	uapi.TCA_POLICE_AVRATE:     polU32,
	uapi.TCA_POLICE_RESULT:     polU32,
	uapi.TCA_POLICE_RATE64:     polU64,
	uapi.TCA_POLICE_PEAKRATE64: polU64,
	uapi.TCA_POLICE_PKTRATE64:  {Policy: nlattr.Policy{Type: nlattr.U64}, hasMin: true, min: 1},
	uapi.TCA_POLICE_PKTBURST64: {Policy: nlattr.Policy{Type: nlattr.U64}, hasMin: true, min: 1},
}

func init() { kinds[kindPolice] = &kindOps{id: uapi.TCA_ID_POLICE, offload: true, init: policeInit} }

// rtabOK is qdisc_get_rtab's acceptance test of a rate and its table.
func rtabOK(r RateSpec, tab []byte, has bool) bool {
	return has && r.Rate != 0 && r.CellLog != 0 && r.CellLog < 32 && len(tab) == uapi.TC_RTAB_SIZE
}

// policeInit is tcf_police_init.
func policeInit(x *txn, opts []byte, has bool, f *initArgs) (Action, error) {
	if !has {
		return nil, errno(syscall.EINVAL, "")
	}
	tb, err := parse(opts, uapi.TCA_POLICE_MAX, policePolicy)
	if err != nil {
		return nil, err
	}
	if !tb.has(uapi.TCA_POLICE_TBF) {
		return nil, errno(syscall.EINVAL, "")
	}
	d := tb.data(uapi.TCA_POLICE_TBF)
	if len(d) != uapi.SizeofTcPolice && len(d) != uapi.SizeofTcPoliceCompat {
		return nil, errno(syscall.EINVAL, "")
	}
	index := binary.LittleEndian.Uint32(d)
	exceed := Verdict(binary.LittleEndian.Uint32(d[4:]))
	burst := binary.LittleEndian.Uint32(d[12:])
	mtu := binary.LittleEndian.Uint32(d[16:])
	rate := getRateSpec(d[20:])
	peak := getRateSpec(d[32:])

	a, exists, err := x.checkAlloc(kindPolice, &index, f.bind)
	if err != nil {
		return nil, err
	}
	if exists {
		if f.bind {
			return a, nil
		}
		if !f.replace {
			return nil, errno(syscall.EEXIST, "")
		}
	}
	if err := f.checkCtrl(exceed); err != nil {
		return nil, err
	}
	var rtab, ptab bool
	if rate.Rate != 0 {
		var tab []byte
		if tb.has(uapi.TCA_POLICE_RATE) {
			tab = tb.data(uapi.TCA_POLICE_RATE)
		}
		if !rtabOK(rate, tab, tb.has(uapi.TCA_POLICE_RATE)) {
			return nil, errno(syscall.ENOMEM, "")
		}
		rtab = true
		if peak.Rate != 0 {
			var ptb []byte
			if tb.has(uapi.TCA_POLICE_PEAKRATE) {
				ptb = tb.data(uapi.TCA_POLICE_PEAKRATE)
			}
			if !rtabOK(peak, ptb, tb.has(uapi.TCA_POLICE_PEAKRATE)) {
				return nil, errno(syscall.ENOMEM, "")
			}
			ptab = true
		}
	}
	if !f.hasEstimator() && tb.has(uapi.TCA_POLICE_AVRATE) {
		// With no estimator on the request, avrate needs one already
		// running on the action; this model keeps none.
		return nil, errno(syscall.EINVAL, "")
	}
	p := &policeParams{result: OK}
	if tb.has(uapi.TCA_POLICE_RESULT) {
		p.result = Verdict(tb.u32(uapi.TCA_POLICE_RESULT))
		if p.result.IsGotoChain() {
			return nil, errno(syscall.EINVAL, "goto chain not allowed on fallback")
		}
	}
	hasPPS, hasPPSBurst := tb.has(uapi.TCA_POLICE_PKTRATE64), tb.has(uapi.TCA_POLICE_PKTBURST64)
	if hasPPS != hasPPSBurst {
		return nil, errno(syscall.EINVAL, "Both or neither packet-per-second burst and rate must be provided")
	}
	if hasPPS && rtab {
		return nil, errno(syscall.EINVAL, "packet-per-second and byte-per-second rate limits not allowed in same action")
	}
	p.mtu = mtu
	if p.mtu == 0 {
		p.mtu = ^uint32(0)
		if rtab {
			p.mtu = 255 << rate.CellLog
		}
	}
	if rtab {
		p.ratePresent = true
		var r64 uint64
		if tb.has(uapi.TCA_POLICE_RATE64) {
			r64 = tb.u64(uapi.TCA_POLICE_RATE64)
		}
		p.rate = newRatecfg(rate, r64)
	}
	if ptab {
		p.peakPresent = true
		var r64 uint64
		if tb.has(uapi.TCA_POLICE_PEAKRATE64) {
			r64 = tb.u64(uapi.TCA_POLICE_PEAKRATE64)
		}
		p.peak = newRatecfg(peak, r64)
	}
	p.burst = int64(burst) << uapi.PSCHED_SHIFT
	if p.peakPresent {
		p.mtuPtoks = int64(p.peak.l2t(p.mtu))
	}
	if tb.has(uapi.TCA_POLICE_AVRATE) {
		p.ewmaRate = tb.u32(uapi.TCA_POLICE_AVRATE)
	}
	if hasPPS {
		p.ppsPresent = true
		p.pktBurst = int64(tb.u64(uapi.TCA_POLICE_PKTBURST64)) << uapi.PSCHED_SHIFT
		p.pps.rateBps = tb.u64(uapi.TCA_POLICE_PKTRATE64)
		p.pps.mult, p.pps.shift = precomputeMult(p.pps.rateBps)
	}
	apply := func(pa *policeAction) {
		pa.acquire()
		pa.tc = pa.clock.Now()
		pa.toks = p.burst
		if p.peakPresent {
			pa.ptoks = p.mtuPtoks
		}
		pa.lock.Store(false)
		pa.setCtrl(exceed)
		pa.p.Store(p)
	}
	if exists {
		pa := a.(*policeAction)
		x.commits = append(x.commits, func() { apply(pa) })
		return pa, nil
	}
	pa := &policeAction{est: f.t.cfg.Estimator}
	f.newCommon(&pa.Common, kindPolice, index)
	apply(pa)
	x.created = append(x.created, pa)
	return pa, nil
}

func (f *initArgs) hasEstimator() bool { return f.filter != nil && f.filter.RateEstimator }

func (pa *policeAction) acquire() {
	for i := 0; !pa.lock.CompareAndSwap(false, true); i++ {
		if i > 64 {
			runtime.Gosched()
		}
	}
}

// mtuCheck is tcf_police_mtu_check (without GSO segmentation, which the
// packet model does not do): the length plus the MAC header at ingress.
func mtuCheck(pkt *packet.Packet, limit uint32) bool {
	l := uint64(pktLen(pkt))
	if pkt.Direction == packet.Ingress {
		l += uint64(pkt.MACLen())
	}
	return l <= uint64(limit)
}

// Act is tcf_police_act.
func (pa *policeAction) Act(pkt *packet.Packet, res *Result) Verdict {
	pa.touch(res)
	pa.count(pkt, res)
	ret := pa.Verdict()
	p := pa.p.Load()
	if p.ewmaRate != 0 {
		bps, ok := uint64(0), false
		if pa.est != nil {
			bps, ok = pa.est.Rate(pa)
		}
		if !ok || bps >= uint64(p.ewmaRate) {
			return pa.exceed(ret, res)
		}
	}
	if !mtuCheck(pkt, p.mtu) {
		return pa.exceed(ret, res)
	}
	if !p.ratePresent && !p.ppsPresent {
		return p.result
	}
	length := uint32(pktLen(pkt))
	now := pa.clock.Now()
	var ptoks, ppstoks int64
	pa.acquire()
	toks := min(now-pa.tc, p.burst)
	if p.peakPresent {
		ptoks = min(toks+pa.ptoks, p.mtuPtoks)
		ptoks -= int64(p.peak.l2t(length))
	}
	if p.ratePresent {
		toks = min(toks+pa.toks, p.burst)
		toks -= int64(p.rate.l2t(length))
	} else if p.ppsPresent {
		ppstoks = min(now-pa.tc, p.pktBurst)
		ppstoks = min(ppstoks+pa.pkttoks, p.pktBurst)
		ppstoks -= int64((uint64(1) * uint64(p.pps.mult)) >> p.pps.shift)
	}
	if toks|ptoks|ppstoks >= 0 {
		pa.tc, pa.toks, pa.ptoks, pa.pkttoks = now, toks, ptoks, ppstoks
		pa.lock.Store(false)
		ret = p.result
		if ret == Shot {
			pa.drop(res)
		}
		return ret
	}
	pa.lock.Store(false)
	return pa.exceed(ret, res)
}

// exceed counts an over-limit packet and returns the exceed verdict.
func (pa *policeAction) exceed(ret Verdict, res *Result) Verdict {
	pa.overlimit(res)
	if ret == Shot {
		pa.drop(res)
	}
	return ret
}

func (pa *policeAction) tcPolice(bind, ref int32) []byte {
	p := pa.p.Load()
	b := make([]byte, 0, uapi.SizeofTcPolice)
	b = binary.LittleEndian.AppendUint32(b, pa.index)
	b = binary.LittleEndian.AppendUint32(b, uint32(pa.Verdict()))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(p.burst>>uapi.PSCHED_SHIFT))
	b = binary.LittleEndian.AppendUint32(b, p.mtu)
	var rate, peak RateSpec
	if p.ratePresent {
		rate = p.rate.getrate()
	}
	if p.peakPresent {
		peak = p.peak.getrate()
	}
	b = rate.append(b)
	b = peak.append(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(pa.refcnt-ref))
	b = binary.LittleEndian.AppendUint32(b, uint32(pa.bindcnt-bind))
	return binary.LittleEndian.AppendUint32(b, 0)
}

// dumpOptions is tcf_police_dump.
func (pa *policeAction) dumpOptions(e *encoder, bind, ref int32) {
	p := pa.p.Load()
	if p.ratePresent && p.rate.rateBps >= 1<<32 {
		e.u64(uapi.TCA_POLICE_RATE64, p.rate.rateBps)
	}
	if p.peakPresent && p.peak.rateBps >= 1<<32 {
		e.u64(uapi.TCA_POLICE_PEAKRATE64, p.peak.rateBps)
	}
	if p.ppsPresent {
		e.u64(uapi.TCA_POLICE_PKTRATE64, p.pps.rateBps)
		e.u64(uapi.TCA_POLICE_PKTBURST64, uint64(p.pktBurst>>uapi.PSCHED_SHIFT))
	}
	e.bytes(uapi.TCA_POLICE_TBF, pa.tcPolice(bind, ref))
	if p.result != 0 {
		e.u32(uapi.TCA_POLICE_RESULT, uint32(p.result))
	}
	if p.ewmaRate != 0 {
		e.u32(uapi.TCA_POLICE_AVRATE, p.ewmaRate)
	}
	e.tm(uapi.TCA_POLICE_TM, &pa.Common)
}

// rateString is iproute2's print_rate: bits per second with SI units.
func rateString(bps uint64) string {
	rate := bps << 3
	units := []string{"", "K", "M", "G", "T"}
	i := 0
	for ; i < len(units)-1; i++ {
		if rate < 1000 || (rate%1000 != 0 && rate < 1000*1000) {
			break
		}
		rate /= 1000
	}
	return fmt.Sprintf("%d%sbit", rate, units[i])
}

// sizeString is iproute2's sprint_size.
func sizeString(sz uint64) string {
	const kilo, mega, giga = 1024, 1024 * 1024, 1024 * 1024 * 1024
	t := float64(sz)
	switch {
	case sz >= giga && math.Abs(giga*math.RoundToEven(t/giga)-t) < 1024:
		return fmt.Sprintf("%gGb", math.RoundToEven(t/giga))
	case sz >= mega && math.Abs(mega*math.RoundToEven(t/mega)-t) < 1024:
		return fmt.Sprintf("%gMb", math.RoundToEven(t/mega))
	case sz >= kilo && math.Abs(kilo*math.RoundToEven(t/kilo)-t) < 16:
		return fmt.Sprintf("%gKb", math.RoundToEven(t/kilo))
	}
	return fmt.Sprintf("%db", sz)
}

// format is iproute2's print_police.
func (pa *policeAction) format(w *strings.Builder, bind, ref int32, stats bool) {
	p := pa.p.Load()
	var rate uint64
	if p.ratePresent {
		rate = p.rate.rateBps
	}
	burstBytes := uint64(float64(rate) * (float64(p.burst>>uapi.PSCHED_SHIFT) / 15.625) / 1e6)
	fmt.Fprintf(w, " police 0x%x rate %s burst %s mtu %s ", pa.index, rateString(rate), sizeString(burstBytes), sizeString(uint64(p.mtu)))
	if p.peakPresent && p.peak.rateBps != 0 {
		fmt.Fprintf(w, "peakrate %s ", rateString(p.peak.rateBps))
	}
	if p.ewmaRate != 0 {
		fmt.Fprintf(w, "avrate %s ", rateString(uint64(p.ewmaRate)))
	}
	if p.ppsPresent {
		ppsBurst := uint64(float64(p.pps.rateBps) * (float64(p.pktBurst>>uapi.PSCHED_SHIFT) / 15.625) / 1e6)
		fmt.Fprintf(w, "pkts_rate %d pkts_burst %d ", p.pps.rateBps, ppsBurst)
	}
	fmt.Fprintf(w, "action %s", ctrlString(pa.Verdict()))
	if p.result != 0 {
		fmt.Fprintf(w, "/%s ", ctrlString(p.result))
	} else {
		w.WriteString(" ")
	}
	fmt.Fprintf(w, "overhead %s ", sizeString(uint64(p.rate.overhead)))
	if p.rate.linklayer > uapi.TC_LINKLAYER_ETHERNET {
		w.WriteString("linklayer atm ")
	}
	fmt.Fprintf(w, "\n\tref %d bind %d", pa.refcnt-ref, pa.bindcnt-bind)
	if stats {
		var sb strings.Builder
		formatGen(&sb, &pa.Common, bind, ref, stats, "")
		line := sb.String()
		if i := strings.Index(line, " installed"); i >= 0 {
			w.WriteString(strings.TrimSuffix(line[i:], "\n"))
		}
	}
	w.WriteString("\n")
}
