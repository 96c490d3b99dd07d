//go:build linux

package maps

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	ciliumebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// The kernel-differential tests create the same map in the running kernel
// (through cilium/ebpf) and here, apply the same generated sequence of
// syscall-side operations to both, and compare every result: errno, the
// value a lookup returns, the key get_next_key returns, and at the end
// the whole contents walked in get_next_key order. Hash maps are created
// with BPF_F_ZERO_SEED and compared here with seed 0, so even the walk
// order must match. LRU maps are sized so that the kernel never evicts
// (its per-CPU free lists make the moment of eviction nondeterministic).

// BPF commands (include/uapi/linux/bpf.h).
const (
	cmdMapCreate          = 0
	cmdMapLookupElem      = 1
	cmdMapUpdateElem      = 2
	cmdMapDeleteElem      = 3
	cmdMapGetNextKey      = 4
	cmdMapLookupAndDelete = 21
)

// elemAttr is the BPF_MAP_*_ELEM part of union bpf_attr.
type elemAttr struct {
	fd    uint32
	_     uint32
	key   uint64
	value uint64
	flags uint64
}

func ptrOf(b []byte, dummy *byte) uint64 {
	if b == nil {
		return 0
	}
	if len(b) == 0 {
		return uint64(uintptr(unsafe.Pointer(dummy)))
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

// kernelOp runs one BPF_MAP_* command on fd.
func kernelOp(cmd int, fd int, key, value []byte, flags uint64) syscall.Errno {
	var dummy [8]byte
	a := elemAttr{fd: uint32(fd), key: ptrOf(key, &dummy[0]), value: ptrOf(value, &dummy[0]), flags: flags}
	_, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	runtime.KeepAlive(&dummy)
	return e
}

// createAttr is the BPF_MAP_CREATE part of union bpf_attr.
type createAttr struct {
	mapType, keySize, valueSize, maxEntries, flags, innerFd, numaNode uint32
	name                                                              [16]byte
	ifindex, btfFd, btfKey, btfValue, btfVmlinux                      uint32
	extra                                                             uint64
}

// kernelCreate runs BPF_MAP_CREATE with s and returns the errno (closing
// the map on success).
func kernelCreate(s *Spec, innerFd int) syscall.Errno {
	a := createAttr{mapType: uint32(s.Type), keySize: s.KeySize, valueSize: s.ValueSize,
		maxEntries: s.MaxEntries, flags: s.Flags, innerFd: uint32(innerFd)}
	copy(a.name[:], s.Name)
	fd, _, e := unix.Syscall(unix.SYS_BPF, cmdMapCreate, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a))
	if e == 0 {
		unix.Close(int(fd))
	}
	return e
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.Errno(^uintptr(0))
}

func requireBPF(t *testing.T) {
	t.Helper()
	kerneltest.RequireRoot(t)
	m, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		kerneltest.Skip(t, "bpf(BPF_MAP_CREATE) failed: "+err.Error())
	}
	m.Close()
}

func possibleCPUs(t *testing.T) int {
	n, err := ciliumebpf.PossibleCPU()
	require.NoError(t, err)
	return n
}

// diffCase is one map configuration of the differential test.
type diffCase struct {
	name string
	spec Spec
	// keyspace generates a key for op i (nil: random bytes of key_size).
	key func(r *rand.Rand) []byte
}

func u32key(n uint32) func(r *rand.Rand) []byte {
	return func(r *rand.Rand) []byte {
		b := make([]byte, 4)
		putLE32(b, r.Uint32N(n))
		return b
	}
}

func smallKey(size, universe int) func(r *rand.Rand) []byte {
	return func(r *rand.Rand) []byte {
		b := make([]byte, size)
		v := r.IntN(universe)
		for i := range b {
			b[i] = byte(v * (i + 7) >> (i % 3))
		}
		b[0] = byte(v)
		return b
	}
}

func lpmKey(dataSize int) func(r *rand.Rand) []byte {
	return func(r *rand.Rand) []byte {
		b := make([]byte, 4+dataSize)
		max := 8 * dataSize
		putLE32(b, uint32(r.IntN(max+3)))
		// A few distinct data patterns, so that prefixes nest and branch.
		pat := []byte{0x00, 0xff, 0xc0, 0xa8, 0x0a, 0x80, 0x7f}
		for i := 4; i < len(b); i++ {
			b[i] = pat[r.IntN(len(pat))]
		}
		return b
	}
}

// diffSeed and CLSBPF_MAPS_DIFF_OPS let a longer run explore further:
// CLSBPF_MAPS_DIFF_OPS=5000 go test -run TestKernelDifferential.
var diffSeed uint64 = 99

func diffOps() int {
	n, _ := strconv.Atoi(os.Getenv("CLSBPF_MAPS_DIFF_OPS"))
	if s, err := strconv.ParseUint(os.Getenv("CLSBPF_MAPS_DIFF_SEED"), 10, 64); err == nil {
		diffSeed = s
	}
	return n
}

var updateFlags = []uint64{BPF_ANY, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, 3, 8}

// TestKernelDifferential compares generated syscall-side operation
// sequences on kernel maps and on ours.
func TestKernelDifferential(t *testing.T) {
	requireBPF(t)
	cpus := possibleCPUs(t)
	innerArray := Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	cases := []diffCase{
		{"hash_u32", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16, Flags: BPF_F_ZERO_SEED}, u32key(24)},
		{"hash_odd_key_noprealloc", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 6, ValueSize: 3, MaxEntries: 8, Flags: BPF_F_ZERO_SEED | BPF_F_NO_PREALLOC}, smallKey(6, 12)},
		{"hash_16", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 16, ValueSize: 16, MaxEntries: 64, Flags: BPF_F_ZERO_SEED}, smallKey(16, 80)},
		{"hash_13_key", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 13, ValueSize: 1, MaxEntries: 5, Flags: BPF_F_ZERO_SEED}, smallKey(13, 8)},
		{"percpu_hash", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 12, MaxEntries: 8, Flags: BPF_F_ZERO_SEED}, u32key(12)},
		{"lru_hash", Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 8, ValueSize: 8, MaxEntries: 1024, Flags: BPF_F_ZERO_SEED}, smallKey(8, 40)},
		{"lru_percpu_hash", Spec{Type: BPF_MAP_TYPE_LRU_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1024, Flags: BPF_F_ZERO_SEED}, u32key(40)},
		{"hash_wronly", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: BPF_F_ZERO_SEED | BPF_F_WRONLY}, u32key(6)},
		{"array", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 12, MaxEntries: 10}, u32key(13)},
		{"array_rdonly", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3, Flags: BPF_F_RDONLY}, u32key(5)},
		{"percpu_array", Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 6}, u32key(8)},
		{"lpm_4", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: BPF_F_NO_PREALLOC}, lpmKey(4)},
		{"lpm_1", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 5, ValueSize: 1, MaxEntries: 300, Flags: BPF_F_NO_PREALLOC}, lpmKey(1)},
		{"lpm_16", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 20, ValueSize: 9, MaxEntries: 40, Flags: BPF_F_NO_PREALLOC}, lpmKey(16)},
		{"queue", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 5}, nil},
		{"stack", Spec{Type: BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 3}, nil},
		{"prog_array", Spec{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 4}, u32key(6)},
		// cilium/ebpf clamps a perf event array to the possible CPUs.
		{"perf_event_array", Spec{Type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: uint32(min(cpus, 4))}, u32key(6)},
		{"ringbuf", Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096}, nil},
		{"array_of_maps", Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 3, Inner: &innerArray}, u32key(5)},
		{"hash_of_maps", Spec{Type: BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 3, Flags: BPF_F_ZERO_SEED, Inner: &innerArray}, u32key(5)},
	}
	opsPerCase := 160
	if n := diffOps(); n > 0 {
		opsPerCase = n
	}
	var g *goldenWriter
	if *updateGolden {
		require.Zero(t, diffOps(), "record the default run only")
		g = &goldenWriter{}
		defer g.write(t)
	}
	total := 0
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := &ciliumebpf.MapSpec{
				Type: ciliumebpf.MapType(tc.spec.Type), KeySize: tc.spec.KeySize, ValueSize: tc.spec.ValueSize,
				MaxEntries: tc.spec.MaxEntries, Flags: tc.spec.Flags,
			}
			if in := tc.spec.Inner; in != nil {
				ks.InnerMap = &ciliumebpf.MapSpec{Type: ciliumebpf.MapType(in.Type), KeySize: in.KeySize,
					ValueSize: in.ValueSize, MaxEntries: in.MaxEntries, Flags: in.Flags}
			}
			km, err := ciliumebpf.NewMap(ks)
			require.NoError(t, err)
			defer km.Close()
			our, err := New(&tc.spec, Options{Slots: cpus})
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(uint64(ci), diffSeed))
			g.newMap(tc.name, tc.spec, cpus)
			n := runOps(t, tc, km, our, r, opsPerCase, g)
			total += n
			compareContents(t, tc, km, our, g)
		})
	}
	t.Logf("%d operations compared across %d map types", total, len(cases))
	assert.GreaterOrEqual(t, total, 2000)
}

// runOps applies n generated operations to both maps.
func runOps(t *testing.T, tc diffCase, km *ciliumebpf.Map, our Map, r *rand.Rand, n int, g *goldenWriter) int {
	fd := km.FD()
	ks := int(tc.spec.KeySize)
	vsz := our.SysValueSize()
	queue := tc.spec.Type == BPF_MAP_TYPE_QUEUE || tc.spec.Type == BPF_MAP_TYPE_STACK
	key := func() []byte {
		if tc.key != nil {
			return tc.key(r)
		}
		if ks == 0 {
			if r.IntN(8) == 0 {
				return []byte{} // a non-NULL key for key_size 0: EINVAL
			}
			return nil
		}
		b := make([]byte, ks)
		for i := range b {
			b[i] = byte(r.IntN(4))
		}
		return b
	}
	value := func() []byte {
		v := make([]byte, vsz)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		switch tc.spec.Type {
		case BPF_MAP_TYPE_PROG_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS:
			putLE32(v, 0xffffffff) // not an fd
		}
		return v
	}
	for i := 0; i < n; i++ {
		op := r.IntN(10)
		k := key()
		var desc string
		var ke, oe syscall.Errno
		var kout, oout []byte
		switch {
		case op < 4: // update
			v := value()
			f := updateFlags[r.IntN(len(updateFlags))]
			desc = fmt.Sprintf("update %x=%x flags %d", k, v, f)
			if queue && k == nil {
				ke = errnoOf(km.Update(nil, v, ciliumebpf.MapUpdateFlags(f)))
			} else {
				ke = kernelOp(cmdMapUpdateElem, fd, k, v, f)
			}
			oe = our.SysUpdate(k, v, f)
			g.op("update", k, v, f, ke, nil)
		case op < 6: // lookup
			f := []uint64{0, 0, 0, BPF_F_LOCK, 1}[r.IntN(5)]
			desc = fmt.Sprintf("lookup %x flags %d", k, f)
			kout, oout = make([]byte, vsz), make([]byte, vsz)
			if queue && f == 0 && k == nil {
				ke = errnoOf(km.Lookup(nil, kout))
			} else {
				ke = kernelOp(cmdMapLookupElem, fd, k, kout, f)
			}
			oe = our.SysLookup(k, oout, f)
			g.op("lookup", k, nil, f, ke, kout)
		case op < 7: // delete
			desc = fmt.Sprintf("delete %x", k)
			ke = kernelOp(cmdMapDeleteElem, fd, k, nil, 0)
			oe = our.SysDelete(k)
			g.op("delete", k, nil, 0, ke, nil)
		case op < 9: // next key
			kout, oout = make([]byte, ks), make([]byte, ks)
			if r.IntN(3) == 0 {
				k = nil
			}
			desc = fmt.Sprintf("next key after %x", k)
			if k == nil {
				ke = kernelOp(cmdMapGetNextKey, fd, nil, kout, 0)
			} else {
				ke = kernelOp(cmdMapGetNextKey, fd, k, kout, 0)
			}
			oe = our.SysNextKey(k, oout)
			g.op("nextkey", k, nil, 0, ke, kout)
		default: // lookup and delete
			f := []uint64{0, 0, BPF_F_LOCK}[r.IntN(3)]
			desc = fmt.Sprintf("lookup and delete %x flags %d", k, f)
			kout, oout = make([]byte, vsz), make([]byte, vsz)
			if queue && f == 0 && k == nil {
				ke = errnoOf(km.LookupAndDelete(nil, kout))
			} else {
				ke = kernelOp(cmdMapLookupAndDelete, fd, k, kout, f)
			}
			oe = our.SysLookupAndDelete(k, oout, f)
			g.op("lookupdelete", k, nil, f, ke, kout)
		}
		require.Equal(t, ke, oe, "op %d: %s: errno (kernel %v, ours %v)", i, desc, ke, oe)
		if ke == 0 && kout != nil {
			require.Equal(t, kout, oout, "op %d: %s: output", i, desc)
		}
	}
	return n
}

// compareContents walks both maps with get_next_key from the start and
// compares the keys in order and the value of each.
func compareContents(t *testing.T, tc diffCase, km *ciliumebpf.Map, our Map, g ...*goldenWriter) {
	var gw *goldenWriter
	if len(g) > 0 {
		gw = g[0]
	}
	if tc.spec.KeySize == 0 {
		// Queues and stacks: drain both.
		vsz := our.SysValueSize()
		for i := 0; ; i++ {
			kv, ov := make([]byte, vsz), make([]byte, vsz)
			ke := errnoOf(km.LookupAndDelete(nil, kv))
			oe := our.SysLookupAndDelete(nil, ov, 0)
			gw.op("lookupdelete", nil, nil, 0, ke, kv)
			require.Equal(t, ke, oe, "drain %d", i)
			if ke != 0 {
				return
			}
			require.Equal(t, kv, ov, "drain %d", i)
		}
	}
	fd := km.FD()
	ks := int(tc.spec.KeySize)
	var kkey, okey []byte
	for i := 0; i <= int(tc.spec.MaxEntries)+1; i++ {
		kn, on := make([]byte, ks), make([]byte, ks)
		ke := kernelOp(cmdMapGetNextKey, fd, kkey, kn, 0)
		oe := our.SysNextKey(okey, on)
		gw.op("nextkey", kkey, nil, 0, ke, kn)
		require.Equal(t, ke, oe, "walk step %d", i)
		if ke != 0 {
			return
		}
		require.Equal(t, kn, on, "walk step %d: key", i)
		kv, ov := make([]byte, our.SysValueSize()), make([]byte, our.SysValueSize())
		ke = kernelOp(cmdMapLookupElem, fd, kn, kv, 0)
		oe = our.SysLookup(on, ov, 0)
		gw.op("lookup", kn, nil, 0, ke, kv)
		require.Equal(t, ke, oe, "walk step %d: lookup %x", i, kn)
		if ke == 0 {
			require.Equal(t, kv, ov, "walk step %d: value of %x", i, kn)
		}
		kkey, okey = kn, on
	}
}

// TestKernelCreateChecks compares BPF_MAP_CREATE's verdict (the errno, or
// success) on generated attribute sets with New's.
func TestKernelCreateChecks(t *testing.T) {
	requireBPF(t)
	cpus := possibleCPUs(t)
	innerSpec := Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	inner, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	require.NoError(t, err)
	defer inner.Close()

	types := []Type{BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY,
		BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
		BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS, BPF_MAP_TYPE_QUEUE,
		BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_RINGBUF, 0, 34, 40}
	keySizes := []uint32{0, 1, 4, 5, 8, 16, 260, 261, 513}
	valueSizes := []uint32{0, 1, 4, 8, 12, 32768, 32769, 4194024, 4194025, 4194304 - 52, 4194304 - 48}
	maxEntries := []uint32{0, 1, 3, 4096, 8192, 12288, 1 << 31, 1<<31 + 1}
	flagSet := []uint32{0, BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY,
		BPF_F_RDONLY | BPF_F_WRONLY, BPF_F_ZERO_SEED, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG,
		BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, BPF_F_MMAPABLE, BPF_F_PRESERVE_ELEMS, BPF_F_INNER_MAP,
		BPF_F_STACK_BUILD_ID, BPF_F_CLONE, 1 << 13, 1 << 20, BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED,
		BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG, BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE}
	names := []string{"", "ok_name.1", "bad-name", "0123456789abcdef"}

	r := rand.New(rand.NewPCG(7, 7))
	var g *createGolden
	if *updateGolden {
		require.Equal(t, 2, cpus, "the golden file assumes 2 possible CPUs")
		g = &createGolden{}
		defer g.write(t)
	}
	verdicts := map[syscall.Errno]int{}
	defer func() { t.Logf("kernel verdicts: %v", verdicts) }()
	n := 1500
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		s := Spec{
			Type:       types[r.IntN(len(types))],
			KeySize:    keySizes[r.IntN(len(keySizes))],
			ValueSize:  valueSizes[r.IntN(len(valueSizes))],
			MaxEntries: maxEntries[r.IntN(len(maxEntries))],
			Flags:      flagSet[r.IntN(len(flagSet))],
		}
		if r.IntN(8) == 0 {
			s.Name = names[r.IntN(len(names))]
		}
		// Bias towards the sizes each type accepts, so that the later
		// checks are reached too.
		switch r.IntN(3) {
		case 0:
			s.KeySize, s.ValueSize = 4, 4
		case 1:
			if s.Type == BPF_MAP_TYPE_QUEUE || s.Type == BPF_MAP_TYPE_STACK || s.Type == BPF_MAP_TYPE_RINGBUF {
				s.KeySize = 0
			}
			if s.Type == BPF_MAP_TYPE_RINGBUF {
				s.ValueSize = 0
			}
			if s.Type == BPF_MAP_TYPE_LPM_TRIE {
				s.Flags |= BPF_F_NO_PREALLOC
			}
		}
		// Keep what the kernel must allocate small: huge maps are an
		// implementation limit here (ENOMEM), not a check.
		if uint64(s.MaxEntries)*uint64(s.ValueSize+s.KeySize+64)*uint64(cpus) > 64<<20 {
			if r.IntN(2) == 0 {
				s.MaxEntries = 3
			} else {
				s.ValueSize = 4
			}
		}
		if uint64(s.MaxEntries)*uint64(s.ValueSize+s.KeySize+64)*uint64(cpus) > 64<<20 && s.Type != BPF_MAP_TYPE_RINGBUF {
			s.MaxEntries = 3
		}
		if s.Type == BPF_MAP_TYPE_RINGBUF && s.MaxEntries > 1<<20 {
			s.MaxEntries = 1 << 20
		}
		innerFd := 0
		if s.Type == BPF_MAP_TYPE_ARRAY_OF_MAPS || s.Type == BPF_MAP_TYPE_HASH_OF_MAPS {
			if r.IntN(6) != 0 {
				innerFd = inner.FD()
				s.Inner = &innerSpec
			}
		}
		ke := kernelCreate(&s, innerFd)
		_, err := New(&s, Options{Slots: cpus})
		oe := errnoOf(err)
		verdicts[ke]++
		g.add(s, ke)
		require.Equal(t, ke, oe, "create %+v: kernel %v, ours %v (%v)", s, ke, oe, err)
	}
}

// TestKernelInnerMapChecks compares the inner-map template checks of
// map-in-map creation with the kernel's for each inner map type.
func TestKernelInnerMapChecks(t *testing.T) {
	requireBPF(t)
	cpus := possibleCPUs(t)
	inners := []Spec{
		{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096},
		{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 1},
		{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC},
		{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1},
	}
	for _, in := range inners {
		t.Run(fmt.Sprint(in.Type), func(t *testing.T) {
			km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(in.Type), KeySize: in.KeySize,
				ValueSize: in.ValueSize, MaxEntries: in.MaxEntries, Flags: in.Flags})
			require.NoError(t, err)
			defer km.Close()
			for _, outer := range []Type{BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS} {
				s := Spec{Type: outer, KeySize: 4, ValueSize: 4, MaxEntries: 2, Inner: &in}
				ke := kernelCreate(&s, km.FD())
				_, err := New(&s, Options{Slots: cpus})
				assert.Equal(t, ke, errnoOf(err), "outer %d: %v", outer, err)
			}
		})
	}
	// A map-in-map as the inner map.
	in := Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	aom, err := New(&Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1, Inner: &in}, Options{})
	require.NoError(t, err)
	_, err = New(&Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1, Inner: &aom.Info().Spec}, Options{})
	assert.ErrorIs(t, err, syscall.EINVAL, "kernel: EINVAL (measured: no two-level map-in-map)")
}

// TestKernelFreeze compares BPF_MAP_FREEZE and the syscall writes after
// it with the kernel's.
func TestKernelFreeze(t *testing.T) {
	requireBPF(t)
	const cmdMapFreeze = 22
	freeze := func(fd int) syscall.Errno {
		a := struct{ fd uint32 }{uint32(fd)}
		_, _, e := unix.Syscall(unix.SYS_BPF, cmdMapFreeze, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a))
		return e
	}
	for _, s := range []Spec{
		{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2, Flags: BPF_F_RDONLY},
		{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 2},
		{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 2, Flags: BPF_F_NO_PREALLOC},
		{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096},
	} {
		t.Run(s.Type.String(), func(t *testing.T) {
			km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(s.Type), KeySize: s.KeySize,
				ValueSize: s.ValueSize, MaxEntries: s.MaxEntries, Flags: s.Flags})
			require.NoError(t, err)
			defer km.Close()
			our, err := New(&s, Options{})
			require.NoError(t, err)
			key, val := make([]byte, s.KeySize), make([]byte, our.SysValueSize())
			if s.Type == BPF_MAP_TYPE_LPM_TRIE {
				key[0] = 8
			}
			assert.Equal(t, freeze(km.FD()), our.Freeze(), "first freeze")
			assert.Equal(t, freeze(km.FD()), our.Freeze(), "second freeze")
			assert.Equal(t, kernelOp(cmdMapUpdateElem, km.FD(), key, val, 0), our.SysUpdate(key, val, 0), "update")
			assert.Equal(t, kernelOp(cmdMapDeleteElem, km.FD(), key, nil, 0), our.SysDelete(key), "delete")
			assert.Equal(t, kernelOp(cmdMapLookupAndDelete, km.FD(), key, val, 0), our.SysLookupAndDelete(key, val, 0), "lookup and delete")
			assert.Equal(t, kernelOp(cmdMapLookupElem, km.FD(), key, val, 0), our.SysLookup(key, val, 0), "lookup")
		})
	}
}
