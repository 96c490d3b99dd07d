//go:build linux

package cbpf

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/cbpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// Kernel-differential tests: the same programs run in the kernel (attached
// with SO_ATTACH_FILTER to an AF_UNIX socket pair, or to an AF_PACKET
// socket on a veth pair in a private namespace) and on both engines, and
// the kernel's checker decisions and delivered lengths must match ours.

// oracle is a socket with a classic filter.
type oracle interface {
	Attach([]bpf.RawInstruction) error
	Deliver([]byte) (int, error)
}

// pinCPU locks the calling goroutine to its thread and the thread to the
// last CPU, so that the kernel runs filters for packets it sends on that
// CPU (the send path for AF_UNIX, the veth receive softirq for AF_PACKET).
// The thread is discarded when the test goroutine ends.
func pinCPU(t *testing.T) uint32 {
	t.Helper()
	runtime.LockOSThread()
	cpu := runtime.NumCPU() - 1
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		kerneltest.Skip(t, fmt.Sprintf("sched_setaffinity: %v", err))
	}
	return uint32(cpu)
}

// delivered is what a socket gets from a filter result: nothing for 0,
// else min(result, len).
func delivered(res uint32, plen int) int {
	if res == 0 {
		return -1
	}
	return int(min(uint64(res), uint64(plen)))
}

// differ runs prog on the oracle and on both engines for every packet and
// reports the first disagreement. mk builds the engine's packet for a
// payload as the oracle's kernel sees it.
type differ struct {
	o      oracle
	mk     func([]byte) *packet.Packet
	checks int // checker decisions compared
	runs   int // packet runs compared
	kept   int // runs where the packet was delivered
}

func (d *differ) compare(prog []bpf.RawInstruction, payloads [][]byte) error {
	kerr := d.o.Attach(prog)
	ours := Check(prog)
	d.checks++
	if kerr != nil {
		if !errors.Is(kerr, syscall.EINVAL) {
			return fmt.Errorf("kernel refused with %v, not EINVAL", kerr)
		}
		if ours == nil {
			return fmt.Errorf("kernel rejects (EINVAL), Check accepts")
		}
		return nil
	}
	if ours != nil {
		return fmt.Errorf("kernel accepts, Check rejects: %v", ours)
	}
	if err := d.runAll(prog, payloads, "program"); err != nil {
		return err
	}
	for n := range 4 {
		probe, ok := rewriteReturns(prog, byteProbe(n))
		if !ok {
			return nil
		}
		if err := d.o.Attach(probe); err != nil {
			return fmt.Errorf("kernel refused the byte-%d probe: %v", n, err)
		}
		if err := d.runAll(probe, payloads, fmt.Sprintf("byte-%d probe", n)); err != nil {
			return err
		}
	}
	return nil
}

// runAll compares the attached prog on every payload.
func (d *differ) runAll(prog []bpf.RawInstruction, payloads [][]byte, what string) error {
	var progs []*Program
	for _, e := range engines {
		p, err := LoadRaw(prog, withEngine(e.e), WithRandom(fixedRandom))
		if err != nil {
			return fmt.Errorf("%s: load on %s: %v", what, e.name, err)
		}
		progs = append(progs, p)
	}
	for i, pl := range payloads {
		pkt := d.mk(pl)
		res := progs[0].Run(pkt)
		for j, p := range progs[1:] {
			if r := p.Run(pkt); r != res {
				return fmt.Errorf("%s, packet %d: %s returns %#x, %s %#x", what, i, engines[j+1].name, r, engines[0].name, res)
			}
		}
		want := delivered(res, pkt.Len())
		got, err := d.o.Deliver(pl)
		if err != nil {
			return err
		}
		d.runs++
		if got >= 0 {
			d.kept++
		}
		if got != want {
			return fmt.Errorf("%s, packet %d (%d bytes): kernel delivers %d, engine result %#x delivers %d\ntrace:\n%s",
				what, i, len(pl), got, res, want, trace(prog, pkt))
		}
	}
	return nil
}

// failProgram reports a disagreement with everything needed to replay it.
func failProgram(t *testing.T, seed uint64, i int, prog []bpf.RawInstruction, err error) {
	t.Helper()
	t.Fatalf("seed %d (replay with CLSBPF_SEED=%d), program %d: %v\nbytecode: %s\n%s", seed, seed, i, err, FormatBytecode(prog), Disassemble(prog))
}

// How many random programs each oracle runs: at least 10,000 per run in
// total, a tenth of that under -short.
const (
	unixPrograms  = 10000
	vethPrograms  = 10000
	dgramPrograms = 3000
	checkPrograms = 20000
)

// shortened returns n, or n/10 under -short.
func shortened(n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// testSeed returns the generator seed: CLSBPF_SEED when set (to replay a
// failure), else the clock.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("CLSBPF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CLSBPF_SEED")
		return v
	}
	return uint64(time.Now().UnixNano())
}

func TestKernelGeneratedUnix(t *testing.T) {
	u := kerneltest.NewUnixPair(t)
	cpu := pinCPU(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x63627066))
	pkt := packet.New(512)
	d := &differ{o: u, mk: func(pl []byte) *packet.Packet {
		require.NoError(t, pkt.SetL3(pl))
		pkt.Protocol, pkt.DeviceType, pkt.Slot = 0, 0, cpu // a datagram: no device, protocol 0
		return pkt
	}}
	mode := genMode{cpu: true}
	for i := range shortened(unixPrograms) {
		plen := 256 + r.IntN(160)
		prog := genProgram(r, mode, plen)
		payloads := [][]byte{genPayload(r, plen), genPayload(r, 256+r.IntN(160))}
		if err := d.compare(prog, payloads); err != nil {
			failProgram(t, seed, i, prog, err)
		}
	}
	t.Logf("seed %d: %d programs, %d checker decisions and %d runs (%d kept) agree with the kernel", seed, shortened(unixPrograms), d.checks, d.runs, d.kept)
}

func TestKernelGeneratedVeth(t *testing.T) {
	v := kerneltest.NewVeth(t)
	cpu := pinCPU(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x76657468))
	pkt := packet.New(1024)
	var mark uint32
	d := &differ{o: v, mk: func(f []byte) *packet.Packet {
		vethPacket(t, pkt, f, v)
		pkt.Mark, pkt.Slot = mark, cpu
		return pkt
	}}
	mode := genMode{device: true, cpu: true}
	for i := range shortened(vethPrograms) {
		mark = r.Uint32()
		require.NoError(t, v.SetMark(mark))
		plen := 256 + r.IntN(200)
		prog := genProgram(r, mode, plen)
		frames := [][]byte{genFrame(r, plen, v.MAC), genFrame(r, 256+r.IntN(200), v.MAC)}
		if err := d.compare(prog, frames); err != nil {
			failProgram(t, seed, i, prog, err)
		}
	}
	t.Logf("seed %d: %d programs, %d checker decisions and %d runs (%d kept) agree with the kernel", seed, shortened(vethPrograms), d.checks, d.runs, d.kept)
}

func TestKernelGeneratedVethDgram(t *testing.T) {
	v := kerneltest.NewVethDgram(t)
	cpu := pinCPU(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x64677261))
	pkt := packet.New(1024)
	var mark uint32
	d := &differ{o: v, mk: func(f []byte) *packet.Packet {
		vethPacket(t, pkt, f, v)
		require.NoError(t, pkt.Pull(pkt.NetworkOffset())) // data at the network header
		pkt.Mark, pkt.Slot = mark, cpu
		return pkt
	}}
	mode := genMode{device: true, cpu: true}
	for i := range shortened(dgramPrograms) {
		mark = r.Uint32()
		require.NoError(t, v.SetMark(mark))
		plen := 256 + 14 + r.IntN(200)
		prog := genProgram(r, mode, plen)
		frames := [][]byte{genFrame(r, plen, v.MAC), genFrame(r, 256+14+r.IntN(200), v.MAC)}
		if err := d.compare(prog, frames); err != nil {
			failProgram(t, seed, i, prog, err)
		}
	}
	t.Logf("seed %d: %d programs, %d checker decisions and %d runs (%d kept) agree with the kernel", seed, shortened(dgramPrograms), d.checks, d.runs, d.kept)
}

// vethPacket fills pkt with frame as the kernel's receive path hands it to
// a packet socket on v's receiving device.
func vethPacket(t testing.TB, pkt *packet.Packet, f []byte, v *kerneltest.Veth) {
	t.Helper()
	require.NoError(t, pkt.SetFrame(f))
	if tpid := uint16(f[12])<<8 | uint16(f[13]); tpid == 0x8100 || tpid == 0x88a8 {
		require.NoError(t, pkt.UntagVLAN())
	}
	pkt.Ifindex = uint32(v.Ifindex)
	pkt.PktType = pktType(f, v.MAC)
}

func TestKernelCheckGenerated(t *testing.T) {
	u := kerneltest.NewUnixPair(t)
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x63686b))
	var rejected, accepted int
	for i := range shortened(checkPrograms) {
		prog := genProgram(r, genMode{device: true, cpu: true}, 300)
		for range 1 + r.IntN(3) {
			prog = mutate(r, prog)
			if len(prog) == 0 {
				break
			}
		}
		kerr := u.Attach(prog)
		ours := Check(prog)
		if kerr != nil && !errors.Is(kerr, syscall.EINVAL) {
			failProgram(t, seed, i, prog, fmt.Errorf("kernel refused with %v, not EINVAL", kerr))
		}
		if (kerr == nil) != (ours == nil) {
			failProgram(t, seed, i, prog, fmt.Errorf("kernel: %v, Check: %v", kerr, ours))
		}
		if ours != nil {
			require.ErrorIs(t, ours, syscall.EINVAL)
			rejected++
		} else {
			accepted++
		}
	}
	t.Logf("seed %d: %d accepted and %d rejected programs agree with the kernel's checker", seed, accepted, rejected)
	require.Greater(t, rejected, shortened(checkPrograms)/4)
	require.Greater(t, accepted, shortened(checkPrograms)/10)
}

// TestKernelRun runs every table case an oracle can answer in the kernel
// too, through the same byte probes as the generated programs.
func TestKernelRun(t *testing.T) {
	u := kerneltest.NewUnixPair(t)
	v := kerneltest.NewVeth(t)
	vd := kerneltest.NewVethDgram(t)
	require.NoError(t, v.SetMark(testMark))
	require.NoError(t, vd.SetMark(testMark))
	for _, c := range allRunCases() {
		if c.oracle == oracleNone {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			cpu := pinCPU(t)
			pkt := packet.New(2048)
			var d *differ
			switch c.oracle {
			case oracleUnix:
				d = &differ{o: u, mk: func(pl []byte) *packet.Packet {
					require.NoError(t, pkt.SetL3(pl))
					require.NoError(t, unixLayout(pkt))
					pkt.Protocol, pkt.DeviceType, pkt.Slot = 0, 0, cpu
					return pkt
				}}
			case oracleVeth:
				d = &differ{o: v, mk: func(f []byte) *packet.Packet {
					vethPacket(t, pkt, f, v)
					pkt.Mark, pkt.Slot = testMark, cpu
					return pkt
				}}
			case oracleVethDgram:
				d = &differ{o: vd, mk: func(f []byte) *packet.Packet {
					vethPacket(t, pkt, f, vd)
					require.NoError(t, pkt.Pull(pkt.NetworkOffset())) // data at the network header
					pkt.Mark, pkt.Slot = testMark, cpu
					return pkt
				}}
			}
			in := c.dgram
			if in == nil {
				in = c.frame
			}
			if err := d.compare(c.prog, [][]byte{in}); err != nil {
				t.Fatalf("%v\n%s", err, Disassemble(c.prog))
			}
			require.Equal(t, 5, d.runs, "the program and its four byte probes ran")
		})
	}
}

// TestKernelCheck attaches every checker table case in the kernel. The
// sockets live in a namespace with a large net.core.optmem_max, so that
// the kernel's per-socket memory charge does not refuse the big programs
// (with ENOMEM) before their translation is judged.
func TestKernelCheck(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "sysctl", "-q", "-w", "net.core.optmem_max=67108864")
	u := kerneltest.NewUnixPairIn(t, ns)
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			kerr := u.Attach(c.prog)
			if c.reason == 0 {
				require.NoError(t, kerr, "kernel rejects a program Check accepts")
				return
			}
			require.ErrorIs(t, kerr, syscall.EINVAL, "kernel accepts a program Check rejects (%v)", c.reason)
		})
	}
}

// htbClass is the class HTB puts a frame in after cls_bpf in classid mode
// returned res, with the filter's classid 1:1: 0 for no class (the frame
// goes out directly).
func htbClass(res uint32, classes int) uint32 {
	switch {
	case res == 0xffffffff:
		return 1 // the filter's classid
	case res>>16 == 1 && res&0xffff >= 1 && int(res&0xffff) <= classes:
		return res & 0xffff
	}
	return 0 // no match, 1:0 (the qdisc itself) or no such class
}

// htbPacket fills pkt with frame as cls_bpf sees it at the egress of the
// device when an AF_PACKET socket sends it: data and the MAC header at the
// frame's start, skb->protocol the raw EtherType, the network header after
// any VLAN tags, pkt_type 0.
func htbPacket(t testing.TB, pkt *packet.Packet, f []byte) {
	t.Helper()
	require.NoError(t, pkt.SetFrame(f))
	off := 12
	for {
		et := uint16(f[off])<<8 | uint16(f[off+1])
		if (et != 0x8100 && et != 0x88a8) || off+6 > len(f) {
			break
		}
		off += 4
	}
	pkt.Protocol = uint16(f[12])<<8 | uint16(f[13])
	require.NoError(t, pkt.SetNetworkOffset(off+2))
}

// classifyDiff sends frames through the HTB qdisc with prog as its filter
// and compares the per-class counts with the engine's results.
func classifyDiff(t *testing.T, htb *kerneltest.HTB, prog []bpf.RawInstruction, frames [][]byte, mk func([]byte) *packet.Packet) (map[uint32]int, error) {
	t.Helper()
	if err := htb.SetFilter(FormatBytecode(prog)); err != nil {
		return nil, fmt.Errorf("tc refuses the filter: %w", err)
	}
	p, err := LoadRaw(prog, WithRandom(fixedRandom))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	want := map[uint32]int{}
	for _, f := range frames {
		res := runEngines(t, prog, mk(f))
		if r := p.Run(mk(f)); r != res {
			return nil, fmt.Errorf("engines disagree: %#x, %#x", r, res)
		}
		want[htbClass(res, htb.Classes)]++
	}
	got, err := htb.Classify(frames)
	if err != nil {
		return nil, err
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return nil, fmt.Errorf("classes (minor: frames): kernel %v, engine %v", got, want)
	}
	return got, nil
}

// TestKernelClassid runs programs as the real cls_bpf classifier under an
// HTB qdisc: the class each frame lands in shows the 32-bit classid result.
func TestKernelClassid(t *testing.T) {
	const classes = 16
	htb := kerneltest.NewHTB(t, classes)
	cpu := pinCPU(t)
	pkt := packet.New(2048)
	mk := func(f []byte) *packet.Packet {
		htbPacket(t, pkt, f)
		pkt.Ifindex, pkt.Slot = uint32(htb.Ifindex), cpu
		return pkt
	}
	ports := make([][]byte, 0, 20)
	for _, port := range append(append([]uint16{}, classifierPorts[:]...), 1, 8080, 65535) {
		ports = append(ports, tcpSYN(80, port))
	}
	ports = append(ports, udp6(90), vlanTagged(tcpSYN(80, 22), 0x8100, 3))

	hand := []struct {
		name string
		prog []bpf.RawInstruction
	}{
		{"port_classifier", portClassifier},
		{"ip_filter_configured_classid", []bpf.RawInstruction{
			stmt(ld|h|abs, 12),           // ldh [12]
			jump(jmp|jeq|k, 0x800, 0, 1), // jeq #0x800 jt 2 jf 3
			stmt(ret|k, 0xffffffff),      // ret #-1: the filter's classid 1:1
			stmt(ret|k, 0),               // ret #0: no match
		}},
		{"classid_from_port", []bpf.RawInstruction{
			stmt(ld|b|abs, 37),      // ldb [37]: low byte of the TCP port
			stmt(alu|and|k, 0x1f),   // and #0x1f
			stmt(alu|or|k, 0x10000), // or #0x10000: 1:0 is the qdisc, 1:17 up no class
			stmt(ret|a, 0),          // ret a
		}},
		{"other_major", []bpf.RawInstruction{
			stmt(ret|k, 0x20001), // ret #0x20001: 2:1 is no class of this qdisc
		}},
		{"load_fault_no_match", []bpf.RawInstruction{
			stmt(ld|w|abs, 1000), // ld [1000]: past the end, the filter returns 0
			stmt(ret|k, 0x10002), // ret #0x10002
		}},
	}
	for _, c := range hand {
		got, err := classifyDiff(t, htb, c.prog, ports, mk)
		if err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, Disassemble(c.prog))
		}
		t.Logf("%s: frames per class (0 = none): %v", c.name, got)
	}

	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x68746200))
	mode := genMode{device: true, cpu: true}
	const programs = 40
	compared := 0
	for i := range programs {
		plen := 64 + r.IntN(200)
		prog := genProgram(r, mode, plen)
		if Check(prog) != nil {
			continue
		}
		frames := make([][]byte, 6)
		for j := range frames {
			frames[j] = genFrame(r, 64+r.IntN(200), htb.MAC)
		}
		for n := range 2 {
			probe, ok := rewriteReturns(prog, classProbe(n))
			if !ok {
				break
			}
			if _, err := classifyDiff(t, htb, probe, frames, mk); err != nil {
				failProgram(t, seed, i, prog, fmt.Errorf("nibble %d: %w", n, err))
			}
			compared++
		}
	}
	t.Logf("seed %d: %d generated probes classified as the kernel does", seed, compared)
}

// TestKernelBytecode gives every bytecode table case to the real tc
// (iproute2's parser, then the kernel's checker through cls_bpf) and
// compares what it accepts and what it prints back.
func TestKernelBytecode(t *testing.T) {
	htb := kerneltest.NewHTB(t, 1)
	dir := t.TempDir()
	for i, c := range bytecodeCases {
		if strings.IndexByte(c.text, 0) >= 0 {
			continue // an argument cannot hold a NUL
		}
		t.Run(c.name, func(t *testing.T) {
			args := []string{"filter", "replace", "dev", "veth0", "parent", "1:", "pref", "1", "handle", "1", "bpf"}
			if c.file {
				path := filepath.Join(dir, fmt.Sprintf("prog%d.bpf", i))
				require.NoError(t, os.WriteFile(path, []byte(c.text), 0o600))
				args = append(args, "bytecode-file", path)
			} else {
				args = append(args, "bytecode", c.text)
			}
			_, terr := htb.NS.Run("tc", append(args, "classid", "1:1")...)
			if c.want == nil {
				require.Error(t, terr, "tc accepts what ParseBytecode rejects")
				return
			}
			require.NoError(t, Check(c.want))
			require.NoError(t, terr, "tc rejects what ParseBytecode accepts")
			out := htb.NS.MustRun(t, "tc", "filter", "show", "dev", "veth0")
			assert.Contains(t, out, "bytecode '"+FormatBytecode(c.want)+"'")
		})
	}
}

// translationVariants are instructions whose eBPF translation sizes the
// checker's jump-range rule depends on: every opcode, with the operand
// ranges that change what bpf_convert_filter emits.
var translationVariants = []struct {
	name string
	in   bpf.RawInstruction
}{
	{"ld_abs_w_0", stmt(ld|w|abs, 0)},
	{"ld_abs_h_12", stmt(ld|h|abs, 12)},
	{"ld_abs_b_23", stmt(ld|b|abs, 23)},
	{"ld_abs_w_32767", stmt(ld|w|abs, 32767)},
	{"ld_abs_h_32768", stmt(ld|h|abs, 32768)},
	{"ld_abs_b_negative", stmt(ld|b|abs, netOff)},
	{"ld_abs_w_ll", stmt(ld|w|abs, llOff+2)},
	{"ld_ind_w_0", stmt(ld|w|ind, 0)},
	{"ld_ind_h_16", stmt(ld|h|ind, 16)},
	{"ld_ind_b_negative", stmt(ld|b|ind, netOff)},
	{"ldx_msh_14", stmt(ldx|b|msh, 14)},
	{"ldx_msh_0", stmt(ldx|b|msh, 0)},
	{"ldx_msh_40000", stmt(ldx|b|msh, 40000)},
	{"ldx_msh_negative", stmt(ldx|b|msh, netOff)},
	{"ld_len", stmt(ld|w|lenm, 0)},
	{"ldx_len", stmt(ldx|w|lenm, 0)},
	{"ld_imm", stmt(ld|imm, 5)},
	{"ldx_imm", stmt(ldx|imm, 5)},
	{"ld_mem", stmt(ld|mem, 3)},
	{"ldx_mem", stmt(ldx|mem, 15)},
	{"st", stmt(st, 2)},
	{"stx", stmt(stx, 2)},
	{"tax", stmt(misc|tax, 0)},
	{"txa", stmt(misc|txa, 0)},
	{"add_k", stmt(alu|add|k, 1)},
	{"sub_x", stmt(alu|sub|x, 0)},
	{"mul_k", stmt(alu|mul|k, 3)},
	{"div_k", stmt(alu|div|k, 3)},
	{"div_x", stmt(alu|div|x, 0)},
	{"mod_k", stmt(alu|mod|k, 3)},
	{"mod_x", stmt(alu|mod|x, 0)},
	{"and_x", stmt(alu|and|x, 0)},
	{"or_k", stmt(alu|or|k, 1)},
	{"xor_k", stmt(alu|xor|k, 1)},
	{"lsh_k", stmt(alu|lsh|k, 1)},
	{"rsh_x", stmt(alu|rsh|x, 0)},
	{"neg", stmt(alu|neg, 0)},
	{"ja", stmt(jmp|ja, 0)},
	{"jeq_k_jf0", jump(jmp|jeq|k, 1, 0, 0)},
	{"jeq_k_jt0", jump(jmp|jeq|k, 1, 0, 1)},
	{"jgt_k_jt0", jump(jmp|jgt|k, 1, 0, 1)},
	{"jge_x_jt0", jump(jmp|jge|x, 0, 0, 1)},
	{"jset_k_jt0", jump(jmp|jset|k, 1, 0, 1)},
	{"jeq_k_both", jump(jmp|jeq|k, 1, 1, 1)},
	{"jeq_k_negative_jf0", jump(jmp|jeq|k, 0x80000000, 0, 0)},
	{"jgt_k_negative_both", jump(jmp|jgt|k, 0xffffffff, 1, 1)},
	{"jset_x_both", jump(jmp|jset|x, 0, 1, 1)},
	{"ret_k", stmt(ret|k, 1)},
	{"ret_a", stmt(ret|a, 0)},
	{"anc_protocol", stmt(ld|w|abs, anc(0))},
	{"anc_pkttype", stmt(ld|w|abs, anc(4))},
	{"anc_ifindex", stmt(ld|w|abs, anc(8))},
	{"anc_nlattr", stmt(ld|w|abs, anc(12))},
	{"anc_nlattr_nest", stmt(ld|w|abs, anc(16))},
	{"anc_mark", stmt(ld|w|abs, anc(20))},
	{"anc_queue", stmt(ld|w|abs, anc(24))},
	{"anc_hatype", stmt(ld|w|abs, anc(28))},
	{"anc_rxhash", stmt(ld|w|abs, anc(32))},
	{"anc_cpu", stmt(ld|w|abs, anc(36))},
	{"anc_alu_xor_x", stmt(ld|w|abs, anc(40))},
	{"anc_vlan_tag", stmt(ld|w|abs, anc(44))},
	{"anc_vlan_tag_present", stmt(ld|w|abs, anc(48))},
	{"anc_pay_offset", stmt(ld|w|abs, anc(52))},
	{"anc_random", stmt(ld|w|abs, anc(56))},
	{"anc_vlan_tpid", stmt(ld|w|abs, anc(60))},
}

// TestKernelTranslationSizes pins the size of every instruction's eBPF
// translation, which decides where the checker's translated-jump limit
// falls: 64 copies of the instruction, then long loads and one-instruction
// fillers up to the last position Check accepts for a jump, then the
// jump. The kernel must accept exactly that program and reject it with one
// more filler; a size off by one would move the boundary by 64.
func TestKernelTranslationSizes(t *testing.T) {
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "sysctl", "-q", "-w", "net.core.optmem_max=67108864")
	u := kerneltest.NewUnixPairIn(t, ns)
	build := func(in bpf.RawInstruction, long, fill int) []bpf.RawInstruction {
		var p []bpf.RawInstruction
		for i := range uint32(16) {
			p = append(p, stmt(st, i)) // st M[i]: every scratch word written
		}
		p = append(p, repeat(64, in)...)
		p = append(p, repeat(long, stmt(ld|b|abs, 40000))...) // ldb [40000]
		p = append(p, repeat(fill, stmt(ld|imm, 0))...)       // ld #0
		return append(p, stmt(jmp|ja, 0), stmt(ret|k, 0))     // ja +0; ret #0
	}
	for _, v := range translationVariants {
		t.Run(v.name, func(t *testing.T) {
			// The largest run of long loads Check accepts (monotone).
			long := sort.Search(4096-64-16-2, func(n int) bool { return Check(build(v.in, n+1, 0)) != nil })
			fill := 0
			for Check(build(v.in, long, fill+1)) == nil {
				fill++
			}
			require.Less(t, fill, 15)
			last := build(v.in, long, fill)
			require.NoError(t, u.Attach(last), "kernel rejects the last accepted position")
			over := build(v.in, long, fill+1)
			var ce *CheckError
			require.ErrorAs(t, Check(over), &ce)
			require.Equal(t, ReasonTranslation, ce.Reason)
			require.ErrorIs(t, u.Attach(over), syscall.EINVAL, "kernel accepts one position further")
		})
	}
}

// trace returns the reference interpreter's trace of prog on pkt, one
// "pc A X" line per instruction, for failure reports.
func trace(prog []bpf.RawInstruction, pkt *packet.Packet) string {
	var b strings.Builder
	env := &cbpfvm.Env{Random: fixedRandom, Trace: func(pc int, a, x uint32) {
		fmt.Fprintf(&b, "%s\tA=%#x X=%#x\n", cbpfvm.Disassemble(pc, prog[pc].Op, prog[pc].Jt, prog[pc].Jf, prog[pc].K), a, x)
	}}
	res := cbpfvm.Interpret(toInsns(prog), pkt, env)
	fmt.Fprintf(&b, "result %#x\n", res)
	return b.String()
}

// TestKernelCheckSpace sweeps the checker's per-instruction rules against
// the kernel's: every 16-bit opcode with the constants each rule turns on,
// first in a program and as its last instruction, and every LD ABS offset
// from just below the ancillary area to -1 at every size.
func TestKernelCheckSpace(t *testing.T) {
	u := kerneltest.NewUnixPair(t)
	n, bad := 0, 0
	try := func(prog []bpf.RawInstruction) {
		n++
		kerr := u.Attach(prog)
		ours := Check(prog)
		if kerr != nil && !errors.Is(kerr, syscall.EINVAL) {
			t.Fatalf("kernel refused %s with %v, not EINVAL", FormatBytecode(prog), kerr)
		}
		if (kerr == nil) != (ours == nil) {
			bad++
			if bad <= 20 {
				t.Errorf("%s: kernel %v, Check %v", FormatBytecode(prog), kerr, ours)
			}
		}
	}
	for code := range 0x10000 {
		for _, kv := range []uint32{0, 16, 32, 0xffffffff} {
			try([]bpf.RawInstruction{{Op: uint16(code), K: kv}, stmt(ret|a, 0)})
		}
		try([]bpf.RawInstruction{{Op: uint16(code), Jt: 1, Jf: 0, K: 1}, stmt(ret|k, 0), stmt(ret|a, 0)})
		try([]bpf.RawInstruction{{Op: uint16(code), K: 1}})
	}
	for kv := adOff - 4; kv != 0; kv++ {
		for _, sz := range []uint16{w, h, b} {
			try([]bpf.RawInstruction{stmt(ld|sz|abs, kv), stmt(ret|a, 0)})
		}
	}
	t.Logf("%d programs, %d disagreements with the kernel's checker", n, bad)
}

// TestKernelALUSpace runs every ALU operation and conditional jump, with
// K and with X, on pairs of edge values, through the kernel and both
// engines (full 32-bit results through the byte probes).
func TestKernelALUSpace(t *testing.T) {
	u := kerneltest.NewUnixPair(t)
	cpu := pinCPU(t)
	pkt := packet.New(512)
	d := &differ{o: u, mk: func(pl []byte) *packet.Packet {
		require.NoError(t, pkt.SetL3(pl))
		pkt.Protocol, pkt.DeviceType, pkt.Slot = 0, 0, cpu
		return pkt
	}}
	vals := []uint32{0, 1, 2, 3, 7, 31, 32, 33, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678}
	payload := [][]byte{make([]byte, 300)}
	ops := []uint16{add, sub, mul, div, or, and, lsh, rsh, mod, xor}
	for _, av := range vals {
		for _, bv := range vals {
			var progs [][]bpf.RawInstruction
			for _, op := range ops {
				progs = append(progs,
					[]bpf.RawInstruction{
						stmt(ld|imm, av),   // ld #a
						stmt(alu|op|k, bv), // op #b (some are rejected: the checker is compared too)
						stmt(ret|a, 0),     // ret a
					},
					[]bpf.RawInstruction{
						stmt(ld|imm, av),  // ld #a
						stmt(ldx|imm, bv), // ldx #b
						stmt(alu|op|x, 0), // op x
						stmt(ret|a, 0),    // ret a
					})
			}
			for _, op := range []uint16{jeq, jgt, jge, jset} {
				for _, src := range []uint16{k, x} {
					progs = append(progs, []bpf.RawInstruction{
						stmt(ld|imm, av),           // ld #a
						stmt(ldx|imm, bv),          // ldx #b
						jump(jmp|op|src, bv, 0, 1), // jop #b or x, jt 3 jf 4
						stmt(ret|k, 1),             // ret #1
						stmt(ret|k, 2),             // ret #2
					})
				}
			}
			progs = append(progs, []bpf.RawInstruction{
				stmt(ld|imm, av), // ld #a
				stmt(alu|neg, 0), // neg
				stmt(ret|a, 0),   // ret a
			})
			for _, p := range progs {
				if err := d.compare(p, payload); err != nil {
					t.Fatalf("a=%#x b=%#x: %v\n%s", av, bv, err, Disassemble(p))
				}
			}
		}
	}
	t.Logf("%d programs, %d runs agree with the kernel", d.checks, d.runs)
}
