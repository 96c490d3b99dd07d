package maps

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

func k32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func v64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// lpmK builds an LPM key {prefixlen, data...}.
func lpmK(plen uint32, data ...byte) []byte { return append(k32(plen), data...) }

func mustNew(t testing.TB, s Spec, slots int) Map {
	t.Helper()
	m, err := New(&s, Options{Slots: slots})
	require.NoError(t, err)
	return m
}

// step is one program-side operation of a table row and its expected
// result.
type step struct {
	op    string // "update", "delete", "lookup" (want value or nil), "push", "pop", "peek"
	key   []byte
	value []byte
	flags uint64
	slot  uint32
	errno syscall.Errno
	want  []byte // lookup/pop/peek result; nil for NULL
}

func run(t *testing.T, m Map, steps []step) {
	t.Helper()
	for i, s := range steps {
		name := fmt.Sprintf("step %d %s %x flags %d", i, s.op, s.key, s.flags)
		switch s.op {
		case "update":
			assert.Equal(t, s.errno, m.Update(s.key, s.value, s.flags, s.slot), name)
		case "delete":
			assert.Equal(t, s.errno, m.Delete(s.key), name)
		case "lookup":
			got := m.Lookup(s.key, s.slot)
			if s.want == nil {
				assert.Nil(t, got, name)
				continue
			}
			require.NotNil(t, got, name)
			out := make([]byte, len(got))
			atomicmem.CopyOut(out, got, 0)
			assert.Equal(t, s.want, out, name)
		case "push":
			assert.Equal(t, s.errno, m.(QueueMap).Push(s.value, s.flags), name)
		case "pop", "peek":
			out := []byte{0xee, 0xee, 0xee, 0xee}
			var e syscall.Errno
			if s.op == "pop" {
				e = m.(QueueMap).Pop(out)
			} else {
				e = m.(QueueMap).Peek(out)
			}
			assert.Equal(t, s.errno, e, name)
			assert.Equal(t, s.want, out, name)
		default:
			t.Fatalf("bad op %q", s.op)
		}
	}
}

// TestProgramSide runs the rows of the per-type program-side semantics
// (spec/bpf.md §5.2, kernel/bpf/*.c): each flag, each limit, each errno.
func TestProgramSide(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		slots int
		steps []step
	}{
		{"array", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 2}, 1, []step{
			{op: "lookup", key: k32(0), want: []byte{0, 0, 0, 0}},
			{op: "lookup", key: k32(2)},
			{op: "update", key: k32(1), value: []byte{1, 2, 3, 4}},
			{op: "lookup", key: k32(1), want: []byte{1, 2, 3, 4}},
			{op: "update", key: k32(1), value: []byte{5, 6, 7, 8}, flags: BPF_EXIST},
			{op: "lookup", key: k32(1), want: []byte{5, 6, 7, 8}},
			{op: "update", key: k32(1), value: []byte{9, 9, 9, 9}, flags: BPF_NOEXIST, errno: syscall.EEXIST},
			{op: "update", key: k32(2), value: []byte{9, 9, 9, 9}, errno: syscall.E2BIG},
			{op: "update", key: k32(2), value: []byte{9, 9, 9, 9}, flags: 3, errno: syscall.EINVAL},
			{op: "update", key: k32(0), value: []byte{9, 9, 9, 9}, flags: BPF_F_LOCK, errno: syscall.EINVAL},
			{op: "update", key: k32(0), value: []byte{9, 9, 9, 9}, flags: BPF_F_LOCK | BPF_NOEXIST, errno: syscall.EEXIST},
			{op: "update", key: k32(5), value: []byte{9, 9, 9, 9}, flags: BPF_F_LOCK, errno: syscall.E2BIG},
			{op: "delete", key: k32(0), errno: syscall.EINVAL},
			{op: "lookup", key: k32(1), want: []byte{5, 6, 7, 8}},
		}},
		{"percpu_array", Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 2, MaxEntries: 1}, 3, []step{
			{op: "update", key: k32(0), value: []byte{1, 1}, slot: 1},
			{op: "lookup", key: k32(0), slot: 1, want: []byte{1, 1}},
			{op: "lookup", key: k32(0), slot: 0, want: []byte{0, 0}},
			{op: "lookup", key: k32(0), slot: 3},
			{op: "update", key: k32(0), value: []byte{1, 1}, slot: 3, errno: syscall.EINVAL},
			{op: "update", key: k32(1), value: []byte{1, 1}, errno: syscall.E2BIG},
			{op: "delete", key: k32(0), errno: syscall.EINVAL},
		}},
		{"hash", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 2}, 1, []step{
			{op: "lookup", key: k32(1)},
			{op: "update", key: k32(1), value: v64(10), flags: BPF_EXIST, errno: syscall.ENOENT},
			{op: "update", key: k32(1), value: v64(10), flags: BPF_NOEXIST},
			{op: "update", key: k32(1), value: v64(11), flags: BPF_NOEXIST, errno: syscall.EEXIST},
			{op: "update", key: k32(1), value: v64(12), flags: BPF_EXIST},
			{op: "lookup", key: k32(1), want: v64(12)},
			{op: "update", key: k32(2), value: v64(20)},
			{op: "update", key: k32(3), value: v64(30), errno: syscall.E2BIG},
			{op: "update", key: k32(2), value: v64(21)}, // replacing when full is allowed
			{op: "lookup", key: k32(2), want: v64(21)},
			{op: "update", key: k32(2), value: v64(21), flags: 3, errno: syscall.EINVAL},
			{op: "update", key: k32(2), value: v64(21), flags: BPF_F_LOCK, errno: syscall.EINVAL},
			{op: "update", key: k32(2), value: v64(21), flags: BPF_F_LOCK | 3, errno: syscall.EINVAL},
			{op: "delete", key: k32(3), errno: syscall.ENOENT},
			{op: "delete", key: k32(1)},
			{op: "lookup", key: k32(1)},
			{op: "update", key: k32(3), value: v64(30)},
			{op: "lookup", key: k32(3), want: v64(30)},
		}},
		{"hash_noprealloc", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 3, ValueSize: 1, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, 1, []step{
			{op: "update", key: []byte{1, 2, 3}, value: []byte{7}},
			{op: "update", key: []byte{1, 2, 4}, value: []byte{7}, errno: syscall.E2BIG},
			{op: "update", key: []byte{1, 2, 3}, value: []byte{8}},
			{op: "lookup", key: []byte{1, 2, 3}, want: []byte{8}},
			{op: "lookup", key: []byte{1, 2, 4}},
		}},
		{"percpu_hash", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1}, 2, []step{
			{op: "update", key: k32(1), value: []byte{1, 0, 0, 0}, slot: 1},
			{op: "lookup", key: k32(1), slot: 1, want: []byte{1, 0, 0, 0}},
			{op: "lookup", key: k32(1), slot: 0, want: []byte{0, 0, 0, 0}},
			{op: "update", key: k32(1), value: []byte{2, 0, 0, 0}, slot: 0},
			{op: "lookup", key: k32(1), slot: 1, want: []byte{1, 0, 0, 0}},
			{op: "update", key: k32(2), value: []byte{2, 0, 0, 0}, errno: syscall.E2BIG},
			{op: "update", key: k32(1), value: []byte{2, 0, 0, 0}, flags: BPF_F_LOCK, errno: syscall.EINVAL},
			{op: "update", key: k32(1), value: []byte{2, 0, 0, 0}, flags: BPF_NOEXIST, errno: syscall.EEXIST},
		}},
		{"lru_hash", Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 2}, 1, []step{
			{op: "update", key: k32(1), value: v64(1)},
			{op: "update", key: k32(2), value: v64(2)},
			{op: "lookup", key: k32(1), want: v64(1)},  // referenced: survives
			{op: "update", key: k32(3), value: v64(3)}, // never E2BIG: evicts 2
			{op: "lookup", key: k32(2)},
			{op: "lookup", key: k32(1), want: v64(1)},
			{op: "lookup", key: k32(3), want: v64(3)},
			{op: "update", key: k32(3), value: v64(3), flags: BPF_F_LOCK, errno: syscall.EINVAL},
			{op: "update", key: k32(4), value: v64(3), flags: BPF_EXIST, errno: syscall.ENOENT},
			{op: "update", key: k32(3), value: v64(3), flags: BPF_NOEXIST, errno: syscall.EEXIST},
			{op: "delete", key: k32(4), errno: syscall.ENOENT},
		}},
		{"lpm", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 1, MaxEntries: 2, Flags: BPF_F_NO_PREALLOC}, 1, []step{
			{op: "update", key: lpmK(8, 10, 0, 0, 0), value: []byte{8}},
			{op: "update", key: lpmK(24, 10, 1, 2, 0), value: []byte{24}},
			{op: "lookup", key: lpmK(32, 10, 1, 2, 3), want: []byte{24}},
			{op: "lookup", key: lpmK(32, 10, 1, 3, 3), want: []byte{8}},
			{op: "lookup", key: lpmK(16, 10, 1, 2, 3), want: []byte{8}}, // the /24 is longer than the key
			{op: "lookup", key: lpmK(32, 11, 1, 2, 3)},
			{op: "lookup", key: lpmK(33, 10, 1, 2, 3)},
			{op: "update", key: lpmK(16, 10, 1, 0, 0), value: []byte{16}, errno: syscall.ENOSPC},
			{op: "update", key: lpmK(8, 10, 0, 0, 0), value: []byte{9}}, // replacing when full is allowed
			{op: "update", key: lpmK(8, 10, 0, 0, 0), value: []byte{9}, flags: BPF_NOEXIST, errno: syscall.EEXIST},
			{op: "update", key: lpmK(16, 10, 1, 0, 0), value: []byte{16}, flags: BPF_EXIST, errno: syscall.ENOENT},
			{op: "update", key: lpmK(33, 10, 0, 0, 0), value: []byte{1}, errno: syscall.EINVAL},
			{op: "update", key: lpmK(8, 10, 0, 0, 0), value: []byte{1}, flags: 3, errno: syscall.EINVAL},
			{op: "update", key: lpmK(8, 10, 0, 0, 0), value: []byte{1}, flags: BPF_F_LOCK, errno: syscall.EINVAL},
			{op: "delete", key: lpmK(16, 10, 1, 2, 0), errno: syscall.ENOENT},
			{op: "delete", key: lpmK(33, 10, 1, 2, 0), errno: syscall.EINVAL},
			{op: "delete", key: lpmK(24, 10, 1, 2, 0)},
			{op: "lookup", key: lpmK(32, 10, 1, 2, 3), want: []byte{9}},
			{op: "update", key: lpmK(0, 0, 0, 0, 0), value: []byte{0}},
			{op: "lookup", key: lpmK(32, 99, 1, 2, 3), want: []byte{0}},
		}},
		{"queue", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4, MaxEntries: 2}, 1, []step{
			{op: "pop", errno: syscall.ENOENT, want: []byte{0, 0, 0, 0}},
			{op: "peek", errno: syscall.ENOENT, want: []byte{0, 0, 0, 0}},
			{op: "push", value: []byte{1, 0, 0, 0}},
			{op: "push", value: []byte{2, 0, 0, 0}},
			{op: "push", value: []byte{3, 0, 0, 0}, errno: syscall.E2BIG},
			{op: "push", value: []byte{3, 0, 0, 0}, flags: BPF_NOEXIST, errno: syscall.EINVAL},
			{op: "push", value: []byte{3, 0, 0, 0}, flags: 4, errno: syscall.EINVAL},
			{op: "push", value: []byte{3, 0, 0, 0}, flags: BPF_EXIST}, // drops 1
			{op: "peek", want: []byte{2, 0, 0, 0}},
			{op: "pop", want: []byte{2, 0, 0, 0}},
			{op: "pop", want: []byte{3, 0, 0, 0}},
			{op: "pop", errno: syscall.ENOENT, want: []byte{0, 0, 0, 0}},
			{op: "update", key: nil, value: []byte{1, 0, 0, 0}, errno: syscall.EINVAL},
			{op: "delete", errno: syscall.EINVAL},
			{op: "lookup"},
		}},
		{"stack", Spec{Type: BPF_MAP_TYPE_STACK, ValueSize: 4, MaxEntries: 2}, 1, []step{
			{op: "push", value: []byte{1, 0, 0, 0}},
			{op: "push", value: []byte{2, 0, 0, 0}},
			{op: "push", value: []byte{3, 0, 0, 0}, errno: syscall.E2BIG},
			{op: "push", value: []byte{3, 0, 0, 0}, flags: BPF_EXIST}, // drops the oldest, 1
			{op: "peek", want: []byte{3, 0, 0, 0}},
			{op: "pop", want: []byte{3, 0, 0, 0}},
			{op: "pop", want: []byte{2, 0, 0, 0}},
			{op: "pop", errno: syscall.ENOENT, want: []byte{0, 0, 0, 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, mustNew(t, tt.spec, tt.slots), tt.steps)
		})
	}
}

// TestLookupAliasesStorage checks that a lookup result is the element's
// memory: writes through it show in later lookups and syscall reads, and
// it stays readable after the element is deleted.
func TestLookupAliasesStorage(t *testing.T) {
	for _, s := range []Spec{
		{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4},
		{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 5, ValueSize: 8, MaxEntries: 4, Flags: BPF_F_NO_PREALLOC},
	} {
		t.Run(fmt.Sprint(s.Type), func(t *testing.T) {
			m := mustNew(t, s, 2)
			key := k32(1)
			if s.Type == BPF_MAP_TYPE_LPM_TRIE {
				key = lpmK(0, 0)
			}
			require.Zero(t, m.Update(key, v64(5), BPF_ANY, 1))
			p := m.Lookup(key, 1)
			require.Len(t, p, 8)
			require.True(t, atomicmem.Valid(p))
			old, ok := atomicmem.RMW64(p, 0, atomicmem.OpAdd, 3)
			require.True(t, ok)
			assert.Equal(t, uint64(5), old)
			out := make([]byte, m.SysValueSize())
			require.Zero(t, m.SysLookup(key, out, 0))
			if s.Type == BPF_MAP_TYPE_PERCPU_ARRAY {
				assert.Equal(t, v64(8), out[8:16], "slot 1")
			} else {
				assert.Equal(t, v64(8), out)
			}
			m.Delete(key)
			assert.Equal(t, uint64(8), atomicmem.Load64(p, 0), "memory still valid after delete")
		})
	}
}

func TestSysViews(t *testing.T) {
	t.Run("percpu_values_rounded", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 3, MaxEntries: 2}, 3)
		assert.Equal(t, 24, m.SysValueSize())
		v := []byte{1, 1, 1, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 3, 3, 3, 0, 0, 0, 0, 9}
		require.Zero(t, m.SysUpdate(k32(7), v, 0))
		out := make([]byte, 24)
		require.Zero(t, m.SysLookup(k32(7), out, 0))
		assert.Equal(t, v, out, "padding bytes are stored, as copy_map_value_long does")
		assert.Equal(t, []byte{2, 2, 2}, m.Lookup(k32(7), 1)[:3])
		assert.Equal(t, syscall.EINVAL, m.SysUpdate(k32(7), v[:8], 0), "short per-CPU value")
	})
	t.Run("missing_key_enoent", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}, 1)
		assert.Equal(t, syscall.ENOENT, m.SysLookup(k32(1), make([]byte, 4), 0))
		assert.Equal(t, syscall.EINVAL, m.SysLookup(k32(0), make([]byte, 4), 1), "unknown lookup flag")
		assert.Equal(t, syscall.EINVAL, m.SysLookup(k32(0), make([]byte, 4), BPF_F_LOCK))
		assert.Equal(t, ENOTSUPP, m.SysLookupAndDelete(k32(0), make([]byte, 4), 0))
	})
	t.Run("next_key_array", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 3}, 1)
		next := make([]byte, 4)
		require.Zero(t, m.SysNextKey(nil, next))
		assert.Equal(t, k32(0), next)
		require.Zero(t, m.SysNextKey(k32(1), next))
		assert.Equal(t, k32(2), next)
		assert.Equal(t, syscall.ENOENT, m.SysNextKey(k32(2), next))
		require.Zero(t, m.SysNextKey(k32(9), next), "out of range restarts")
		assert.Equal(t, k32(0), next)
	})
	t.Run("next_key_hash_missing_restarts", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 8}, 1)
		for i := uint32(0); i < 5; i++ {
			require.Zero(t, m.SysUpdate(k32(i), k32(i), 0))
		}
		first, again := make([]byte, 4), make([]byte, 4)
		require.Zero(t, m.SysNextKey(nil, first))
		require.Zero(t, m.SysNextKey(k32(100), again))
		assert.Equal(t, first, again)
		seen := map[uint32]bool{}
		var cur []byte
		for {
			next := make([]byte, 4)
			if m.SysNextKey(cur, next) != 0 {
				break
			}
			seen[le32(next)] = true
			cur = next
		}
		assert.Len(t, seen, 5)
	})
	t.Run("access_flags", func(t *testing.T) {
		ro := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_RDONLY}, 1)
		assert.Equal(t, syscall.EPERM, ro.SysUpdate(k32(0), k32(0), 0))
		assert.Equal(t, syscall.EPERM, ro.SysDelete(k32(0)))
		assert.Equal(t, syscall.ENOENT, ro.SysLookup(k32(0), make([]byte, 4), 0))
		assert.Zero(t, ro.Update(k32(0), k32(0), 0, 0), "programs may still write")
		wo := mustNew(t, Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_WRONLY}, 1)
		assert.Equal(t, syscall.EPERM, wo.SysLookup(k32(0), make([]byte, 4), 0))
		assert.Equal(t, syscall.EPERM, wo.SysNextKey(nil, make([]byte, 4)))
		assert.Zero(t, wo.SysUpdate(k32(0), k32(0), 0))
	})
	t.Run("no_common_lru_rounds", func(t *testing.T) {
		m := mustNew(t, Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 5, Flags: BPF_F_NO_COMMON_LRU}, 4)
		assert.Equal(t, uint32(8), m.Info().Spec.MaxEntries)
	})
}

// TestCreateChecks lists the creation rules with the kernel's errno (the
// kernel test compares generated attribute sets with the running kernel).
func TestCreateChecks(t *testing.T) {
	in := &Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	tests := []struct {
		name  string
		spec  Spec
		errno syscall.Errno
	}{
		{"hash ok", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 1024, ValueSize: 4, MaxEntries: 1}, 0},
		{"hash key+value too big", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4194252, MaxEntries: 1}, syscall.E2BIG},
		{"hash key 0", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 0, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"hash max 0", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4}, syscall.EINVAL},
		{"hash max above 2^31", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1<<31 + 1, Flags: BPF_F_NO_PREALLOC}, syscall.E2BIG},
		{"hash mmapable", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_MMAPABLE}, syscall.EINVAL},
		{"hash no common lru", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_COMMON_LRU}, syscall.EINVAL},
		{"lru no prealloc", Spec{Type: BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, ENOTSUPP},
		{"percpu hash value too big", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 32769, MaxEntries: 1}, syscall.E2BIG},
		{"percpu hash numa", Spec{Type: BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NUMA_NODE}, syscall.EINVAL},
		{"rdonly_prog and wronly_prog", Spec{Type: BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG}, syscall.EINVAL},
		{"rdonly and wronly", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_RDONLY | BPF_F_WRONLY}, syscall.EINVAL},
		{"array key 8", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 8, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"array value above INT_MAX", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 1 << 31, MaxEntries: 1}, syscall.E2BIG},
		{"array no prealloc", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, syscall.EINVAL},
		{"percpu array mmapable", Spec{Type: BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_MMAPABLE}, syscall.EINVAL},
		{"array preserve elems", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_PRESERVE_ELEMS}, syscall.EINVAL},
		{"array too big for memory", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 1 << 30, MaxEntries: 4}, syscall.ENOMEM},
		{"prog array value 8", Spec{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1}, syscall.EINVAL},
		{"prog array rdonly_prog", Spec{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_RDONLY_PROG}, syscall.EINVAL},
		{"perf preserve", Spec{Type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_PRESERVE_ELEMS}, 0},
		{"lpm needs no prealloc", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"lpm key 4", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, syscall.EINVAL},
		{"lpm key 260", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 260, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, 0},
		{"lpm key 261", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 261, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, syscall.EINVAL},
		{"lpm value max", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4194024, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, 0},
		{"lpm value above max", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4194025, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC}, syscall.EINVAL},
		{"lpm zero seed", Spec{Type: BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED}, syscall.EINVAL},
		{"queue key 4", Spec{Type: BPF_MAP_TYPE_QUEUE, KeySize: 4, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"queue value 4 MiB", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4194304, MaxEntries: 1}, 0},
		{"queue value above 4 MiB", Spec{Type: BPF_MAP_TYPE_QUEUE, ValueSize: 4194305, MaxEntries: 1}, syscall.E2BIG},
		{"stack max 0", Spec{Type: BPF_MAP_TYPE_STACK, ValueSize: 4}, syscall.EINVAL},
		{"ringbuf 4096", Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096}, 0},
		{"ringbuf 2048", Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 2048}, syscall.EINVAL},
		{"ringbuf 12288", Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 12288}, syscall.EINVAL},
		{"ringbuf key 4", Spec{Type: BPF_MAP_TYPE_RINGBUF, KeySize: 4, MaxEntries: 4096}, syscall.EINVAL},
		{"ringbuf rdonly", Spec{Type: BPF_MAP_TYPE_RINGBUF, MaxEntries: 4096, Flags: BPF_F_RDONLY}, syscall.EINVAL},
		{"array of maps without inner", Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"array of maps", Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1, Inner: in}, 0},
		{"array of maps value 8", Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 8, MaxEntries: 1, Inner: in}, syscall.EINVAL},
		{"array of maps inner prog array", Spec{Type: BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1,
			Inner: &Spec{Type: BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}}, ENOTSUPP},
		{"hash of maps no prealloc", Spec{Type: BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: BPF_F_NO_PREALLOC, Inner: in}, 0},
		{"name with dash", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "a-b"}, syscall.EINVAL},
		{"name 16 characters", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "0123456789abcdef"}, syscall.EINVAL},
		{"name with dot", Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: ".rodata"}, 0},
		{"type 0", Spec{Type: 0, KeySize: 4, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"type 34", Spec{Type: 34, KeySize: 4, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
		{"type not implemented", Spec{Type: 7, KeySize: 4, ValueSize: 4, MaxEntries: 1}, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(&tt.spec, Options{Slots: 2})
			if tt.errno == 0 {
				require.NoError(t, err)
				assert.NotNil(t, m)
				return
			}
			assert.ErrorIs(t, err, tt.errno)
			assert.Nil(t, m)
			var me *Error
			assert.ErrorAs(t, err, &me)
		})
	}
}
