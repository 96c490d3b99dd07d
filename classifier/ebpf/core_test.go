package ebpf_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

func coreObject(name string) string { return filepath.Join("testdata", "core", name+".o") }

// runCB runs a program of an object loaded with opts on one IPv4 TCP
// frame and returns the verdict, the mark and cb.
func runCB(t *testing.T, object, prog string, opts ebpf.ObjectOptions) (int, uint32, [5]uint32) {
	t.Helper()
	spec, err := ebpf.LoadObjectFileWithOptions(coreObject(object), opts)
	require.NoError(t, err)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	var pkt packet.Packet
	require.NoError(t, pkt.SetFrame(corpusFrame()))
	ret, err := col.Programs[prog].RunChecked(&pkt)
	require.NoError(t, err)
	return int(ret), pkt.Mark, pkt.CB
}

// corpusFrame is an Ethernet/IPv4/TCP frame to port 80.
func corpusFrame() []byte {
	f := make([]byte, 54)
	copy(f, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	copy(f[14:], []byte{0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 1, 2, 3, 192, 168, 7, 1, 0x9c, 0x40, 0, 80})
	f[46] = 0x50
	return f
}

// TestCOREObjectsRefusedWithoutOptions: plain LoadObject keeps refusing
// what needs a kernel's types, naming the relocation or extern.
func TestCOREObjectsRefusedWithoutOptions(t *testing.T) {
	for _, tc := range []struct{ object, want string }{
		{"bootstrap", "CO-RE relocation"},
		{"parse", "CO-RE relocation"},
		{"kconfig", `kconfig extern "LINUX_KERNEL_VERSION"`},
		{"weak", `kconfig extern "CONFIG_CLSBPF_ABSENT"`},
	} {
		t.Run(tc.object, func(t *testing.T) {
			_, err := ebpf.LoadObjectFile(coreObject(tc.object))
			require.ErrorIs(t, err, syscall.EOPNOTSUPP)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestWeakExterns holds the values libbpf gives __weak externs: 0 when
// nothing sets them (CONFIG_*, unknown LINUX_*, ksyms, a kfunc's
// address), the caller's value when set, the modelled kernel's
// LINUX_KERNEL_VERSION and LINUX_HAS_SYSCALL_WRAPPER; the kfunc call
// bpf_ksym_exists guards is never reached, so the program loads.
func TestWeakExterns(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		ret, mark, cb := runCB(t, "weak", "weak_tc", ebpf.ObjectOptions{})
		assert.Equal(t, 0, ret)
		assert.Equal(t, uint32(0), mark, "ksym and kfunc addresses")
		assert.Equal(t, [5]uint32{0, 0, 0, 1 << 16, ebpf.KernelVersion()}, cb)
	})
	t.Run("set", func(t *testing.T) {
		_, _, cb := runCB(t, "weak", "weak_tc", ebpf.ObjectOptions{
			KernelVersion: 0x050f00,
			Kconfig: map[string]string{
				"CONFIG_CLSBPF_ABSENT":    "-7",
				"CONFIG_BPF_SYSCALL":      "y",
				"CONFIG_CLSBPF_CHAR":      "m",
				"CONFIG_CLSBPF_TRI":       "m",
				"CONFIG_DEFAULT_HOSTNAME": `"(none)"`,
				"CONFIG_CLSBPF_SHORT":     "0x7fff",
			},
		})
		hostname := uint32('(') | uint32('n')<<8 | uint32('o')<<16 // truncated to 3 bytes and a NUL
		assert.Equal(t, [5]uint32{0xfffffff9, 1 | 'm'<<8 | 2<<16, hostname, 0x7fff | 1<<16, 0x050f00}, cb)
	})
	t.Run("tristate y and n", func(t *testing.T) {
		_, _, cb := runCB(t, "weak", "weak_tc", ebpf.ObjectOptions{Kconfig: map[string]string{"CONFIG_CLSBPF_TRI": "y", "CONFIG_BPF_SYSCALL": "n", "CONFIG_CLSBPF_CHAR": "y"}})
		assert.Equal(t, uint32('y'<<8|1<<16), cb[1])
	})
}

// TestKconfigErrors holds libbpf's refusals (bpf_object__resolve_externs
// and set_kcfg_value_*): each names the extern and wraps its errno.
func TestKconfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, object string
		kconfig      map[string]string
		errno        syscall.Errno
		want         string
	}{
		{"strong unset", "kconfig", map[string]string{}, syscall.ESRCH, "CONFIG_HZ"},
		{"bool m", "weak", map[string]string{"CONFIG_BPF_SYSCALL": "m"}, syscall.EINVAL, "CONFIG_BPF_SYSCALL"},
		{"bool 2", "weak", map[string]string{"CONFIG_BPF_SYSCALL": "2"}, syscall.EINVAL, "isn't boolean compatible"},
		{"short range", "weak", map[string]string{"CONFIG_CLSBPF_SHORT": "0x10000"}, syscall.ERANGE, "doesn't fit in 2 bytes"},
		{"string to int", "weak", map[string]string{"CONFIG_CLSBPF_ABSENT": `"x"`}, syscall.EINVAL, "CONFIG_CLSBPF_ABSENT"},
		{"tristate number", "weak", map[string]string{"CONFIG_CLSBPF_TRI": "1"}, syscall.EINVAL, "CONFIG_CLSBPF_TRI"},
		{"not a number", "weak", map[string]string{"CONFIG_CLSBPF_ABSENT": "abc"}, syscall.EINVAL, "isn't a number"},
		{"y to string", "weak", map[string]string{"CONFIG_DEFAULT_HOSTNAME": "y"}, syscall.EINVAL, "CONFIG_DEFAULT_HOSTNAME"},
		{"unterminated string", "weak", map[string]string{"CONFIG_DEFAULT_HOSTNAME": `"abc`}, syscall.EINVAL, "invalid string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ebpf.LoadObjectFileWithOptions(coreObject(tc.object), ebpf.ObjectOptions{Kconfig: tc.kconfig})
			require.ErrorIs(t, err, tc.errno)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestUnservedOnlyWhereReached: a kfunc call and a poisoned CO-RE access
// fail the load when a path reaches them, naming the kfunc or the
// kernel's poison call; guarded ones (weak.c, exists.c) load.
func TestUnservedOnlyWhereReached(t *testing.T) {
	spec, err := ebpf.LoadObjectFileWithOptions(coreObject("kfunc"), ebpf.ObjectOptions{})
	require.NoError(t, err)
	_, err = ebpf.NewProgram(spec.Programs["kfunc_tc"], ebpf.ProgramOptions{})
	require.ErrorIs(t, err, syscall.EOPNOTSUPP)
	assert.Contains(t, err.Error(), `kfunc "bpf_dynptr_from_skb"`)

	_, err = ebpf.NewProgram(spec.Programs["poison_tc"], ebpf.ProgramOptions{})
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.Contains(t, err.Error(), "195896080", "libbpf's CO-RE poison helper 0xbad2310")

	ret, _, cb := runCB(t, "exists", "exists_tc", ebpf.ObjectOptions{})
	assert.Equal(t, 0, ret)
	// 1 (flow_label_v9 absent) + 2 + 4 + 0 (tstamp_type) + 8 + 64 +
	// BPF_ADJ_ROOM_MAC + 256; neither the local-only type nor enumerator.
	assert.Equal(t, uint32(0x150), cb[0])
	assert.Equal(t, uint32(1<<16|184), cb[1], "tstamp_type size, hwtstamp offset")
}

func TestObjectOptionsErrors(t *testing.T) {
	_, err := ebpf.LoadObjectFileWithOptions(coreObject("parse"), ebpf.ObjectOptions{TargetBTF: []byte("not btf")})
	require.ErrorIs(t, err, syscall.EINVAL)

	// A target without the types: every header access is poisoned, so
	// the program loads and fails verification where it reads them.
	spec, err := ebpf.LoadObjectFileWithOptions(coreObject("exists"), ebpf.ObjectOptions{})
	require.NoError(t, err)
	require.Empty(t, spec.Programs["exists_tc"].Kfuncs)
}

func TestParseKconfig(t *testing.T) {
	const text = "#\n# CONFIG_FOO is not set\nCONFIG_HZ=250\nCONFIG_BPF=y\n\nCONFIG_NAME=\"a b\"\n"
	want := map[string]string{"CONFIG_HZ": "250", "CONFIG_BPF": "y", "CONFIG_NAME": `"a b"`}
	got, err := ebpf.ParseKconfig(strings.NewReader(text))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	got, err = ebpf.ParseKconfig(&gz)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = ebpf.ParseKconfig(strings.NewReader("CONFIG_X\n"))
	require.ErrorIs(t, err, syscall.EINVAL)
	_, err = ebpf.ParseKconfig(bytes.NewReader([]byte{0x1f, 0x8b, 0}))
	require.ErrorIs(t, err, syscall.EINVAL)
}

func FuzzParseKconfig(f *testing.F) {
	f.Add([]byte("CONFIG_HZ=250\n# CONFIG_X is not set\n"))
	f.Add([]byte("CONFIG_S=\"x\"\nCONFIG_T=m"))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		kc, err := ebpf.ParseKconfig(bytes.NewReader(b))
		if err != nil {
			require.True(t, errors.Is(err, syscall.EINVAL), "%v", err)
			return
		}
		for k := range kc {
			require.True(t, strings.HasPrefix(k, "CONFIG_"))
		}
	})
}

// FuzzLoadObjectWithOptions feeds mutated CO-RE objects and kconfig
// values to the loader: errors, never panics.
func FuzzLoadObjectWithOptions(f *testing.F) {
	for _, name := range []string{"exists", "weak", "skbcore"} {
		b, err := os.ReadFile(coreObject(name))
		require.NoError(f, err)
		f.Add(b, "y")
	}
	f.Fuzz(func(t *testing.T, obj []byte, value string) {
		opts := ebpf.ObjectOptions{Kconfig: map[string]string{"CONFIG_BPF_SYSCALL": value, "CONFIG_CLSBPF_ABSENT": value, "CONFIG_DEFAULT_HOSTNAME": value}}
		spec, err := ebpf.LoadObjectWithOptions(bytes.NewReader(obj), opts)
		if err != nil {
			var errno syscall.Errno
			require.True(t, errors.As(err, &errno), "%v", err)
			return
		}
		_, _ = ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	})
}

// TestCOREProgramRunAllocs: a relocated program runs like any other,
// without allocating.
func TestCOREProgramRunAllocs(t *testing.T) {
	if ebpf.RaceEnabled {
		t.Skip("allocation counts mean nothing under the race detector (sync.Pool drops items at random)")
	}
	spec, err := ebpf.LoadObjectFileWithOptions(coreObject("parse"), ebpf.ObjectOptions{})
	require.NoError(t, err)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	prog := col.Programs["parse_tc"]
	var pkt packet.Packet
	require.NoError(t, pkt.SetFrame(corpusFrame()))
	allocs := testing.AllocsPerRun(100, func() { prog.Run(&pkt) })
	assert.Zero(t, allocs)
}

func BenchmarkCOREParse(b *testing.B) {
	spec, err := ebpf.LoadObjectFileWithOptions(coreObject("parse"), ebpf.ObjectOptions{})
	require.NoError(b, err)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(b, err)
	prog := col.Programs["parse_tc"]
	var pkt packet.Packet
	require.NoError(b, pkt.SetFrame(corpusFrame()))
	b.ReportAllocs()
	for b.Loop() {
		prog.Run(&pkt)
	}
}

func BenchmarkLoadObjectWithOptions(b *testing.B) {
	obj, err := os.ReadFile(coreObject("parse"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ebpf.LoadObjectWithOptions(bytes.NewReader(obj), ebpf.ObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCORERelocationErrorNamed: a target with two flavors of __sk_buff
// that place a field differently makes the relocation ambiguous, which
// libbpf refuses; the error names the relocation.
func TestCORERelocationErrorNamed(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	skb := func(name string, markAt btf.Bits) *btf.Struct {
		return &btf.Struct{Name: name, Size: 192, Members: []btf.Member{
			{Name: "len", Type: u32, Offset: 0},
			{Name: "mark", Type: u32, Offset: markAt},
		}}
	}
	b, err := btf.NewBuilder([]btf.Type{skb("__sk_buff", 64), skb("__sk_buff___other", 96)}, nil)
	require.NoError(t, err)
	raw, err := b.Marshal(nil, nil)
	require.NoError(t, err)

	_, err = ebpf.LoadObjectFileWithOptions(coreObject("bootstrap"), ebpf.ObjectOptions{TargetBTF: raw})
	require.ErrorIs(t, err, syscall.EINVAL)
	assert.Contains(t, err.Error(), "relo #")
	assert.Contains(t, err.Error(), "struct __sk_buff")
	assert.Contains(t, err.Error(), "tc_ingress")
}
