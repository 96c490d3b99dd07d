package ebpf_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	cebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// coreCases are the programs of testdata/core, compiled against this
// machine's vmlinux.h.
var coreCases = []objectCase{
	{object: "bootstrap", prog: "tc_ingress"},
	{object: "skbcore", prog: "skb_core"},
	{object: "kconfig", prog: "kconfig_tc"},
	{object: "rodata", prog: "rodata_tc"},
	{object: "rodata", prog: "rodata_tc", vars: map[string]any{"blocked_port": uint16(80), "mark_value": uint32(0xbeef)}},
	{object: "rodata", prog: "rodata_tc", vars: map[string]any{"blocked_port": uint16(443), "count_only": true}},
	{object: "exists", prog: "exists_tc"},
	{object: "parse", prog: "parse_tc"},
}

// coreCorpus is the object corpus plus the frames header parsers branch
// on: 802.1Q-tagged IPv4, IPv6 with TCP and UDP, a TCP reset.
func coreCorpus() [][]byte {
	out := corpus()
	vlan := corpusTCP(443, [4]byte{10, 4, 5, 6}, 8)
	vlan = append(append(append([]byte{}, vlan[:12]...), 0x81, 0x00, 0x20, 0x2a), vlan[12:]...)
	out = append(out, vlan)
	for _, proto := range []byte{6, 17} {
		f := make([]byte, 14+40+20+6)
		copy(f, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60})
		binary.BigEndian.PutUint16(f[18:], 26)
		f[20], f[21] = proto, 33
		for i := 22; i < 54; i++ {
			f[i] = byte(i * 3)
		}
		binary.BigEndian.PutUint16(f[54:], 1234)
		binary.BigEndian.PutUint16(f[56:], 80)
		binary.BigEndian.PutUint16(f[58:], 26)
		f[66] = 0x50
		f[67] = 0x12 // SYN|ACK
		out = append(out, f)
	}
	rst := corpusTCP(80, [4]byte{10, 1, 2, 3}, 0)
	rst[47] = 0x04
	out = append(out, rst)
	return out
}

// machineKconfig is this machine's kernel configuration, which the
// kernel side (cilium/ebpf) reads too.
func machineKconfig(t *testing.T) map[string]string {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		kerneltest.Skip(t, fmt.Sprintf("no /proc/config.gz: %v", err))
	}
	defer f.Close()
	kc, err := ebpf.ParseKconfig(f)
	require.NoError(t, err)
	return kc
}

// TestCOREObjectsAgainstKernel loads each CO-RE object twice: into the
// kernel by cilium/ebpf, which relocates against the running kernel's
// BTF and fills kconfig from its .config, and into the library, which
// relocates against the shipped target BTF (and, in a second pass, against
// the running kernel's full BTF). Both run the corpus; return values,
// packets, the context out, maps and program tags must be equal.
func TestCOREObjectsAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	kc := machineKconfig(t)
	vmlinux, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		kerneltest.Skip(t, fmt.Sprintf("no kernel BTF: %v", err))
	}
	for _, target := range []string{"shipped", "vmlinux"} {
		for _, tc := range coreCases {
			name := target + "/" + tc.object + "/" + tc.prog
			if tc.vars != nil {
				name += fmt.Sprintf("/%v", tc.vars)
			}
			t.Run(name, func(t *testing.T) {
				path := filepath.Join("testdata", "core", tc.object+".o")
				opts := ebpf.ObjectOptions{Kconfig: kc}
				if target == "vmlinux" {
					opts.TargetBTF = vmlinux
				}
				spec, err := ebpf.LoadObjectFileWithOptions(path, opts)
				require.NoError(t, err)
				for name, v := range tc.vars {
					require.NoError(t, spec.SetVariable(name, v))
				}
				lib, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
				require.NoError(t, err)
				kern := kernelObjectVars(t, path, tc.vars)

				for name, kp := range kern.Programs {
					info, err := kp.Info()
					require.NoError(t, err)
					tag := lib.Programs[name].Tag()
					assert.Equal(t, info.Tag, hex.EncodeToString(tag[:]), "tag of %s", name)
				}
				kprog, lprog := kern.Programs[tc.prog], lib.Programs[tc.prog]
				require.NotNil(t, kprog)
				require.NotNil(t, lprog)
				for i, frame := range coreCorpus() {
					mark, prio, cb := ctxFor(i)
					var ctxIn, ctxOut [skbSize]byte
					binary.LittleEndian.PutUint32(ctxIn[skbMark:], mark)
					binary.LittleEndian.PutUint32(ctxIn[skbPriority:], prio)
					binary.LittleEndian.PutUint32(ctxIn[skbIfindex:], 1)
					for c := range cb {
						binary.LittleEndian.PutUint32(ctxIn[skbCB+4*c:], cb[c])
					}
					ro := cebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256), Context: ctxIn[:], ContextOut: ctxOut[:]}
					kret, err := kprog.Run(&ro)
					require.NoError(t, err, "frame %d", i)

					pkt := testRunPacket(t, frame)
					pkt.Mark, pkt.Priority, pkt.CB, pkt.Ifindex = mark, prio, cb, 1
					lret, err := lprog.RunChecked(pkt)
					require.NoError(t, err)

					what := fmt.Sprintf("frame %d %x", i, frame)
					assert.Equal(t, kret, lret, "retval, %s", what)
					assert.Equal(t, hex.EncodeToString(ro.DataOut), hex.EncodeToString(pkt.Bytes()), "packet out, %s", what)
					assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbMark:]), pkt.Mark, "mark out, %s", what)
					assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbPriority:]), pkt.Priority, "priority out, %s", what)
					for c := range 5 {
						assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbCB+4*c:]), pkt.CB[c], "cb[%d] out, %s", c, what)
					}
					assert.Equal(t, binary.LittleEndian.Uint64(ctxOut[skbTstamp:]), pkt.Tstamp, "tstamp out, %s", what)
				}
				for name, km := range kern.Maps {
					if !dumpable(km.Type()) || lib.Maps[name] == nil {
						continue
					}
					assert.Equal(t, dumpKernelMap(t, km), dumpLibMap(t, lib.Maps[name]), "map %s after the corpus", name)
				}
			})
		}
	}
}

// TestCOREPoisonAgainstKernel: the kernel rejects the program whose
// unguarded access libbpf's rules poison, as the library does
// (TestUnservedOnlyWhereReached), and accepts the guarded forms.
func TestCOREPoisonAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	spec, err := cebpf.LoadCollectionSpec(coreObject("kfunc"))
	require.NoError(t, err)
	ps := spec.Programs["poison_tc"]
	ps.Type = cebpf.SchedCLS
	_, err = cebpf.NewProgram(ps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "195896080", "the kernel's verdict on the poison call")

	lib, err := ebpf.LoadObjectFileWithOptions(coreObject("kfunc"), ebpf.ObjectOptions{})
	require.NoError(t, err)
	_, err = ebpf.NewProgram(lib.Programs["poison_tc"], ebpf.ProgramOptions{})
	require.ErrorIs(t, err, syscall.EINVAL)
}

// TestWeakExternsAgainstLibbpf loads weak.o with libbpf itself (bpftool
// prog load) and runs it with BPF_PROG_TEST_RUN (bpftool prog run): the
// __weak kconfig externs libbpf leaves unset or fills from this machine's
// .config (including the truncated string) must read as the library's
// do. Two values differ by design: the kernel serves the kfunc
// bpf_ksym_exists probes (mark bit 1), the library serves none; and
// LINUX_HAS_SYSCALL_WRAPPER is only known to libbpf from v1.2, so it is
// left out of the comparison.
func TestWeakExternsAgainstLibbpf(t *testing.T) {
	kerneltest.RequireBPF(t)
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		kerneltest.Skip(t, "bpftool (libbpf's loader) is not installed")
	}
	kc := machineKconfig(t)
	dir := t.TempDir()
	pin := fmt.Sprintf("/sys/fs/bpf/clsbpf_weak_%d", os.Getpid())
	out, err := exec.Command(bpftool, "prog", "load", coreObject("weak"), pin, "type", "classifier").CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { os.Remove(pin) })

	frame := corpusFrame()
	var ctxIn [skbSize]byte
	binary.LittleEndian.PutUint32(ctxIn[skbIfindex:], 1)
	data, ctxInPath, ctxOutPath := filepath.Join(dir, "data"), filepath.Join(dir, "ctx_in"), filepath.Join(dir, "ctx_out")
	require.NoError(t, os.WriteFile(data, frame, 0o600))
	require.NoError(t, os.WriteFile(ctxInPath, ctxIn[:], 0o600))
	out, err = exec.Command(bpftool, "prog", "run", "pinned", pin, "data_in", data, "ctx_in", ctxInPath, "ctx_out", ctxOutPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`Return value: (\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	kret, err := strconv.ParseUint(string(m[1]), 10, 32)
	require.NoError(t, err)
	ctxOut, err := os.ReadFile(ctxOutPath)
	require.NoError(t, err)
	require.Len(t, ctxOut, skbSize)
	kcb := func(i int) uint32 { return binary.LittleEndian.Uint32(ctxOut[skbCB+4*i:]) }

	spec, err := ebpf.LoadObjectFileWithOptions(coreObject("weak"), ebpf.ObjectOptions{Kconfig: kc})
	require.NoError(t, err)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	pkt := testRunPacket(t, frame)
	pkt.Ifindex = 1
	lret, err := col.Programs["weak_tc"].RunChecked(pkt)
	require.NoError(t, err)

	assert.Equal(t, uint32(kret), lret, "retval")
	for _, i := range []int{0, 1, 2, 4} {
		assert.Equal(t, kcb(i), pkt.CB[i], "cb[%d]", i)
	}
	assert.Equal(t, kcb(3)&0xffff, pkt.CB[3]&0xffff, "cb[3]: CONFIG_CLSBPF_SHORT")
	assert.Equal(t, uint32(0), pkt.Mark, "no ksym or kfunc in the library")
	assert.Zero(t, binary.LittleEndian.Uint32(ctxOut[skbMark:])&^2, "the kernel's kfunc is the only mark bit")
}
