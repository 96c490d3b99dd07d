package ebpfvm_test

import (
	"encoding/binary"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ciliumadapt"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestClangPrograms compiles testdata/clang/tc.c with clang, loads each
// program into the VM (through cilium/ebpf's ELF reader and ciliumadapt)
// and into the kernel (with its BTF), and compares the results on a set
// of frames: what clang generates must verify and run as in the kernel.
func TestClangPrograms(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed")
	}
	kerneltest.RequireBPF(t)
	obj := filepath.Join(t.TempDir(), "tc.o")
	out, err := exec.Command(clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-c", filepath.Join("testdata", "clang", "tc.c"), "-o", obj).CombinedOutput()
	require.NoError(t, err, "clang: %s", out)
	spec, err := ebpf.LoadCollectionSpec(obj)
	require.NoError(t, err)
	require.Len(t, spec.Programs, 7)

	frames := [][]byte{frame64()}
	for _, port := range []uint16{443, 22} {
		f := frame64()
		binary.BigEndian.PutUint16(f[36:], port)
		frames = append(frames, f)
	}
	ack := frame64()
	ack[47] = 0x10
	frames = append(frames, ack, frame64()[:40], frame64()[:34])
	// IPv6 with a hop-by-hop header, plain and behind an 802.1Q tag.
	v6 := make([]byte, 14+40+8+20)
	v6[12], v6[13] = 0x86, 0xdd
	v6[14], v6[20], v6[21] = 0x60, 0, 64 // version, next header hop-by-hop, hop limit
	v6[54] = 6                           // hop-by-hop: next header TCP
	vlan := append(append(append([]byte(nil), v6[:12]...), 0x81, 0x00, 0x00, 0x07), v6[12:]...)
	frames = append(frames, v6, vlan, v6[:60])
	r := rand.New(rand.NewPCG(1, 2))
	for range 6 {
		f := make([]byte, 34+r.IntN(100))
		for i := range f {
			f[i] = byte(r.Uint32())
		}
		f[12], f[13], f[14] = 0x08, 0x00, 0x45
		if r.IntN(2) == 0 {
			f[23] = 6
		}
		frames = append(frames, f)
	}

	for name, ps := range spec.Programs {
		t.Run(name, func(t *testing.T) {
			raw, err := ciliumadapt.Instructions(ps.Instructions)
			require.NoError(t, err)
			kp, err := kerneltest.LoadSchedCLSSpec(ps)
			require.NoError(t, err, "kernel load")
			defer kp.Close()
			for _, e := range engines {
				vp, err := ebpfvm.Load(raw, ebpfvm.Options{FuncInfo: true, Engine: e.engine})
				require.NoError(t, err, "%s: the kernel accepts, the VM refuses\n%s", e.name, listing(raw))
				for _, f := range frames {
					kres, err := kp.Run(f)
					require.NoError(t, err)
					pkt := newPacket(t, f)
					got, err := vp.Run(pkt)
					require.NoError(t, err)
					assert.Equal(t, kres.Ret, uint32(got), "%s: r0 on %x", e.name, f)
					assert.Equal(t, kres.Data, pkt.Bytes(), "%s: packet", e.name)
					assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[8:]), pkt.Mark, "%s: mark", e.name)
					assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[32:]), pkt.Priority, "%s: priority", e.name)
					for c := range 5 {
						assert.Equal(t, binary.LittleEndian.Uint32(kres.Ctx[48+4*c:]), pkt.CB[c], "%s: cb[%d]", e.name, c)
					}
				}
			}
		})
	}
}

// TestClangRejects compiles testdata/clang/tc_bad.c: programs the kernel
// refuses must be refused by the VM with the same errno.
func TestClangRejects(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed")
	}
	kerneltest.RequireBPF(t)
	obj := filepath.Join(t.TempDir(), "tc_bad.o")
	out, err := exec.Command(clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-c", filepath.Join("testdata", "clang", "tc_bad.c"), "-o", obj).CombinedOutput()
	require.NoError(t, err, "clang: %s", out)
	spec, err := ebpf.LoadCollectionSpec(obj)
	require.NoError(t, err)
	require.Len(t, spec.Programs, 4)
	for name, ps := range spec.Programs {
		t.Run(name, func(t *testing.T) {
			raw, err := ciliumadapt.Instructions(ps.Instructions)
			require.NoError(t, err)
			kp, kerr := kerneltest.LoadSchedCLSSpec(ps)
			if kerr == nil {
				kp.Close()
				t.Fatal("the kernel accepts it")
			}
			_, verr := ebpfvm.Load(raw, ebpfvm.Options{FuncInfo: true})
			require.Error(t, verr, "the VM accepts what the kernel refuses: %v", kerr)
			assert.Equal(t, errnoOf(kerr), errnoOf(verr), "kernel: %v\nVM: %v", kerr, verr)
		})
	}
}
