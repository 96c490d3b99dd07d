package maps

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/atomicmem"
)

// BatchCmd is a batch command of bpf(2).
type BatchCmd int

// Batch commands, with the kernel's numbers.
const (
	BPF_MAP_LOOKUP_BATCH            BatchCmd = 24
	BPF_MAP_LOOKUP_AND_DELETE_BATCH BatchCmd = 25
	BPF_MAP_UPDATE_BATCH            BatchCmd = 26
	BPF_MAP_DELETE_BATCH            BatchCmd = 27
)

// Batch is one batch operation's attributes (union bpf_attr's batch):
// InBatch is the position to start from (nil: the start), OutBatch
// receives the position to continue from; Keys and Values hold Count
// elements back to back (values of SysValueSize bytes).
type Batch struct {
	InBatch   []byte
	OutBatch  []byte
	Keys      []byte
	Values    []byte
	Count     uint32
	ElemFlags uint64
	Flags     uint64
}

// batchKind is what a map type supports of the batch commands.
type batchKind uint8

const (
	batchNone    batchKind = iota
	batchGeneric           // generic lookup and update (arrays)
	batchTrie              // generic lookup, update and delete (LPM tries)
	batchHash              // the hash table's own lookup (and delete), generic update and delete
)

func kindOf(m Map) batchKind {
	switch m.Info().Spec.Type {
	case BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return batchGeneric
	case BPF_MAP_TYPE_LPM_TRIE:
		return batchTrie
	case BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH,
		BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_HASH_OF_MAPS:
		return batchHash
	}
	return batchNone
}

// accessOf returns the syscall access rules of a map.
func accessOf(m Map) *access {
	switch x := m.(type) {
	case *arrayMap:
		return x.access
	case *fdArray:
		return x.access
	case *hashMap:
		return x.access
	case *trieMap:
		return x.access
	case *queueMap:
		return x.access
	case *RingBuf:
		return x.access
	}
	return newAccess(0)
}

// SysBatch runs a batch command as bpf_map_do_batch does: the read and
// write permissions, then the type's batch operation, ENOTSUPP where it
// has none. It returns the count the kernel writes back (b.Count when it
// writes none) and the errno. Buffers shorter than Count elements are
// EFAULT, as unreadable user memory is.
func SysBatch(m Map, cmd BatchCmd, b *Batch) (uint32, syscall.Errno) {
	a := accessOf(m)
	hasRead := cmd == BPF_MAP_LOOKUP_BATCH || cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH
	hasWrite := cmd != BPF_MAP_LOOKUP_BATCH
	if cmd < BPF_MAP_LOOKUP_BATCH || cmd > BPF_MAP_DELETE_BATCH {
		return b.Count, syscall.EINVAL
	}
	if hasRead && !a.canRead() || hasWrite && !a.canWrite() {
		return b.Count, syscall.EPERM
	}
	kind := kindOf(m)
	switch cmd {
	case BPF_MAP_LOOKUP_BATCH:
		switch kind {
		case batchHash:
			return m.(*hashMap).lookupBatch(b, false)
		case batchGeneric, batchTrie:
			return genericLookupBatch(m, b)
		}
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		if kind == batchHash {
			return m.(*hashMap).lookupBatch(b, true)
		}
	case BPF_MAP_UPDATE_BATCH:
		if kind != batchNone {
			return genericUpdateBatch(m, b)
		}
	case BPF_MAP_DELETE_BATCH:
		if kind == batchHash || kind == batchTrie {
			return genericDeleteBatch(m, b)
		}
	}
	return b.Count, ENOTSUPP
}

// batchFlags is the elem_flags check every batch operation starts with.
func batchFlags(b *Batch) syscall.Errno {
	if b.ElemFlags&^BPF_F_LOCK != 0 || b.ElemFlags&BPF_F_LOCK != 0 {
		return syscall.EINVAL // no value has a bpf_spin_lock
	}
	return 0
}

// genericLookupBatch is generic_map_lookup_batch: a get_next_key walk from
// the key in InBatch, skipping keys that vanish, until Count elements or
// the end (ENOENT); OutBatch gets the last key visited.
func genericLookupBatch(m Map, b *Batch) (uint32, syscall.Errno) {
	if e := batchFlags(b); e != 0 {
		return b.Count, e
	}
	if b.Count == 0 {
		return 0, 0
	}
	ks, vs := int(m.Info().Spec.KeySize), m.SysValueSize()
	if b.InBatch != nil && len(b.InBatch) < ks {
		return 0, syscall.EFAULT
	}
	key, prevBuf := make([]byte, ks), make([]byte, ks)
	value := make([]byte, vs)
	var prev []byte
	if b.InBatch != nil {
		copy(prevBuf, b.InBatch)
		prev = prevBuf
	}
	var cp uint32
	var err syscall.Errno
	for cp < b.Count {
		if err = m.SysNextKey(prev, key); err != 0 {
			break
		}
		err = m.SysLookup(key, value, b.ElemFlags)
		if err != 0 && err != syscall.ENOENT {
			return cp, err
		}
		if err == 0 {
			if len(b.Keys) < int(cp+1)*ks || len(b.Values) < int(cp+1)*vs {
				return cp, syscall.EFAULT
			}
			copy(b.Keys[int(cp)*ks:], key)
			copy(b.Values[int(cp)*vs:], value)
			cp++
		}
		if prev == nil {
			prev = prevBuf
		}
		prev, key = key, prev
	}
	if cp > 0 {
		if len(b.OutBatch) < ks {
			return cp, syscall.EFAULT
		}
		copy(b.OutBatch, prev)
	}
	return cp, err
}

// genericUpdateBatch is generic_map_update_batch: one update per element
// with ElemFlags until one fails.
func genericUpdateBatch(m Map, b *Batch) (uint32, syscall.Errno) {
	if e := batchFlags(b); e != 0 {
		return b.Count, e
	}
	if b.Count == 0 {
		return 0, 0
	}
	ks, vs := int(m.Info().Spec.KeySize), m.SysValueSize()
	var cp uint32
	for ; cp < b.Count; cp++ {
		if len(b.Keys) < int(cp+1)*ks || len(b.Values) < int(cp+1)*vs {
			return cp, syscall.EFAULT
		}
		if e := m.SysUpdate(b.Keys[int(cp)*ks:int(cp+1)*ks], b.Values[int(cp)*vs:int(cp+1)*vs], b.ElemFlags); e != 0 {
			return cp, e
		}
	}
	return cp, 0
}

// genericDeleteBatch is generic_map_delete_batch.
func genericDeleteBatch(m Map, b *Batch) (uint32, syscall.Errno) {
	if e := batchFlags(b); e != 0 {
		return b.Count, e
	}
	if b.Count == 0 {
		return 0, 0
	}
	ks := int(m.Info().Spec.KeySize)
	var cp uint32
	for ; cp < b.Count; cp++ {
		if len(b.Keys) < int(cp+1)*ks {
			return cp, syscall.EFAULT
		}
		if e := m.Delete(b.Keys[int(cp)*ks : int(cp+1)*ks]); e != 0 {
			return cp, e
		}
	}
	return cp, 0
}

// lookupBatch is __htab_map_lookup_and_delete_batch: whole buckets from
// the bucket index in InBatch; a bucket that does not fit in what is left
// of Count ends the batch (ENOSPC if nothing was copied yet); past the
// last bucket, ENOENT. OutBatch gets the next bucket index.
func (h *hashMap) lookupBatch(b *Batch, del bool) (uint32, syscall.Errno) {
	if e := batchFlags(b); e != 0 {
		return b.Count, e
	}
	if b.Flags != 0 {
		return b.Count, syscall.EINVAL
	}
	if b.Count == 0 {
		return 0, 0
	}
	var bucket uint32
	if b.InBatch != nil {
		if len(b.InBatch) < 4 {
			return 0, syscall.EFAULT
		}
		bucket = le32(b.InBatch)
	}
	if uint64(bucket) >= uint64(len(h.heads)) {
		return 0, syscall.ENOENT
	}
	vs := h.SysValueSize()
	h.mu.Lock()
	defer h.mu.Unlock()
	var total uint32
	var errno syscall.Errno
	for {
		n := uint32(0)
		for e := h.heads[bucket].Load(); !e.end; e = e.next.Load() {
			n++
		}
		if n > b.Count-total {
			if total == 0 {
				errno = syscall.ENOSPC
			}
			break
		}
		if len(b.Keys) < int(total+n)*h.ks || len(b.Values) < int(total+n)*vs {
			return total, syscall.EFAULT
		}
		for e := h.heads[bucket].Load(); !e.end; {
			next := e.next.Load()
			atomicmem.CopyOut(b.Keys[int(total)*h.ks:int(total+1)*h.ks], e.key, 0)
			h.copyOut(e, b.Values[int(total)*vs:int(total+1)*vs])
			total++
			if del {
				h.unlink(e)
				h.count--
				if h.lru {
					h.lruRemove(e)
				}
				h.release(e)
			}
			e = next
		}
		bucket++
		if uint64(bucket) >= uint64(len(h.heads)) {
			errno = syscall.ENOENT
			break
		}
	}
	if len(b.OutBatch) < 4 {
		return total, syscall.EFAULT
	}
	putLE32(b.OutBatch, bucket)
	return total, errno
}

// BatchPosSize is the size of a batch position of m: a 4-byte bucket
// index for hash maps, a key for the maps with generic batches.
func BatchPosSize(m Map) int {
	if kindOf(m) == batchHash {
		return 4
	}
	return int(m.Info().Spec.KeySize)
}
