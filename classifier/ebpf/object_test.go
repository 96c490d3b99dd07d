package ebpf_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

func loadSpec(t testing.TB, name string) *ebpf.ObjectSpec {
	t.Helper()
	spec, err := ebpf.LoadObjectFile(filepath.Join("testdata", name+".o"))
	require.NoError(t, err)
	return spec
}

// loadCollection loads a test object, skipping (with the reason) when its
// programs need what the library does not serve yet.
func loadCollection(t testing.TB, name string, opts ebpf.CollectionOptions) *ebpf.Collection {
	t.Helper()
	col, err := ebpf.NewCollection(loadSpec(t, name), opts)
	var mh *ebpf.MissingHelperError
	if errors.As(err, &mh) {
		t.Skipf("the default helper registry lacks %s (%d)", mh.Name, mh.ID)
	}
	if err != nil && bytes.Contains([]byte(err.Error()), []byte("invalid bpf_context access")) {
		t.Skipf("the VM's __sk_buff does not serve a field the program reads yet: %v", err)
	}
	require.NoError(t, err)
	return col
}

func tcpFrame(dport uint16) []byte {
	f := make([]byte, 54)
	copy(f, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	copy(f[14:], []byte{0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 1, 2, 3, 192, 168, 7, 1})
	binary.BigEndian.PutUint16(f[34:], 40000)
	binary.BigEndian.PutUint16(f[36:], dport)
	f[46] = 0x50
	return f
}

func TestLoadObject(t *testing.T) {
	type prog struct {
		name, section string
		typ           ebpf.ProgramType
	}
	type mp struct {
		name        string
		typ         ebpf.MapType
		key, val    uint32
		max, flags  uint32
		pin         ebpf.Pinning
		hasContents bool
	}
	tests := []struct {
		object string
		progs  []prog
		maps   []mp
	}{
		{"globals", []prog{{"globals", "tc", ebpf.SchedCLS}}, []mp{
			{".bss", ebpf.Array, 4, 12, 1, 0, ebpf.PinNone, true},
			{".data", ebpf.Array, 4, 8, 1, 0, ebpf.PinNone, true},
			{".rodata", ebpf.Array, 4, 8, 1, ebpf.FlagRdOnlyProg, ebpf.PinNone, true},
		}},
		{"port", []prog{{"port_classifier", "classifier", ebpf.SchedCLS}}, []mp{
			{"ports", ebpf.Hash, 2, 16, 64, 0, ebpf.PinNone, false},
		}},
		{"lpm", []prog{{"lpm_acl", "tc", ebpf.SchedCLS}}, []mp{
			{"acl", ebpf.LPMTrie, 8, 4, 128, ebpf.FlagNoPrealloc, ebpf.PinNone, false},
		}},
		{"tailcall", []prog{
			{"tail_entry", "tc", ebpf.SchedCLS}, {"tail_last", "tc", ebpf.SchedCLS},
			{"tail_other", "tc", ebpf.SchedCLS}, {"tail_tcp", "tc", ebpf.SchedCLS},
		}, []mp{{"jumps", ebpf.ProgramArray, 4, 4, 8, 0, ebpf.PinNone, false}}},
		{"elfmap", []prog{{"count", "classifier", ebpf.SchedCLS}}, []mp{
			{"own_counts", ebpf.Array, 4, 8, 4, 0, ebpf.PinObjectNS, false},
			{"shared_counts", ebpf.Array, 4, 8, 4, 0, ebpf.PinGlobalNS, false},
		}},
		{"sections", []prog{
			{"act", "action", ebpf.SchedACT}, {"tcx_in", "tcx/ingress", ebpf.SchedCLS}, {"tcx_out", "tcx/egress", ebpf.SchedCLS},
		}, nil},
		{"events", []prog{{"events_out", "tc", ebpf.SchedCLS}}, []mp{
			{"events", ebpf.RingBuf, 0, 0, 4096, 0, ebpf.PinNone, false},
			{"samples", ebpf.PerfEventArray, 4, 4, 0, 0, ebpf.PinNone, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.object, func(t *testing.T) {
			spec := loadSpec(t, tc.object)
			assert.Len(t, spec.ID, 40)
			require.Len(t, spec.Programs, len(tc.progs))
			for _, p := range tc.progs {
				ps := spec.Programs[p.name]
				require.NotNil(t, ps, p.name)
				assert.Equal(t, p.section, ps.SectionName)
				assert.Equal(t, p.typ, ps.Type)
				assert.Equal(t, "GPL", ps.License)
				assert.True(t, ps.FuncInfo)
				for slot, name := range ps.MapRefs {
					assert.Contains(t, spec.Maps, name)
					assert.Equal(t, uint8(0x18), ps.Instructions[slot].Op, "map reference on LD_IMM64")
					assert.Zero(t, ps.Instructions[slot].Imm, "map handle cleared")
				}
			}
			require.Len(t, spec.Maps, len(tc.maps))
			for _, m := range tc.maps {
				ms := spec.Maps[m.name]
				require.NotNil(t, ms, m.name)
				assert.Equal(t, m.typ, ms.Type, m.name)
				assert.Equal(t, m.key, ms.KeySize, m.name)
				assert.Equal(t, m.val, ms.ValueSize, m.name)
				assert.Equal(t, m.max, ms.MaxEntries, m.name)
				assert.Equal(t, m.flags, ms.Flags, m.name)
				assert.Equal(t, m.pin, ms.Pinning, m.name)
				assert.Equal(t, m.hasContents, len(ms.Contents) > 0, m.name)
			}
		})
	}
}

func TestProgramBySection(t *testing.T) {
	spec := loadSpec(t, "tailcall")
	var names []string
	for _, p := range spec.ProgramBySection("tc") {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"tail_entry", "tail_last", "tail_other", "tail_tcp"}, names)
	assert.Empty(t, spec.ProgramBySection("classifier"))
	assert.Equal(t, names, spec.ProgramNames())
}

func TestLoadObjectGlobalData(t *testing.T) {
	spec := loadSpec(t, "globals")
	// .rodata: mark_base 0x100 then weights {1, 2, 3, 5}.
	ro := spec.Maps[".rodata"].Contents[0].Value.([]byte)
	assert.Equal(t, []byte{0, 1, 0, 0, 1, 2, 3, 5}, ro)
	// .data: packets = 7.
	assert.Equal(t, u64le(7), spec.Maps[".data"].Contents[0].Value.([]byte))

	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	prog := col.Programs["globals"]
	var pkt packet.Packet
	for i := range 4 {
		require.NoError(t, pkt.SetFrame(tcpFrame(80)))
		pkt.CB[0], pkt.Priority = 2, 1
		ret, err := prog.RunChecked(&pkt)
		require.NoError(t, err)
		// packets goes 8, 9, 10, 11: a multiple of 3 drops.
		want := uint32(0)
		if (8+i)%3 == 0 {
			want = 2
		}
		assert.Equal(t, want, ret, "run %d", i)
		// score = (cb0 + weights[0]) * 3 + priority = 10, len 54 <= 64.
		assert.Equal(t, uint32(0x100+10), pkt.Mark)
		assert.Equal(t, uint32(8+i), pkt.CB[1])
	}
	var data []byte
	require.NoError(t, col.Maps[".data"].Lookup(uint32(0), &data))
	assert.Equal(t, u64le(11), data)
	var bss []byte
	require.NoError(t, col.Maps[".bss"].Lookup(uint32(0), &bss))
	assert.Equal(t, append(u64le(4*54), u32le(54)...), bss)
	// Read-only data is frozen for the Go API as for programs.
	err = col.Maps[".rodata"].Put(uint32(0), make([]byte, 8))
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.Zero(t, prog.Faults())
}

func TestLoadObjectProgArrayValues(t *testing.T) {
	spec := loadSpec(t, "progarray")
	contents := spec.Maps["stages"].Contents
	require.Len(t, contents, 1)
	assert.Equal(t, ebpf.ObjectRef("stage_one"), contents[0].Value)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	var id uint32
	require.NoError(t, col.Maps["stages"].Lookup(uint32(2), &id))
	assert.Equal(t, col.Programs["stage_one"].ID(), id)
	assert.ErrorIs(t, col.Maps["stages"].Lookup(uint32(3), &id), ebpf.ErrKeyNotExist)

	bad := spec.Copy()
	bad.Maps["stages"].Contents[0].Value = ebpf.ObjectRef("nonexistent")
	_, err = ebpf.NewCollection(bad, ebpf.CollectionOptions{Slots: 1})
	assert.ErrorIs(t, err, syscall.EINVAL)
}

func TestVariables(t *testing.T) {
	spec := loadSpec(t, "globals")
	require.Contains(t, spec.Variables, "packets")
	assert.Equal(t, ".data", spec.Variables["packets"].Section)
	var packets uint64
	require.NoError(t, spec.Variable("packets", &packets))
	assert.Equal(t, uint64(7), packets)

	orig := spec.Copy()
	require.NoError(t, spec.SetVariable("packets", uint64(100)))
	require.NoError(t, spec.SetVariable("mark_base", uint32(0x200)))
	require.NoError(t, spec.SetVariable("weights", []byte{9, 9, 9, 9}))
	require.NoError(t, orig.Variable("packets", &packets))
	assert.Equal(t, uint64(7), packets, "the copy keeps its own bytes")

	assert.ErrorIs(t, spec.SetVariable("packets", uint32(1)), syscall.EINVAL)
	assert.ErrorIs(t, spec.SetVariable("nonexistent", uint32(1)), syscall.ENOENT)
	var small uint16
	assert.ErrorIs(t, spec.Variable("packets", &small), syscall.EINVAL)

	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	var pkt packet.Packet
	require.NoError(t, pkt.SetFrame(tcpFrame(80)))
	_, err = col.Programs["globals"].RunChecked(&pkt)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x200+9*3), pkt.Mark, "mark_base + weights[0] * 3")
	require.NoError(t, col.Maps[".data"].Lookup(uint32(0), &packets))
	assert.Equal(t, uint64(101), packets)
}

func TestLoadObjectMapOfMaps(t *testing.T) {
	spec := loadSpec(t, "mapinmap")
	outer := spec.Maps["tenants"]
	require.NotNil(t, outer.InnerMap)
	assert.Equal(t, ebpf.Array, outer.InnerMap.Type)
	assert.Equal(t, uint32(8), outer.InnerMap.ValueSize)
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	for i, name := range []string{"tenant_a", "tenant_b"} {
		var inner *ebpf.Map
		require.NoError(t, col.Maps["tenants"].Lookup(uint32(i), &inner))
		assert.Same(t, col.Maps[name], inner)
	}
}

func TestLoadObjectRefuses(t *testing.T) {
	tests := []struct {
		object string
		errno  syscall.Errno
		names  string
	}{
		{"core", syscall.EOPNOTSUPP, `CO-RE relocation`},
		{"kfunc", syscall.EOPNOTSUPP, `kfunc "bpf_rcu_read_lock"`},
		{"kconfig", syscall.EOPNOTSUPP, `kconfig extern "LINUX_KERNEL_VERSION"`},
	}
	for _, tc := range tests {
		t.Run(tc.object, func(t *testing.T) {
			_, err := ebpf.LoadObjectFile(filepath.Join("testdata", tc.object+".o"))
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.errno)
			assert.Contains(t, err.Error(), tc.names)
		})
	}
	t.Run("not_elf", func(t *testing.T) {
		_, err := ebpf.LoadObject(bytes.NewReader([]byte("not an object")))
		assert.ErrorIs(t, err, syscall.EINVAL)
	})
	t.Run("empty", func(t *testing.T) {
		_, err := ebpf.LoadObject(bytes.NewReader(nil))
		assert.ErrorIs(t, err, syscall.EINVAL)
	})
	t.Run("missing_file", func(t *testing.T) {
		_, err := ebpf.LoadObjectFile(filepath.Join("testdata", "nonexistent.o"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestSpecCopy(t *testing.T) {
	spec := loadSpec(t, "globals")
	c := spec.Copy()
	c.Programs["globals"].Instructions[0].Imm = 12345
	c.Programs["globals"].MapRefs[1] = "other"
	c.Maps[".data"].MaxEntries = 9
	assert.NotEqual(t, int32(12345), spec.Programs["globals"].Instructions[0].Imm)
	assert.Equal(t, ".data", spec.Programs["globals"].MapRefs[1])
	assert.Equal(t, uint32(1), spec.Maps[".data"].MaxEntries)
	assert.Nil(t, (*ebpf.ObjectSpec)(nil).Copy())
	assert.Nil(t, (*ebpf.ProgramSpec)(nil).Copy())
}

func TestProgramTag(t *testing.T) {
	// The tag the kernel reports for this object (TestFilterDumpAgainstKernel
	// and TestObjectsAgainstKernel compare it with the running kernel).
	spec := loadSpec(t, "globals")
	tag := spec.Programs["globals"].Tag()
	assert.Equal(t, "595e6feba5c8effb", hex.EncodeToString(tag[:]))
	// Map handles do not change the tag.
	c := spec.Programs["globals"].Copy()
	for slot := range c.MapRefs {
		c.Instructions[slot].Imm = 42
		c.Instructions[slot+1].Imm = 0
	}
	assert.Equal(t, tag, c.Tag())
}

func TestNewProgramErrors(t *testing.T) {
	spec := loadSpec(t, "globals").Programs["globals"]
	maps := map[string]*ebpf.Map{}
	for name, ms := range loadSpec(t, "globals").Maps {
		m, err := ebpf.NewMap(ms, ebpf.WithSlots(1))
		require.NoError(t, err)
		maps[name] = m
	}
	xdp := spec.Copy()
	xdp.Type = ebpf.XDP
	noRef := spec.Copy()
	delete(noRef.MapRefs, 1)
	tests := []struct {
		name  string
		spec  *ebpf.ProgramSpec
		maps  map[string]*ebpf.Map
		errno syscall.Errno
	}{
		{"nil_spec", nil, maps, syscall.EINVAL},
		{"not_tc", xdp, maps, syscall.EINVAL},
		{"map_not_given", spec, nil, syscall.EBADF},
		{"map_load_without_ref", noRef, maps, syscall.EBADF},
		{"empty", &ebpf.ProgramSpec{Type: ebpf.SchedCLS}, nil, syscall.E2BIG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ebpf.NewProgram(tc.spec, ebpf.ProgramOptions{Maps: tc.maps})
			assert.Nil(t, p)
			assert.ErrorIs(t, err, tc.errno)
		})
	}
	t.Run("missing_helper", func(t *testing.T) {
		ps := loadSpec(t, "port")
		m, err := ebpf.NewMap(ps.Maps["ports"])
		require.NoError(t, err)
		_, err = ebpf.NewProgram(ps.Programs["port_classifier"], ebpf.ProgramOptions{
			Maps: map[string]*ebpf.Map{"ports": m}, Helpers: ebpf.NoHelpers(),
		})
		var mh *ebpf.MissingHelperError
		require.ErrorAs(t, err, &mh)
		assert.Equal(t, "bpf_map_lookup_elem", mh.Name)
		assert.ErrorIs(t, err, syscall.EINVAL)
	})
	t.Run("ids", func(t *testing.T) {
		p, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Maps: maps, ID: 77})
		require.NoError(t, err)
		assert.Equal(t, uint32(77), p.ID())
		q, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Maps: maps})
		require.NoError(t, err)
		r, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Maps: maps})
		require.NoError(t, err)
		assert.Greater(t, r.ID(), q.ID())
		assert.Equal(t, "globals", q.Name())
		assert.Equal(t, ebpf.SchedCLS, q.Type())
	})
}

// A hand-written program that reads global data through each pseudo
// source a map value load may use.
func TestNewProgramMapValueSources(t *testing.T) {
	cfg, err := ebpf.NewMap(&ebpf.MapSpec{Name: "cfg", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1,
		Contents: []ebpf.MapKV{{Key: uint32(0), Value: []byte{1, 0, 0, 0, 0x2a, 0, 0, 0}}}})
	require.NoError(t, err)
	for _, src := range []uint8{2, 6} { // BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE
		spec := &ebpf.ProgramSpec{
			Name: "cfg_read",
			Type: ebpf.SchedCLS,
			Instructions: []ebpf.Instruction{
				{Op: 0x18, Dst: 1, Src: src, Imm: 9}, // r1 = &cfg + 4 (fd or index 9)
				{Op: 0x00, Imm: 4},                   // (second slot: offset 4)
				{Op: 0x61, Dst: 0, Src: 1},           // r0 = *(u32 *)(r1 + 0)
				{Op: 0x95},                           // exit
			},
			MapRefs: map[int]string{0: "cfg"},
		}
		p, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Maps: map[string]*ebpf.Map{"cfg": cfg}, Helpers: ebpf.NoHelpers()})
		require.NoError(t, err, "src %d", src)
		var pkt packet.Packet
		require.NoError(t, pkt.SetFrame(tcpFrame(80)))
		ret, err := p.RunChecked(&pkt)
		require.NoError(t, err)
		assert.Equal(t, uint32(0x2a), ret, "src %d", src)
	}
}

// A run fault (here the VM's instruction budget, which a loop the kernel
// would refuse exhausts) ends Run with 0 and is counted; RunChecked
// reports it.
func TestRunFault(t *testing.T) {
	spec := &ebpf.ProgramSpec{
		Name: "spin",
		Type: ebpf.SchedCLS,
		Instructions: []ebpf.Instruction{
			{Op: 0xb7, Dst: 0, Imm: 7},          // r0 = 7
			{Op: 0x07, Dst: 0, Imm: 1},          // r0 += 1
			{Op: 0x55, Dst: 0, Off: -2, Imm: 0}, // if r0 != 0 goto -2
			{Op: 0x95},                          // exit
		},
	}
	p, err := ebpf.NewProgram(spec, ebpf.ProgramOptions{Helpers: ebpf.NoHelpers(), Budget: 1000})
	require.NoError(t, err, "the VM traps endless loops at run time rather than at load")
	var pkt packet.Packet
	require.NoError(t, pkt.SetFrame(tcpFrame(80)))
	assert.Equal(t, uint32(0), p.Run(&pkt))
	assert.Equal(t, uint64(1), p.Faults())
	_, err = p.RunChecked(&pkt)
	var re *ebpfvm.RunError
	assert.ErrorAs(t, err, &re, "a fault still unwraps to the run error")
	assert.Equal(t, uint64(1), p.Faults(), "RunChecked does not count")
}

func TestProgramTable(t *testing.T) {
	col := loadCollection(t, "globals", ebpf.CollectionOptions{Slots: 1})
	act := loadSpec(t, "globals")
	act.Programs["globals"].Type = ebpf.SchedACT
	acol, err := ebpf.NewCollection(act, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)

	var table ebpf.ProgramTable
	fd := table.Add(col.Programs["globals"])
	assert.Equal(t, uint32(3), fd)
	afd := table.Add(acol.Programs["globals"])
	assert.Equal(t, uint32(4), afd)

	p, err := table.Program(fd, false)
	require.NoError(t, err)
	assert.Same(t, col.Programs["globals"], p)
	_, err = table.Program(afd, false)
	assert.ErrorIs(t, err, syscall.EINVAL)
	_, err = table.Program(99, false)
	assert.ErrorIs(t, err, syscall.EBADF)
	require.NoError(t, table.Remove(fd))
	assert.ErrorIs(t, table.Remove(fd), syscall.EBADF)
	_, err = table.Program(fd, false)
	assert.ErrorIs(t, err, syscall.EBADF)
	assert.Equal(t, fd, table.Add(col.Programs["globals"]), "the lowest free descriptor again")
}

func TestPinning(t *testing.T) {
	spec := loadSpec(t, "elfmap")
	spec.Programs = nil // maps only: pinning does not depend on the program
	pins := ebpf.NewPinNamespace()
	a, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	require.NoError(t, err)
	b, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	require.NoError(t, err)
	assert.Same(t, a.Maps["shared_counts"], b.Maps["shared_counts"], "PIN_GLOBAL_NS")
	assert.Same(t, a.Maps["own_counts"], b.Maps["own_counts"], "PIN_OBJECT_NS, same object")

	other := spec.Copy()
	other.ID = "another object"
	c, err := ebpf.NewCollection(other, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	require.NoError(t, err)
	assert.Same(t, a.Maps["shared_counts"], c.Maps["shared_counts"], "PIN_GLOBAL_NS across objects")
	assert.NotSame(t, a.Maps["own_counts"], c.Maps["own_counts"], "PIN_OBJECT_NS is per object")
	assert.ElementsMatch(t, []string{"another object/own_counts", spec.ID + "/own_counts", "globals/shared_counts"}, pins.Paths())

	private, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
	require.NoError(t, err)
	assert.NotSame(t, a.Maps["shared_counts"], private.Maps["shared_counts"], "no namespace, no sharing")

	bad := spec.Copy()
	bad.Maps["shared_counts"].MaxEntries = 8
	_, err = ebpf.NewCollection(bad, ebpf.CollectionOptions{Slots: 1, Pins: pins})
	assert.ErrorIs(t, err, syscall.EINVAL)

	assert.True(t, pins.Unpin("globals/shared_counts"))
	assert.Nil(t, pins.Lookup("globals/shared_counts"))
	assert.False(t, pins.Unpin("globals/shared_counts"))
}

func TestPinnedMapsSharedByPrograms(t *testing.T) {
	pins := ebpf.NewPinNamespace()
	a := loadCollection(t, "elfmap", ebpf.CollectionOptions{Slots: 1, Pins: pins})
	b := loadCollection(t, "elfmap", ebpf.CollectionOptions{Slots: 1, Pins: pins})
	var pkt packet.Packet
	for _, p := range []*ebpf.Program{a.Programs["count"], b.Programs["count"], a.Programs["count"]} {
		require.NoError(t, pkt.SetFrame(tcpFrame(80))) // len 54: key 2
		_, err := p.RunChecked(&pkt)
		require.NoError(t, err)
	}
	var n uint64
	require.NoError(t, a.Maps["shared_counts"].Lookup(uint32(2), &n))
	assert.Equal(t, uint64(3), n)
	require.NoError(t, a.Maps["own_counts"].Lookup(uint32(2), &n))
	assert.Equal(t, uint64(3*54), n)
}

func TestClassifyWithEBPFFilter(t *testing.T) {
	col := loadCollection(t, "port", ebpf.CollectionOptions{Slots: 1})
	ports := col.Maps["ports"]
	require.NoError(t, ports.Put(uint16(80), append(u32le(0x10020), make([]byte, 12)...)))
	chain := classifier.New(classifier.Config{})
	_, err := chain.Change(classifier.FilterSpec{Program: col.Programs["port_classifier"], ClassID: 0x10001}, classifier.Create)
	require.NoError(t, err)

	tests := []struct {
		name    string
		dport   uint16
		verdict action.Verdict
		classID uint32
	}{
		{"mapped_port", 80, action.OK, 0x10020},
		{"unmapped_port_default_class", 22, action.OK, 0x10001},
	}
	var pkt packet.Packet
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, pkt.SetFrame(tcpFrame(tc.dport)))
			res := chain.Classify(&pkt)
			assert.Equal(t, tc.verdict, res.Verdict)
			assert.Equal(t, tc.classID, uint32(res.ClassID))
		})
	}
	var v []byte
	require.NoError(t, ports.Lookup(uint16(80), &v))
	assert.Equal(t, u64le(1), v[8:], "the program counted the packet")

	require.NoError(t, pkt.SetFrame(tcpFrame(80)))
	allocs := testing.AllocsPerRun(100, func() { chain.Classify(&pkt) })
	if !ebpf.RaceEnabled {
		assert.Zero(t, allocs)
	}
}

func TestRunAllocs(t *testing.T) {
	for _, tc := range []struct{ object, prog string }{
		{"globals", "globals"}, {"port", "port_classifier"}, {"lpm", "lpm_acl"}, {"nat", "nat"},
		{"elfmap", "count"}, {"tailcall", "tail_entry"}, {"progarray", "dispatch"}, {"vlan", "vlan"},
	} {
		t.Run(tc.object, func(t *testing.T) {
			col := loadCollection(t, tc.object, ebpf.CollectionOptions{Slots: 1})
			prog := col.Programs[tc.prog]
			require.NotNil(t, prog)
			if m := col.Maps["ports"]; m != nil {
				require.NoError(t, m.Put(uint16(80), make([]byte, 16)))
			}
			if m := col.Maps["jumps"]; m != nil {
				require.NoError(t, m.Put(uint32(1), ebpf.TailCallTarget(col.Programs["tail_tcp"])))
				require.NoError(t, m.Put(uint32(3), ebpf.TailCallTarget(col.Programs["tail_last"])))
			}
			frame := tcpFrame(80)
			var pkt packet.Packet
			allocs := testing.AllocsPerRun(100, func() {
				_ = pkt.SetFrame(frame)
				prog.Run(&pkt)
			})
			if !ebpf.RaceEnabled {
				assert.Zero(t, allocs)
			}
			assert.Zero(t, prog.Faults())
		})
	}
}
