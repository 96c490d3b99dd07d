package ebpfvm

// The pointer model. A pointer the program holds is a plain 64-bit value:
//
//	(regionTag + region id) << 32 | offset
//
// so pointer arithmetic is integer arithmetic, two pointers into the same
// region compare as their offsets do (data + 14 > data_end works), and the
// difference of two such pointers is the distance between them. Every
// load, store and atomic splits the effective address back into region id
// and offset and checks the id against the machine's region table, the
// offset range against the region's window and the access against its
// permission. A number that does not decode to a live region, or an access
// that does not fit the window, faults with ErrMemAccess; an offset that
// under- or overflows changes the id (a borrow from the tag) or leaves the
// window, so arithmetic cannot reach another region's bytes. The program
// never sees a host address.

const (
	// regionTag is added to region ids in the upper 32 bits, so small
	// numbers (including 0, NULL) never decode to a region.
	regionTag = 0x100
	// handleTag marks map handles (BPF_PSEUDO_MAP_FD): not memory.
	handleTag = 0x200
	// funcTag marks function pointers (BPF_PSEUDO_FUNC): not memory.
	funcTag = 0x300
)

// Fixed region ids; static regions (map values) follow.
const (
	regCtx    = iota // the context: no bytes, resolved at load into field ops
	regStack         // all frames' stacks
	regPacket        // packet buffer, window [data_meta, data_end)
	regMem           // caller-supplied memory (ContextMem)
	regStatic        // first map value region
)

// frameSize is the stack each bpf-to-bpf frame gets; the machine holds
// MAX_CALL_FRAMES of them and the verifier bounds each frame's accesses.
const frameSize = 512

// maxFrames is MAX_CALL_FRAMES.
const maxFrames = 8

// stackSize is the bytes of stack a machine holds.
const stackSize = frameSize * maxFrames

// region is one window of memory the program may touch.
type region struct {
	mem []byte // backing bytes; the window ends at len(mem)
	lo  uint32 // first accessible offset
	ro  bool   // stores and atomics fault
}

// addrOf returns the pointer value for offset off in region id.
func addrOf(id int, off uint32) uint64 {
	return uint64(regionTag+id)<<32 | uint64(off)
}

// access returns the size bytes at address a, or nil when the access is
// outside every region, writes read-only memory or is in map value memory
// (ids from regStatic on), which only the atomic paths of mem_map.go touch.
func (m *Machine) access(a uint64, size uint32, write bool) []byte {
	id := uint32(a>>32) - regionTag
	if id >= uint32(len(m.regions)) || id >= regStatic {
		return nil
	}
	rg := &m.regions[id]
	o := uint32(a)
	if o < rg.lo || uint64(o)+uint64(size) > uint64(len(rg.mem)) || (write && rg.ro) {
		return nil
	}
	return rg.mem[o : o+size : o+size]
}

// Mem returns the n bytes of program memory at address addr, for helpers:
// the same check a load (write false) or store (write true) of the program
// gets. ok is false when the range is not inside one region the program
// may access that way. The slice aliases the region's memory and is valid
// during the helper call. Map value memory is shared with other runs: use
// Read and Write for it, which are atomic per word; Mem returns it too,
// for helpers that hand it to package atomicmem themselves.
func (m *Machine) Mem(addr uint64, n int, write bool) (b []byte, ok bool) {
	if n < 0 || n > 1<<30 {
		return nil, false
	}
	if n == 0 {
		return []byte{}, true
	}
	b = m.accessAny(addr, uint32(n), write)
	return b, b != nil
}

// Object returns the map object behind a map handle value (what LD_IMM64
// with BPF_PSEUDO_MAP_FD put in a register), for helpers.
func (m *Machine) Object(handle uint64) (any, bool) {
	if handle>>32 != handleTag {
		return nil, false
	}
	i := uint32(handle)
	if i >= uint32(len(m.prog.objects)) {
		return m.dynObject(i - uint32(len(m.prog.objects)))
	}
	return m.prog.objects[i], true
}
