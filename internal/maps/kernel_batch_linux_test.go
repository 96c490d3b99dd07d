//go:build linux

package maps

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	ciliumebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// batchAttr is the batch part of union bpf_attr.
type batchAttr struct {
	inBatch, outBatch, keys, values uint64
	count, mapFd                    uint32
	elemFlags, flags                uint64
}

// kernelBatch runs a batch command on fd with b's buffers.
func kernelBatch(cmd BatchCmd, fd int, b *Batch) (uint32, syscall.Errno) {
	var dummy [8]byte
	a := batchAttr{
		inBatch: ptrOf(b.InBatch, &dummy[0]), outBatch: ptrOf(b.OutBatch, &dummy[0]),
		keys: ptrOf(b.Keys, &dummy[0]), values: ptrOf(b.Values, &dummy[0]),
		count: b.Count, mapFd: uint32(fd), elemFlags: b.ElemFlags, flags: b.Flags,
	}
	_, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a))
	runtime.KeepAlive(b)
	runtime.KeepAlive(&dummy)
	return a.count, e
}

// TestKernelBatch compares the four batch commands on generated maps and
// arguments with the kernel's: errno, count, keys, values and the
// continuation position, and the contents afterwards.
func TestKernelBatch(t *testing.T) {
	requireBPF(t)
	cpus := possibleCPUs(t)
	cases := []struct {
		name string
		spec Spec
		key  func(r *rand.Rand) []byte
	}{
		{"hash", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16, Flags: BPF_F_ZERO_SEED}, u32key(24)},
		{"hash_odd", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 5, ValueSize: 3, MaxEntries: 4, Flags: BPF_F_ZERO_SEED | BPF_F_NO_PREALLOC}, smallKey(5, 7)},
		{"percpu_hash", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 8, Flags: BPF_F_ZERO_SEED}, u32key(10)},
		{"lru_hash", Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1024, Flags: BPF_F_ZERO_SEED}, u32key(30)},
		{"array", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 7}, u32key(9)},
		{"percpu_array", Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 5}, u32key(7)},
		{"lpm", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 6, ValueSize: 2, MaxEntries: 12, Flags: BPF_F_NO_PREALLOC}, lpmKey(2)},
		{"queue", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 4}, nil},
		{"hash_rdonly", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: BPF_F_RDONLY | BPF_F_ZERO_SEED}, u32key(6)},
	}
	total := 0
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			km, err := ciliumebpf.NewMap(&ciliumebpf.MapSpec{Type: ciliumebpf.MapType(tc.spec.Type), KeySize: tc.spec.KeySize,
				ValueSize: tc.spec.ValueSize, MaxEntries: tc.spec.MaxEntries, Flags: tc.spec.Flags})
			require.NoError(t, err)
			defer km.Close()
			our, err := New(&tc.spec, Options{Slots: cpus})
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(uint64(ci), 77))
			ks, vs := int(tc.spec.KeySize), our.SysValueSize()
			posSize := ks
			if kindOf(our) == batchHash {
				posSize = 4
			}
			var lastPos []byte
			for i := 0; i < 120; i++ {
				cmd := BatchCmd(24 + r.IntN(4))
				n := uint32(r.IntN(8))
				mk := func() *Batch {
					b := &Batch{Count: n, Keys: make([]byte, int(n)*ks+1), Values: make([]byte, int(n)*vs+1),
						OutBatch: make([]byte, posSize+1)}
					if r.IntN(6) == 0 {
						b.ElemFlags = []uint64{BPF_F_LOCK, 1, 2}[r.IntN(3)]
					}
					if r.IntN(8) == 0 {
						b.Flags = 1
					}
					return b
				}
				kb, ob := mk(), mk()
				ob.ElemFlags, ob.Flags = kb.ElemFlags, kb.Flags
				switch {
				case cmd == BPF_MAP_UPDATE_BATCH || cmd == BPF_MAP_DELETE_BATCH:
					for j := 0; j < int(n); j++ {
						var k []byte
						if tc.key != nil {
							k = tc.key(r)
						}
						copy(kb.Keys[j*ks:], k)
						for x := 0; x < vs; x++ {
							kb.Values[j*vs+x] = byte(r.Uint32())
						}
					}
					if cmd == BPF_MAP_UPDATE_BATCH && r.IntN(3) == 0 {
						kb.ElemFlags = []uint64{BPF_NOEXIST, BPF_EXIST}[r.IntN(2)]
						ob.ElemFlags = kb.ElemFlags
					}
					copy(ob.Keys, kb.Keys)
					copy(ob.Values, kb.Values)
				default:
					switch r.IntN(3) {
					case 0:
					case 1:
						if lastPos != nil {
							kb.InBatch = append([]byte(nil), lastPos...)
						}
					default:
						kb.InBatch = make([]byte, posSize+1)
						kb.InBatch[0] = byte(r.IntN(20))
					}
					if kb.InBatch != nil {
						ob.InBatch = append([]byte(nil), kb.InBatch...)
					}
				}
				kc, ke := kernelBatch(cmd, km.FD(), kb)
				oc, oe := SysBatch(our, cmd, ob)
				require.Equal(t, ke, oe, "op %d: cmd %d count %d in %x elem %d flags %d: errno", i, cmd, n, kb.InBatch, kb.ElemFlags, kb.Flags)
				require.Equal(t, kc, oc, "op %d: cmd %d: count", i, cmd)
				outcomes[fmt.Sprintf("cmd%d/%v/n>0=%v", cmd, ke, kc > 0)]++
				if cmd == BPF_MAP_LOOKUP_BATCH || cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH {
					require.Equal(t, kb.Keys, ob.Keys, "op %d: keys", i)
					require.Equal(t, kb.Values, ob.Values, "op %d: values", i)
					require.Equal(t, kb.OutBatch, ob.OutBatch, "op %d: out batch", i)
					if kc > 0 {
						lastPos = append([]byte(nil), kb.OutBatch[:posSize]...)
					}
				}
				total++
			}
			if tc.spec.KeySize > 0 {
				compareContents(t, diffCase{spec: tc.spec}, km, our)
			}
		})
	}
	t.Logf("%d batch operations compared", total)
}
