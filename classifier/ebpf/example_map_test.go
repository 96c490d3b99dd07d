package ebpf_test

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
)

// A hash map of per-port counters, as a proxy would read the counters a
// tc program keeps.
func ExampleNewMap() {
	counters, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "port_hits",
		Type:       ebpf.Hash,
		KeySize:    2, // __u16 port
		ValueSize:  8, // __u64 packets
		MaxEntries: 1024,
	})
	if err != nil {
		panic(err)
	}
	if err := counters.Put(uint16(443), uint64(17)); err != nil {
		panic(err)
	}
	var hits uint64
	if err := counters.Lookup(uint16(443), &hits); err != nil {
		panic(err)
	}
	fmt.Println("443:", hits)

	err = counters.Lookup(uint16(80), &hits)
	fmt.Println("80:", err, errors.Is(err, ebpf.ErrKeyNotExist), errors.Is(err, syscall.ENOENT))

	err = counters.Update(uint16(443), uint64(0), ebpf.UpdateNoExist)
	fmt.Println(errors.Is(err, ebpf.ErrKeyExist))
	// Output:
	// 443: 17
	// 80: key does not exist true true
	// true
}

// Walking an array with Iterate visits every index in order.
func ExampleMap_Iterate() {
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 3,
		Contents: []ebpf.MapKV{{Key: uint32(1), Value: uint32(100)}},
	})
	if err != nil {
		panic(err)
	}
	var k, v uint32
	it := m.Iterate()
	for it.Next(&k, &v) {
		fmt.Println(k, v)
	}
	if err := it.Err(); err != nil {
		panic(err)
	}
	// Output:
	// 0 0
	// 1 100
	// 2 0
}

// Per-CPU maps hold one value per execution slot; the Go API reads and
// writes them as a slice.
func ExampleMap_Lookup_perCPU() {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1},
		ebpf.WithSlots(4))
	if err != nil {
		panic(err)
	}
	if err := m.Put(uint32(0), []uint64{5, 6}); err != nil {
		panic(err)
	}
	var perSlot []uint64
	if err := m.Lookup(uint32(0), &perSlot); err != nil {
		panic(err)
	}
	fmt.Println(perSlot)
	// Output:
	// [5 6 0 0]
}

// An LPM trie answers with the longest stored prefix that contains the
// key; keys are struct bpf_lpm_trie_key_u8 (a host-order prefix length,
// then the address in network order).
func ExampleMap_Lookup_lpmTrie() {
	type ipv4Key struct {
		Prefixlen uint32
		Addr      [4]byte
	}
	acl, err := ebpf.NewMap(&ebpf.MapSpec{
		Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 1, MaxEntries: 64, Flags: ebpf.FlagNoPrealloc,
		Contents: []ebpf.MapKV{
			{Key: ipv4Key{8, [4]byte{10}}, Value: uint8(1)},           // 10.0.0.0/8: allow
			{Key: ipv4Key{24, [4]byte{10, 6, 6}}, Value: uint8(0)},    // 10.6.6.0/24: deny
			{Key: ipv4Key{0, [4]byte{}}, Value: uint8(2)},             // default
			{Key: ipv4Key{32, [4]byte{10, 6, 6, 1}}, Value: uint8(1)}, // one host allowed
		},
	})
	if err != nil {
		panic(err)
	}
	for _, addr := range [][4]byte{{10, 1, 2, 3}, {10, 6, 6, 9}, {10, 6, 6, 1}, {192, 0, 2, 1}} {
		var verdict uint8
		if err := acl.Lookup(ipv4Key{32, addr}, &verdict); err != nil {
			panic(err)
		}
		fmt.Println(addr, verdict)
	}
	// Output:
	// [10 1 2 3] 1
	// [10 6 6 9] 0
	// [10 6 6 1] 1
	// [192 0 2 1] 2
}

// Queues take values with Update and give them back with LookupAndDelete;
// their key is nil.
func ExampleMap_LookupAndDelete_queue() {
	q, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Queue, ValueSize: 4, MaxEntries: 2})
	if err != nil {
		panic(err)
	}
	for _, v := range []uint32{1, 2, 3} {
		err := q.Update(nil, v, ebpf.UpdateAny)
		fmt.Println("push", v, err)
	}
	// UpdateExist makes room by dropping the oldest value.
	fmt.Println("push 3 with UpdateExist:", q.Update(nil, uint32(3), ebpf.UpdateExist))
	var v uint32
	for q.LookupAndDelete(nil, &v) == nil {
		fmt.Println("pop", v)
	}
	// Output:
	// push 1 <nil>
	// push 2 <nil>
	// push 3 map Queue: update: argument list too long
	// push 3 with UpdateExist: <nil>
	// pop 2
	// pop 3
}

// An array of maps holds maps matching its inner map template.
func ExampleMap_Update_mapInMap() {
	inner := &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	outer, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMap: inner})
	if err != nil {
		panic(err)
	}
	config, err := ebpf.NewMap(inner, ebpf.WithMapID(7))
	if err != nil {
		panic(err)
	}
	if err := outer.Put(uint32(0), config); err != nil {
		panic(err)
	}
	var id uint32
	if err := outer.Lookup(uint32(0), &id); err != nil {
		panic(err)
	}
	var got *ebpf.Map
	if err := outer.Lookup(uint32(0), &got); err != nil {
		panic(err)
	}
	fmt.Println(id, got == config)

	wrong, _ := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	fmt.Println(outer.Put(uint32(1), wrong))
	// Output:
	// 7 true
	// map ArrayOfMaps: update: invalid argument
}
