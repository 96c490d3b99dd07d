package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"sort"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/btftarget"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

var vmlinux = sync.OnceValues(func() (*btf.Spec, error) {
	return btf.LoadSpec("/sys/kernel/btf/vmlinux")
})

// kernelTarget returns this machine's full vmlinux BTF as a target, or
// skips when the kernel exposes none.
func kernelTarget(t *testing.T) *Target {
	t.Helper()
	kerneltest.RequireLinux(t)
	spec, err := vmlinux()
	if errors.Is(err, os.ErrNotExist) {
		kerneltest.Skip(t, "kernel exposes no BTF at /sys/kernel/btf/vmlinux")
	}
	require.NoError(t, err)
	tg, err := NewTarget(spec)
	require.NoError(t, err)
	return tg
}

// ciliumRelocate applies cilium/ebpf's own CO-RE code (the code
// ebpf.NewProgram runs against the kernel) to a program: the reference the
// instructions are compared with.
func ciliumRelocate(t *testing.T, p *ebpf.ProgramSpec, local, target *btf.Spec) (asm.Instructions, error) {
	t.Helper()
	insns := append(asm.Instructions(nil), p.Instructions...)
	var relos []*btf.CORERelocation
	var at []int
	for i := range insns {
		if r := btf.CORERelocationMetadata(&insns[i]); r != nil {
			relos = append(relos, r)
			at = append(at, i)
		}
	}
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{target}, binary.LittleEndian, local.TypeID)
	if err != nil {
		return nil, err
	}
	for i, f := range fixups {
		if err := f.Apply(&insns[at[i]]); err != nil {
			return nil, err
		}
	}
	return insns, nil
}

// sameInsns compares two relocated programs field by field. cilium
// poisons an LD_IMM64 as "r10 = 0xbad2310 ll" where libbpf and the kernel
// write two calls; the two forms count as the same.
func sameInsns(t *testing.T, want, got asm.Instructions) {
	t.Helper()
	j := 0
	for i := 0; i < len(want); i, j = i+1, j+1 {
		require.Less(t, j, len(got), "relocated program too short")
		w, g := want[i], got[j]
		if w.IsConstantLoad(asm.DWord) && w.Dst == asm.R10 && w.Constant == PoisonImm {
			assert.True(t, isPoison(g) && j+1 < len(got) && isPoison(got[j+1]), "insn %d: %v, want poisoned LD_IMM64", j, g)
			j++
			continue
		}
		if w.OpCode != g.OpCode || w.Dst != g.Dst || w.Src != g.Src || w.Offset != g.Offset || w.Constant != g.Constant {
			t.Errorf("insn %d: got %v, want %v", j, g, w)
		}
	}
	assert.Equal(t, len(got), j, "relocated program too long")
}

func isPoison(ins asm.Instruction) bool {
	return ins.OpCode == asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call) && ins.Constant == PoisonImm
}

// runOutcome is what the kernel made of a program: load error or the
// return value and the context and packet after the run.
type runOutcome struct {
	loadErr bool
	ret     uint32
	ctx     []byte
	data    []byte
}

func runInKernel(t *testing.T, spec *ebpf.ProgramSpec, kernelTypes *btf.Spec) (runOutcome, string) {
	t.Helper()
	prog, err := ebpf.NewProgramWithOptions(spec, ebpf.ProgramOptions{KernelTypes: kernelTypes})
	if err != nil {
		return runOutcome{loadErr: true}, err.Error()
	}
	defer prog.Close()
	ctx := make([]byte, 192)
	binary.LittleEndian.PutUint32(ctx[8:], 0x1234)  // mark
	binary.LittleEndian.PutUint32(ctx[32:], 0x77)   // priority
	binary.LittleEndian.PutUint32(ctx[48+4:], 0xaa) // cb[1]
	binary.LittleEndian.PutUint32(ctx[160:], 0)     // wire_len
	out := runOutcome{ctx: make([]byte, 192), data: make([]byte, len(testPacket))}
	out.ret, err = prog.Run(&ebpf.RunOptions{Data: testPacket, DataOut: out.data, Context: ctx, ContextOut: out.ctx})
	require.NoError(t, err)
	return out, ""
}

// testPacket is Ethernet + IPv4 (ihl 5, ttl 64, UDP, 10.0.0.1 → 192.0.2.7).
var testPacket = []byte{
	0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
	10, 0, 0, 1, 192, 0, 2, 7,
	0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
}

// TestKernelDifferential relocates every test program against this
// machine's full vmlinux BTF and checks the result three ways: the
// instructions equal cilium/ebpf's relocation (what ebpf.NewProgram does
// against this kernel), the kernel accepts or rejects both the same way,
// and both run in the kernel (BPF_PROG_TEST_RUN) with the same return
// value, context and packet.
func TestKernelDifferential(t *testing.T) {
	tg := kernelTarget(t)
	kerneltest.RequireRoot(t)
	for _, obj := range []string{"kinds.o", "matches.o", "parse.o"} {
		cs := object(t, obj)
		names := make([]string, 0, len(cs.Programs))
		for name := range cs.Programs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			t.Run(obj+"/"+name, func(t *testing.T) {
				p := cs.Programs[name]
				mine, err := Apply(p, cs.Types, tg, nil)
				require.NoError(t, err)
				theirs, err := ciliumRelocate(t, p, cs.Types, tg.Spec())
				require.NoError(t, err)
				if why, ok := ciliumDeviations[name]; ok {
					// TestKernelCORE and TestLibbpfVmlinux hold ours to the
					// kernel and libbpf here; the list must stay true.
					assert.False(t, sameProgram(theirs, mine), "listed as a cilium deviation (%s) but the same", why)
					t.Logf("cilium/ebpf deviates from libbpf and the kernel: %s", why)
					return
				}
				sameInsns(t, theirs, mine)

				want, wantMsg := runInKernel(t, p.Copy(), tg.Spec())
				spec := p.Copy()
				spec.Instructions = mine // no CO-RE metadata left: cilium loads it as is
				got, gotMsg := runInKernel(t, spec, tg.Spec())
				require.Equal(t, want.loadErr, got.loadErr, "load: cilium %q, ours %q", wantMsg, gotMsg)
				if want.loadErr {
					assert.Contains(t, gotMsg, "invalid func unknown#195896080")
					return
				}
				if name == "tid_local_iphdr" {
					// ebpf.NewProgram relocates against the BTF it
					// re-marshals for the load, whose IDs are not the
					// object's that libbpf (and the instructions above) use.
					assert.NotEqual(t, want.ret, got.ret, "cilium's load-time local type ID")
					assert.EqualValues(t, typeID(t, cs.Types, "iphdr"), got.ret)
					return
				}
				assert.Equal(t, want.ret, got.ret, "return value")
				assert.Equal(t, want.ctx, got.ctx, "context after the run")
				assert.Equal(t, want.data, got.data, "packet after the run")
			})
		}
	}
}

// ciliumDeviations are the programs where cilium/ebpf v0.22.0's CO-RE
// differs from libbpf's and the kernel's (TestKernelCORE holds ours to the
// kernel's for all of them).
var ciliumDeviations = map[string]string{
	"memsz_wide_mark":    "it never resizes a load whose field changed size, so the kernel rejects the 8-byte context load",
	"memsz_signed_mark":  "it never poisons a load whose signed field changed size",
	"tid_kernel_missing": "it poisons a target type ID with no target, where libbpf writes 0",
}

// kernelValues are the values kinds.c and matches.c return on this
// machine's kernel where they differ from the shipped target's.
var kernelValues = map[string]int64{
	"texists_sk_buff": 1,
}

// kernelRefuses are the programs whose relocation the kernel refuses
// while libbpf applies it: __sk_buff nests unions inside its struct, two
// levels more than the kernel's MAX_TYPES_MATCH_DEPTH lets type_matches
// walk.
var kernelRefuses = map[string]syscall.Errno{
	"tmatch_skb": syscall.EINVAL,
}

// TestKernelValues runs each value-returning program relocated by the
// kernel itself (BPF_PROG_LOAD with core_relos) and checks it returns the
// constant this package writes against the full vmlinux, with libbpf's
// rules and with the kernel's.
func TestKernelValues(t *testing.T) {
	tg := kernelTarget(t)
	kerneltest.RequireRoot(t)
	raws := map[string]*rawObject{}
	fds := map[string]int{}
	for _, c := range kindCases {
		if _, ok := raws[c.obj]; !ok {
			raws[c.obj] = readRawObject(t, "testdata/"+c.obj)
			fds[c.obj] = loadBTF(t, raws[c.obj].btf)
		}
	}
	for _, c := range kindCases {
		t.Run(c.prog, func(t *testing.T) {
			raw := raws[c.obj]
			cs := object(t, c.obj)
			want := c.want
			if v, ok := kernelValues[c.prog]; ok {
				want = v
			}
			refused := kernelRefuses[c.prog]
			for _, opts := range []*Options{nil, {Kernel: true}} {
				out, err := relocate(t, cs, c.prog, tg, opts)
				if opts != nil && refused != 0 {
					assert.ErrorIs(t, err, refused)
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, want, retImm(t, out), "relocated constant, %+v", opts)
			}
			code, krelos, _ := raw.program(t, c.prog)
			fn, err := cs.Types.AnyTypeByName(c.prog)
			require.NoError(t, err)
			funcID, err := cs.Types.TypeID(fn)
			require.NoError(t, err)
			prog, log, err := loadProg(t, code, fds[c.obj], funcID, krelos)
			if refused != 0 {
				assert.ErrorIs(t, err, refused, lastLine(log))
				return
			}
			require.NoError(t, err, lastLine(log))
			assert.Equal(t, uint32(want), runCtx(t, prog).ret, "kernel run")
		})
	}
}

// targetDifferences are the programs whose relocation against the shipped
// target differs from the one against this kernel's full BTF, and why.
var targetDifferences = map[string]string{
	"tid_kernel_iphdr": "type IDs are those of the reduced blob",
	"texists_sk_buff":  "struct sk_buff is kernel-internal and left out of the target",
}

// TestShippedTargetFaithful relocates every test program against the
// shipped target and against the full BTF of the kernel it was generated
// from: apart from the listed cases, the results are the same.
func TestShippedTargetFaithful(t *testing.T) {
	full := kernelTarget(t)
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err)
	if got := string(bytes.TrimSpace(release)); got != btftarget.KernelRelease {
		t.Skipf("target generated from %s, running %s", btftarget.KernelRelease, got)
	}
	ours := shipped(t)
	for _, obj := range []string{"kinds.o", "matches.o", "parse.o"} {
		cs := object(t, obj)
		for name, p := range cs.Programs {
			t.Run(obj+"/"+name, func(t *testing.T) {
				a, errA := Apply(p, cs.Types, ours, nil)
				b, errB := Apply(p, cs.Types, full, nil)
				require.Equal(t, errA == nil, errB == nil, "shipped: %v, full: %v", errA, errB)
				if why, ok := targetDifferences[name]; ok {
					assert.NotEqual(t, a.String(), b.String(), "expected to differ: %s", why)
					return
				}
				assert.Equal(t, a.String(), b.String())
			})
		}
	}
}

// BenchmarkNewTargetVmlinux indexes this kernel's full BTF, the target of
// a program relocated for the running kernel.
func BenchmarkNewTargetVmlinux(b *testing.B) {
	kerneltest.RequireLinux(b)
	spec, err := vmlinux()
	if err != nil {
		b.Skip("no kernel BTF: ", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewTarget(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyVmlinux relocates the parser against the full vmlinux.
func BenchmarkApplyVmlinux(b *testing.B) {
	kerneltest.RequireLinux(b)
	spec, err := vmlinux()
	if err != nil {
		b.Skip("no kernel BTF: ", err)
	}
	tg, err := NewTarget(spec)
	require.NoError(b, err)
	cs := object(b, "parse.o")
	p := cs.Programs["parse_ipv4"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(p, cs.Types, tg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLibbpfVmlinux compares the relocation against this kernel's BTF
// with libbpf's own, recorded on the kernel the golden file names.
func TestLibbpfVmlinux(t *testing.T) {
	tg := kernelTarget(t)
	head, err := os.ReadFile("testdata/libbpf-vmlinux.golden")
	require.NoError(t, err)
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err)
	if !bytes.Contains(head, []byte("Linux "+string(bytes.TrimSpace(release))+",")) {
		t.Skipf("golden file recorded on another kernel than %s", bytes.TrimSpace(release))
	}
	checkGolden(t, "testdata/libbpf-vmlinux.golden", tg)
}
