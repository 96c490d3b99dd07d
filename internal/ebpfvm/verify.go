package ebpfvm

// The load-time verifier. It follows kernel/bpf/verifier.c in what it
// rejects and with which errno, in a simpler form:
//
//  1. every instruction: known opcodes, LD_IMM64 pairs and their pseudo
//     sources (bpf_opcode_in_insntable, resolve_pseudo_ldimm64);
//  2. subprograms and jumps (check_subprogs): calls to valid starts, jumps
//     inside their subprogram and not into an LD_IMM64's second slot, each
//     subprogram ending in exit or ja;
//  3. reachability (check_cfg): every instruction reachable;
//  4. a forward dataflow over register and stack-slot kinds, scalar
//     constants, stack offsets and proven packet ranges, following only
//     the outcome of comparisons between constants; on each instruction a
//     path reaches (do_check): register numbers, reserved fields, helper
//     ids, reads of never-written registers, writes to R10, dereferences
//     of scalars and other non-pointers, pointer arithmetic the kernel
//     forbids, context accesses resolved by offset and size, stack offsets
//     out of the frame, packet accesses outside the proven range, global
//     data bounds and read-only maps, atomics on the context or packet;
//  5. the call graph: depth at most MAX_CALL_FRAMES and at most 512 bytes
//     of stack along any chain.
//
// The dataflow joins states where paths meet instead of following each
// path as the kernel does, so it is conservative where the kernel is path
// sensitive (a register written on only some paths into a join counts as
// unwritten, a packet range is what every path proved). Offsets it loses
// and value ranges it does not track are checked at run time instead (see
// mem.go).

import (
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// kindID is what a register or stack slot holds, as far as the verifier
// tracks it.
type kindID uint8

const (
	kNone           kindID = iota // never written
	kScalar                       // a number
	kCtx                          // the context pointer, unmodified
	kCtxMod                       // a context pointer plus an offset
	kStack                        // a pointer into the current frame's stack
	kPkt                          // packet pointer (data + n)
	kPktMeta                      // packet metadata pointer
	kPktEnd                       // data_end
	kMem                          // ContextMem memory
	kMapValue                     // map value pointer
	kMapValueOrNull               // map value pointer or 0
	kMapHandle                    // map handle
	kFunc                         // function pointer
	kAny                          // different kinds on different paths
)

var kindNames = [...]string{"!read_ok", "scalar", "ctx", "modified ctx", "fp", "pkt", "pkt_meta", "pkt_end",
	"mem", "map_value", "map_value_or_null", "map_ptr", "func", "mixed pointer/scalar"}

func (k kindID) String() string { return kindNames[k] }

func (k kindID) isPtr() bool { return k >= kCtx && k != kAny }

// reg is a register's verifier state; off is the known constant offset of
// a kStack pointer from its frame's R10 when known is set.
type reg struct {
	k     kindID
	known bool   // kStack, kPkt: off is known
	off   int32  // kStack: offset from the frame's R10; kPkt: from the base id
	cst   bool   // kScalar: the value is the constant val
	val   uint64 // kScalar: the constant
	id    uint32 // kPkt: 0 = data itself, i+1 = data plus a variable added at insn i; kMapValue: static region + 1
	rng   int32  // kPkt: bytes from the base proven to be inside the packet
}

const nSlots = frameSize / 8

// vstate is the state on entry to an instruction.
type vstate struct {
	valid bool
	regs  [uapi.MAX_BPF_REG]reg
	slots [nSlots]kindID // spilled registers, 8-byte aligned
}

func joinReg(a, b reg) reg {
	if a == b {
		return a
	}
	if a.k == kNone || b.k == kNone {
		return reg{k: kNone}
	}
	if a.k != b.k {
		return reg{k: kAny}
	}
	if (a.k == kPkt || a.k == kMapValue) && a.known && b.known && a.id == b.id && a.off == b.off {
		// What both paths proved.
		return reg{k: a.k, known: true, id: a.id, off: a.off, rng: min(a.rng, b.rng)}
	}
	return reg{k: a.k} // same kind, different offsets or constants
}

func joinKind(a, b kindID) kindID {
	switch {
	case a == b:
		return a
	case a == kNone || b == kNone:
		return kNone
	}
	return kAny
}

// merge joins s into *d and reports whether *d changed.
func merge(d *vstate, s *vstate) bool {
	if !s.valid {
		return false
	}
	if !d.valid {
		*d = *s
		return true
	}
	changed := false
	for i := range d.regs {
		if j := joinReg(d.regs[i], s.regs[i]); j != d.regs[i] {
			d.regs[i], changed = j, true
		}
	}
	for i := range d.slots {
		if j := joinKind(d.slots[i], s.slots[i]); j != d.slots[i] {
			d.slots[i], changed = j, true
		}
	}
	return changed
}

// aux is what the verifier learned about one instruction for the compiler.
type aux struct {
	ctx    ctxAccess // resolved context access
	isCtx  bool      // memory instruction whose base is the context
	helper *Helper   // resolved helper of a call
	k      uint64    // LD_IMM64 value after pseudo resolution
	kind   kindID    // LD_IMM64 kind
	sub    int32     // subprogram called (pseudo call)
}

type verifier struct {
	cur      uint32 // instruction step is working on
	p        *Program
	insns    []Instruction
	prof     Profile
	second   []bool  // second slot of an LD_IMM64
	subStart []int   // subprogram start instructions, sorted
	subOf    []int32 // instruction -> subprogram
	aux      []aux
	states   []vstate
	ret      []reg   // per subprogram: join of R0 at its exits
	retValid []bool  // ret seen
	calls    [][]int // per subprogram: call sites
	depth    []int32 // per subprogram: stack bytes used
	callees  [][]int // per subprogram: subprograms it calls
	work     []int
	queued   []bool
	statics  map[[2]int32]int // (kind, ref) -> static region index
}

func newVerifier(p *Program) *verifier {
	n := len(p.raw)
	return &verifier{
		p: p, insns: p.raw, prof: p.opts.Profile,
		second: make([]bool, n), subOf: make([]int32, n), aux: make([]aux, n),
		statics: map[[2]int32]int{},
	}
}

func (v *verifier) run() error {
	if err := v.checkInsns(); err != nil {
		return err
	}
	if err := v.checkSubprogs(); err != nil {
		return err
	}
	if err := v.checkCFG(); err != nil {
		return err
	}
	if err := v.dataflow(); err != nil {
		return err
	}
	return v.checkCallGraph()
}

// checkInsns is step 1.
func (v *verifier) checkInsns() error {
	n := len(v.insns)
	for i := 0; i < n; i++ {
		in := v.insns[i]
		if !opcodeValid(in.Op, v.prof) {
			return verr(i, syscall.EINVAL, "unknown opcode %02x", in.Op)
		}
		if in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
			if i == n-1 {
				return verr(i, syscall.EINVAL, "invalid bpf_ld_imm64 insn")
			}
			nx := v.insns[i+1]
			if nx.Op != 0 || nx.Dst != 0 || nx.Src != 0 || nx.Off != 0 {
				return verr(i, syscall.EINVAL, "invalid bpf_ld_imm64 insn")
			}
			if in.Off != 0 {
				return verr(i, syscall.EINVAL, "BPF_LD_IMM64 uses reserved fields")
			}
			if err := v.resolveImm64(i, in, nx); err != nil {
				return err
			}
			v.second[i+1] = true
			i++
		}
	}
	return nil
}

// checkInsn applies the per-instruction checks the kernel makes when a
// path reaches the instruction (do_check): register numbers, reserved
// fields, helper ids, atomic operations. Instructions no path reaches are
// not checked, as in the kernel; they are compiled to a trap.
func (v *verifier) checkInsn(i int, in Instruction) *VerifyError {
	if in.Dst >= uapi.MAX_BPF_REG {
		return verr(i, syscall.EINVAL, "R%d is invalid", in.Dst)
	}
	if in.Src >= uapi.MAX_BPF_REG && in.Op != uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
		return verr(i, syscall.EINVAL, "R%d is invalid", in.Src)
	}
	if err := checkFields(i, in); err != nil {
		return err
	}
	switch {
	case in.Op == uapi.BPF_JMP|uapi.BPF_CALL:
		switch in.Src {
		case 0:
			if _, ok := v.p.opts.Helpers.Lookup(in.Imm); !ok {
				if name := v.p.opts.Helpers.missingName(in.Imm); name != "" {
					return verr(i, syscall.EINVAL, "helper bpf_%s#%d is not available", name, in.Imm)
				}
				return verr(i, syscall.EINVAL, "invalid func unknown#%d", in.Imm)
			}
		case uapi.BPF_PSEUDO_KFUNC_CALL:
			return verr(i, syscall.EINVAL, "calling kernel function id %d is not supported", in.Imm)
		}
	case in.Op&0x07 == uapi.BPF_STX && in.Op&0xe0 == uapi.BPF_ATOMIC:
		if !atomicValid(in.Imm, in.Op&0x18) {
			if in.Imm == uapi.BPF_LOAD_ACQ || in.Imm == uapi.BPF_STORE_REL || in.Op&0x18 == uapi.BPF_W || in.Op&0x18 == uapi.BPF_DW {
				return verr(i, syscall.EINVAL, "BPF_ATOMIC uses invalid atomic opcode %02x", in.Imm)
			}
			return verr(i, syscall.EINVAL, "invalid atomic operand size")
		}
	}
	return nil
}

// resolveImm64 handles LD_IMM64's pseudo sources.
func (v *verifier) resolveImm64(i int, in, nx Instruction) error {
	a := &v.aux[i]
	switch in.Src {
	case 0:
		a.k, a.kind = uint64(uint32(in.Imm))|uint64(uint32(nx.Imm))<<32, kScalar
		return nil
	case uapi.BPF_PSEUDO_FUNC:
		if !v.p.opts.FuncInfo {
			return verr(i, syscall.EINVAL, "missing btf func_info")
		}
		if nx.Imm != 0 {
			return verr(i, syscall.EINVAL, "BPF_LD_IMM64 uses reserved fields")
		}
		t := i + 1 + int(in.Imm)
		if t < 0 || t >= len(v.insns) {
			return verr(i, syscall.EINVAL, "invalid func address %d", in.Imm)
		}
		a.k, a.kind = uint64(funcTag)<<32|uint64(t), kFunc
		return nil
	case uapi.BPF_PSEUDO_MAP_FD, uapi.BPF_PSEUDO_MAP_IDX:
		if err := v.noLinker(i, in); err != nil {
			return err
		}
		if nx.Imm != 0 {
			return verr(i, syscall.EINVAL, "unrecognized bpf_ld_imm64 insn")
		}
		obj, err := v.p.opts.Linker.Map(in.Src, in.Imm)
		if err != nil {
			return &VerifyError{Index: i, Reason: "fd " + itoa(int(in.Imm)) + " is not pointing to valid bpf_map: " + err.Error(), Errno: errnoOf(err, syscall.EBADF)}
		}
		a.k, a.kind = uint64(handleTag)<<32|uint64(len(v.p.objects)), kMapHandle
		v.p.objects = append(v.p.objects, obj)
		return nil
	case uapi.BPF_PSEUDO_MAP_VALUE, uapi.BPF_PSEUDO_MAP_IDX_VALUE:
		if err := v.noLinker(i, in); err != nil {
			return err
		}
		key := [2]int32{int32(in.Src), in.Imm}
		idx, ok := v.statics[key]
		if !ok {
			mem, ro, err := v.p.opts.Linker.MapValue(in.Src, in.Imm)
			if err != nil {
				return &VerifyError{Index: i, Reason: "fd " + itoa(int(in.Imm)) + " is not pointing to valid bpf_map: " + err.Error(), Errno: errnoOf(err, syscall.EBADF)}
			}
			if uint64(len(mem)) >= 1<<31 {
				return verr(i, syscall.E2BIG, "map value too large")
			}
			idx = len(v.p.static)
			v.p.static = append(v.p.static, region{mem: mem, ro: ro})
			v.statics[key] = idx
		}
		off := uint32(nx.Imm)
		if uint64(off) >= uint64(len(v.p.static[idx].mem)) {
			return verr(i, syscall.EINVAL, "invalid access to map value pointer, value_size=%d off=%d", len(v.p.static[idx].mem), off)
		}
		a.k, a.kind = addrOf(regStatic+idx, off), kMapValue
		return nil
	}
	return verr(i, syscall.EINVAL, "unrecognized bpf_ld_imm64 insn")
}

// noLinker fails a map reference when there are no maps, as the kernel
// does for an fd that names no map (EBADF) or an fd_array index without
// an fd_array (EPROTO).
func (v *verifier) noLinker(i int, in Instruction) error {
	if v.p.opts.Linker != nil {
		return nil
	}
	if in.Src == uapi.BPF_PSEUDO_MAP_IDX || in.Src == uapi.BPF_PSEUDO_MAP_IDX_VALUE {
		return verr(i, syscall.EPROTO, "fd_idx without fd_array is invalid")
	}
	return verr(i, syscall.EBADF, "fd %d is not pointing to valid bpf_map", in.Imm)
}

// jumpTarget reports whether instruction i transfers control within its
// subprogram and returns the target.
func (v *verifier) jumpTarget(i int) (int, bool) {
	in := v.insns[i]
	switch in.Op & 0x07 {
	case uapi.BPF_JMP:
		switch in.Op & 0xf0 {
		case uapi.BPF_CALL, uapi.BPF_EXIT:
			return 0, false
		}
		return i + 1 + int(in.Off), true
	case uapi.BPF_JMP32:
		if in.Op&0xf0 == uapi.BPF_JA {
			return i + 1 + int(in.Imm), true
		}
		return i + 1 + int(in.Off), true
	}
	return 0, false
}

// checkSubprogs is step 2.
func (v *verifier) checkSubprogs() error {
	n := len(v.insns)
	starts := map[int]bool{0: true}
	for i, in := range v.insns {
		if v.second[i] {
			continue
		}
		var t int
		switch {
		case in.Op == uapi.BPF_JMP|uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL:
			t = i + 1 + int(in.Imm)
			if t < 0 || t >= n {
				return verr(i, syscall.EINVAL, "function calls to other bpf functions: call to invalid destination")
			}
		case in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW && in.Src == uapi.BPF_PSEUDO_FUNC:
			t = int(v.aux[i].k & 0xffffffff)
		default:
			continue
		}
		if v.second[t] {
			return verr(i, syscall.EINVAL, "function calls to other bpf functions: call into the middle of ldimm64 insn %d", t)
		}
		starts[t] = true
	}
	if len(starts) > uapi.BPF_MAX_SUBPROGS {
		return verr(-1, syscall.E2BIG, "too many subprograms")
	}
	for s := 0; s < n; s++ {
		if starts[s] {
			v.subStart = append(v.subStart, s)
		}
	}
	v.subStart = append(v.subStart, n)
	for s := 0; s+1 < len(v.subStart); s++ {
		lo, hi := v.subStart[s], v.subStart[s+1]
		for i := lo; i < hi; i++ {
			v.subOf[i] = int32(s)
			if v.second[i] {
				continue
			}
			if t, ok := v.jumpTarget(i); ok {
				if t < lo || t >= hi {
					return verr(i, syscall.EINVAL, "jump out of range from insn %d to %d", i, t)
				}
				if v.second[t] {
					return verr(i, syscall.EINVAL, "jump into the middle of ldimm64 insn %d", t-1)
				}
			}
		}
		last := v.insns[hi-1]
		if v.second[hi-1] || (last.Op != uapi.BPF_JMP|uapi.BPF_EXIT && last.Op != uapi.BPF_JMP|uapi.BPF_JA && last.Op != uapi.BPF_JMP32|uapi.BPF_JA) {
			return verr(hi-1, syscall.EINVAL, "last insn is not an exit or jmp")
		}
	}
	nsub := len(v.subStart) - 1
	v.ret = make([]reg, nsub)
	v.retValid = make([]bool, nsub)
	v.calls = make([][]int, nsub)
	v.depth = make([]int32, nsub)
	v.callees = make([][]int, nsub)
	return nil
}

// successors returns the instructions control may reach from i within
// its subprogram (calls fall through; their callee is an extra edge).
func (v *verifier) successors(i int, buf []int) []int {
	in := v.insns[i]
	buf = buf[:0]
	switch {
	case in.Op == uapi.BPF_JMP|uapi.BPF_EXIT:
		return buf
	case in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW:
		return append(buf, i+2)
	case in.Op == uapi.BPF_JMP|uapi.BPF_JA || in.Op == uapi.BPF_JMP32|uapi.BPF_JA:
		t, _ := v.jumpTarget(i)
		return append(buf, t)
	}
	if t, ok := v.jumpTarget(i); ok {
		return append(buf, i+1, t)
	}
	return append(buf, i+1)
}

// checkCFG is step 3.
func (v *verifier) checkCFG() error {
	n := len(v.insns)
	seen := make([]bool, n)
	stack := []int{0}
	seen[0] = true
	var buf [2]int
	push := func(t int) {
		if !seen[t] {
			seen[t] = true
			stack = append(stack, t)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		in := v.insns[i]
		if in.Op == uapi.BPF_JMP|uapi.BPF_CALL && in.Src == uapi.BPF_PSEUDO_CALL {
			push(i + 1 + int(in.Imm))
		}
		if in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
			seen[i+1] = true
			if in.Src == uapi.BPF_PSEUDO_FUNC {
				push(int(v.aux[i].k & 0xffffffff))
			}
		}
		for _, t := range v.successors(i, buf[:]) {
			push(t)
		}
	}
	for i := range seen {
		if !seen[i] {
			return verr(i, syscall.EINVAL, "unreachable insn %d", i)
		}
	}
	return nil
}

// entryState is the state at the start of the main program.
func (v *verifier) entryState() vstate {
	var s vstate
	s.valid = true
	for i := range s.slots {
		s.slots[i] = kScalar
	}
	s.regs[uapi.BPF_REG_FP] = reg{k: kStack, known: true}
	if v.p.opts.Context == ContextMem {
		s.regs[1] = reg{k: kMem}
		s.regs[2] = reg{k: kScalar}
	} else {
		s.regs[1] = reg{k: kCtx}
	}
	return s
}

func (v *verifier) push(i int) {
	if !v.queued[i] {
		v.queued[i] = true
		v.work = append(v.work, i)
	}
}

// dataflow is step 4: iterate to a fixed point, then check each
// instruction against its final entry state.
func (v *verifier) dataflow() error {
	n := len(v.insns)
	v.states = make([]vstate, n)
	v.queued = make([]bool, n)
	e := v.entryState()
	merge(&v.states[0], &e)
	v.push(0)
	// Callback functions (PSEUDO_FUNC targets) start with a number in R1
	// (bpf_loop's index, bpf_for_each_map_elem's map) and memory pointers
	// in R2..R5 (the callback context, the key and the value), which the
	// run-time checks guard.
	for i, in := range v.insns {
		if in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW && in.Src == uapi.BPF_PSEUDO_FUNC && !v.second[i] {
			t := int(v.aux[i].k & 0xffffffff)
			cs := v.entryState()
			cs.regs[1] = reg{k: kScalar}
			for r := 2; r <= 5; r++ {
				cs.regs[r] = reg{k: kMem}
			}
			merge(&v.states[t], &cs)
			v.push(t)
		}
	}
	var buf [2]int
	var out [2]vstate
	for len(v.work) > 0 {
		i := v.work[len(v.work)-1]
		v.work = v.work[:len(v.work)-1]
		v.queued[i] = false
		s := v.states[i]
		if !s.valid {
			continue
		}
		succ := v.successors(i, buf[:])
		for k := range succ {
			out[k] = s
		}
		_ = v.step(i, &s, out[:len(succ)], false)
		for k, t := range succ {
			if t < n && merge(&v.states[t], &out[k]) {
				v.push(t)
			}
		}
	}
	for i := 0; i < n; i++ {
		if v.second[i] || !v.states[i].valid {
			continue
		}
		s := v.states[i]
		succ := v.successors(i, buf[:])
		for k := range succ {
			out[k] = s
		}
		if err := v.step(i, &s, out[:len(succ)], true); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) readReg(i int, s *vstate, r uint8, check bool) *VerifyError {
	if check && s.regs[r].k == kNone {
		return verr(i, syscall.EACCES, "R%d !read_ok", r)
	}
	return nil
}

func (v *verifier) writeReg(i int, r uint8, check bool) *VerifyError {
	if check && r == uapi.BPF_REG_FP {
		return verr(i, syscall.EACCES, "frame pointer is read only")
	}
	return nil
}

// setAll sets register r in every out state.
func setAll(out []vstate, r uint8, g reg) {
	for k := range out {
		out[k].regs[r] = g
	}
}

// step applies instruction i to the entry state s, writing successor
// states into out (one per successor, pre-filled with s). With check set
// it also reports violations and records what the compiler needs.
func (v *verifier) step(i int, s *vstate, out []vstate, check bool) error {
	v.cur = uint32(i)
	in := v.insns[i]
	cls := in.Op & 0x07
	condJump := (cls == uapi.BPF_JMP || cls == uapi.BPF_JMP32) && in.Op&0xf0 != uapi.BPF_JA &&
		in.Op&0xf0 != uapi.BPF_CALL && in.Op&0xf0 != uapi.BPF_EXIT && in.Op&0xf0 != uapi.BPF_JCOND
	if condJump && in.Dst < uapi.MAX_BPF_REG {
		// check_cond_jmp_op reads the destination before it looks at
		// the reserved fields.
		if err := v.readReg(i, s, in.Dst, check); err != nil {
			return err
		}
	}
	if err := v.checkInsn(i, in); err != nil {
		if check {
			return err
		}
		for k := range out {
			out[k].valid = false // the check pass will reject this path
		}
		return nil
	}
	switch cls {
	case uapi.BPF_ALU, uapi.BPF_ALU64:
		return v.stepALU(i, in, s, out, check)
	case uapi.BPF_LDX:
		if err := v.readReg(i, s, in.Src, check); err != nil {
			return err
		}
		if err := v.writeReg(i, in.Dst, check); err != nil {
			return err
		}
		size := sizeBytes(in.Op)
		res, err := v.memAccess(i, s, in.Src, int32(in.Off), size, false, false, check)
		if err != nil {
			return err
		}
		if in.Op&0xe0 == uapi.BPF_MEMSX && v.aux[i].isCtx && check {
			return verr(i, syscall.EACCES, "invalid bpf_context access off=%d size=%d", in.Off, size)
		}
		setAll(out, in.Dst, res)
		return nil
	case uapi.BPF_ST, uapi.BPF_STX:
		if err := v.readReg(i, s, in.Dst, check); err != nil {
			return err
		}
		size := sizeBytes(in.Op)
		if cls == uapi.BPF_STX {
			if err := v.readReg(i, s, in.Src, check); err != nil {
				return err
			}
		}
		if cls == uapi.BPF_STX && in.Op&0xe0 == uapi.BPF_ATOMIC {
			return v.stepAtomic(i, in, s, out, size, check)
		}
		val := reg{k: kScalar}
		if cls == uapi.BPF_STX {
			val = s.regs[in.Src]
		}
		if _, err := v.memAccess(i, s, in.Dst, int32(in.Off), size, true, false, check); err != nil {
			return err
		}
		v.spill(s, out, in.Dst, int32(in.Off), size, val)
		return nil
	case uapi.BPF_LD:
		if in.Op == uapi.BPF_LD|uapi.BPF_IMM|uapi.BPF_DW {
			if err := v.writeReg(i, in.Dst, check); err != nil {
				return err
			}
			r := reg{k: v.aux[i].kind}
			switch r.k {
			case kScalar:
				r.cst, r.val = true, v.aux[i].k
			case kMapValue:
				// Global data: which value, and where in it.
				r.known, r.off = true, int32(uint32(v.aux[i].k))
				r.id = uint32(v.aux[i].k>>32) - regionTag - regStatic + 1
			}
			setAll(out, in.Dst, r)
			return nil
		}
		if check {
			if v.p.opts.Context != ContextSkb {
				return verr(i, syscall.EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type")
			}
			if v.subOf[i] != 0 && !v.p.opts.FuncInfo {
				return verr(i, syscall.EINVAL, "LD_ABS is not allowed in subprogs without BTF")
			}
			if s.regs[6].k == kNone {
				return verr(i, syscall.EACCES, "R6 !read_ok")
			}
			if s.regs[6].k != kCtx {
				return verr(i, syscall.EINVAL, "at the time of BPF_LD_ABS|IND R6 != pointer to skb")
			}
		}
		if in.Op&0xe0 == uapi.BPF_IND {
			if err := v.readReg(i, s, in.Src, check); err != nil {
				return err
			}
		}
		setAll(out, 0, reg{k: kScalar})
		for r := uint8(1); r <= 5; r++ {
			setAll(out, r, reg{k: kNone})
		}
		return nil
	case uapi.BPF_JMP, uapi.BPF_JMP32:
		return v.stepJump(i, in, s, out, check)
	}
	return nil
}

// spill records a store into the stack slots it covers.
func (v *verifier) spill(s *vstate, out []vstate, base uint8, off int32, size uint32, val reg) {
	b := s.regs[base]
	if b.k != kStack {
		return
	}
	if !b.known {
		// Unknown offset: any slot may now hold a number.
		for k := range out {
			for j := range out[k].slots {
				out[k].slots[j] = kScalar
			}
		}
		return
	}
	at := b.off + off + frameSize
	if at < 0 || at+int32(size) > frameSize {
		return
	}
	k := kScalar
	if size == 8 && at%8 == 0 && val.k.isPtr() {
		k = val.k
	}
	for j := at / 8; j <= (at+int32(size)-1)/8; j++ {
		for o := range out {
			out[o].slots[j] = k
		}
	}
}

// memAccess checks a load or store of size bytes at base+off and returns
// the kind a load yields. It records context resolution and stack depth.
func (v *verifier) memAccess(i int, s *vstate, base uint8, off int32, size uint32, write, atomic bool, check bool) (reg, error) {
	b := s.regs[base]
	switch b.k {
	case kCtx:
		if v.p.opts.Context != ContextSkb {
			break
		}
		if atomic {
			if check {
				return reg{}, verr(i, syscall.EACCES, "BPF_ATOMIC stores into R%d ctx is not allowed", base)
			}
			return reg{k: kScalar}, nil
		}
		a, err := resolveSkb(i, off, size, write)
		if err != nil {
			if check {
				return reg{}, err
			}
			return reg{k: kScalar}, nil
		}
		if check {
			v.aux[i].ctx, v.aux[i].isCtx = a, true
		}
		if a.kind == kPkt {
			return reg{k: kPkt, known: true}, nil // data: offset 0, nothing proven yet
		}
		return reg{k: a.kind}, nil
	case kStack:
		if b.known {
			at := b.off + off
			if check && (at < -frameSize || at+int32(size) > 0) {
				return reg{}, verr(i, syscall.EACCES, "invalid stack access off=%d size=%d", at, size)
			}
			if check && -at > v.depth[v.subOf[i]] {
				v.depth[v.subOf[i]] = -at
			}
			rel := at + frameSize
			if !write && size == 8 && rel >= 0 && rel%8 == 0 && rel < frameSize {
				if k := s.slots[rel/8]; k.isPtr() {
					return reg{k: k}, nil
				}
			}
		}
		// An unknown offset may point into a caller's frame: it adds
		// nothing to this frame's depth (the run-time check bounds it).
		return reg{k: kScalar}, nil
	case kPkt, kPktMeta:
		if atomic && check {
			return reg{}, verr(i, syscall.EACCES, "BPF_ATOMIC stores into R%d pkt is not allowed", base)
		}
		if check && b.k == kPkt && b.known {
			// check_packet_access: the bytes must lie inside the range a
			// comparison with data_end proved on every path here.
			at := int64(b.off) + int64(off)
			if at < 0 || at+int64(size) > int64(b.rng) || at+int64(size) > uapi.MAX_PACKET_OFF {
				return reg{}, verr(i, syscall.EACCES, "invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)", off, size, base, b.id, b.off, b.rng)
			}
		}
		return reg{k: kScalar}, nil
	case kMapValue:
		if check && b.known && b.id > 0 {
			// check_map_access: inside the value, and no writes to a map
			// the program may only read.
			rg := v.p.static[b.id-1]
			at := int64(b.off) + int64(off)
			if at < 0 || at+int64(size) > int64(len(rg.mem)) {
				return reg{}, verr(i, syscall.EACCES, "invalid access to map value, value_size=%d off=%d size=%d", len(rg.mem), at, size)
			}
			if write && rg.ro {
				return reg{}, verr(i, syscall.EACCES, "write into map forbidden, value_size=%d off=%d size=%d", len(rg.mem), at, size)
			}
		}
		return reg{k: kScalar}, nil
	case kMem, kMapValueOrNull:
		return reg{k: kScalar}, nil
	case kNone:
		if check {
			return reg{}, verr(i, syscall.EACCES, "R%d !read_ok", base)
		}
		return reg{k: kScalar}, nil
	}
	if check {
		return reg{}, verr(i, syscall.EACCES, "R%d invalid mem access '%s'", base, b.k)
	}
	return reg{k: kScalar}, nil
}

func (v *verifier) stepAtomic(i int, in Instruction, s *vstate, out []vstate, size uint32, check bool) error {
	switch in.Imm {
	case uapi.BPF_LOAD_ACQ:
		if err := v.writeReg(i, in.Dst, check); err != nil {
			return err
		}
		res, err := v.memAccess(i, s, in.Src, int32(in.Off), size, false, true, check)
		if err != nil {
			return err
		}
		setAll(out, in.Dst, reg{k: res.k})
		return nil
	case uapi.BPF_STORE_REL:
		if _, err := v.memAccess(i, s, in.Dst, int32(in.Off), size, true, true, check); err != nil {
			return err
		}
		v.spill(s, out, in.Dst, int32(in.Off), size, s.regs[in.Src])
		return nil
	}
	if check && s.regs[in.Src].k.isPtr() {
		// The kernel refuses pointers as atomic operands for privileged
		// programs too ("R%d leaks addr into mem").
		return verr(i, syscall.EACCES, "R%d leaks addr into mem", in.Src)
	}
	if in.Imm == uapi.BPF_CMPXCHG {
		if err := v.readReg(i, s, 0, check); err != nil {
			return err
		}
	}
	if _, err := v.memAccess(i, s, in.Dst, int32(in.Off), size, true, true, check); err != nil {
		return err
	}
	v.spill(s, out, in.Dst, int32(in.Off), size, reg{k: kScalar})
	switch {
	case in.Imm == uapi.BPF_CMPXCHG:
		setAll(out, 0, reg{k: kScalar})
	case in.Imm&uapi.BPF_FETCH != 0:
		if err := v.writeReg(i, in.Src, check); err != nil {
			return err
		}
		setAll(out, in.Src, reg{k: kScalar})
	}
	return nil
}

func aluName(op uint8) string {
	names := [...]string{"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian"}
	if int(op>>4) < len(names) {
		return names[op>>4]
	}
	return "?"
}

func (v *verifier) stepALU(i int, in Instruction, s *vstate, out []vstate, check bool) error {
	op := in.Op & 0xf0
	x := in.Op&uapi.BPF_X != 0
	is64 := in.Op&0x07 == uapi.BPF_ALU64
	// Operands, in check_alu_op's order: source, then destination.
	src := reg{k: kScalar, cst: true, val: uint64(int64(in.Imm))}
	if x && op != uapi.BPF_END && op != uapi.BPF_NEG {
		if err := v.readReg(i, s, in.Src, check); err != nil {
			return err
		}
		src = s.regs[in.Src]
	}
	if op != uapi.BPF_MOV {
		if err := v.readReg(i, s, in.Dst, check); err != nil {
			return err
		}
	}
	if check && !x && v.prof == ProfileLinux {
		switch op {
		case uapi.BPF_DIV, uapi.BPF_MOD:
			if in.Imm == 0 {
				return verr(i, syscall.EINVAL, "div by zero")
			}
		case uapi.BPF_LSH, uapi.BPF_RSH, uapi.BPF_ARSH:
			width := int32(64)
			if !is64 {
				width = 32
			}
			if in.Imm < 0 || in.Imm >= width {
				return verr(i, syscall.EINVAL, "invalid shift %d", in.Imm)
			}
		}
	}
	if err := v.writeReg(i, in.Dst, check); err != nil {
		return err
	}
	dst := s.regs[in.Dst]
	// Constants fold exactly as the machine computes them, so the
	// verifier can follow only the branch a known value takes, as the
	// kernel does.
	constant := func(d uint64) reg {
		return reg{k: kScalar, cst: true, val: refALU(in, d, src.val)}
	}
	if op == uapi.BPF_MOV {
		res := reg{k: kScalar}
		switch {
		case !x:
			res = constant(0)
		case is64 && in.Off == 0:
			res = src
		case src.k == kScalar && src.cst:
			res = constant(0)
		}
		setAll(out, in.Dst, res)
		return nil
	}
	res := reg{k: kScalar}
	bad := func(format string, args ...any) error {
		if check {
			return verr(i, syscall.EACCES, format, args...)
		}
		return nil
	}
	switch {
	case op == uapi.BPF_NEG || op == uapi.BPF_END:
		// Pointer leaks are allowed to privileged loaders: a number.
		if dst.k == kScalar && dst.cst {
			res = constant(dst.val)
		}
	case dst.k == kScalar && src.k == kScalar:
		if dst.cst && src.cst {
			res = constant(dst.val)
		}
	case dst.k == kAny || src.k == kAny:
		if op == uapi.BPF_ADD || op == uapi.BPF_SUB {
			res = reg{k: kAny}
		}
	case dst.k.isPtr() && !is64:
		if op != uapi.BPF_SUB {
			if err := bad("R%d 32-bit pointer arithmetic prohibited", in.Dst); err != nil {
				return err
			}
			res = reg{k: kAny}
		}
	case dst.k.isPtr() && src.k.isPtr():
		if op != uapi.BPF_SUB {
			if err := bad("R%d pointer %s pointer prohibited", in.Dst, aluName(op)); err != nil {
				return err
			}
			res = reg{k: kAny}
		}
	case dst.k.isPtr():
		// adjust_ptr_min_max_vals's order: pointer type, then the
		// offset's sanity (EINVAL), then the operator.
		if res = v.ptrOffset(dst, src, x, op == uapi.BPF_SUB); res.k == kAny {
			if err := bad("R%d pointer arithmetic on %s prohibited", in.Dst, dst.k); err != nil {
				return err
			}
			break
		}
		if check && insane(src) {
			return verr(i, syscall.EINVAL, "math between %s pointer and %d is not allowed", dst.k, int64(src.val))
		}
		if op != uapi.BPF_ADD && op != uapi.BPF_SUB {
			if err := bad("R%d pointer arithmetic with %s operator prohibited", in.Dst, aluName(op)); err != nil {
				return err
			}
			res = reg{k: kAny}
		}
	case src.k.isPtr() && is64:
		if op == uapi.BPF_ADD && check && insane(dst) && v.ptrOffset(src, dst, true, false).k != kAny {
			return verr(i, syscall.EINVAL, "math between %s pointer and %d is not allowed", src.k, int64(dst.val))
		}
		if op == uapi.BPF_ADD {
			res = v.ptrOffset(src, dst, true, false)
			if res.k == kAny {
				if err := bad("R%d pointer arithmetic on %s prohibited", in.Src, src.k); err != nil {
					return err
				}
			}
		} else if op == uapi.BPF_SUB {
			if err := bad("R%d tried to subtract pointer from scalar", in.Dst); err != nil {
				return err
			}
			res = reg{k: kAny}
		}
	}
	setAll(out, in.Dst, res)
	return nil
}

// insane reports a known offset the kernel refuses to add to a pointer
// (check_reg_sane_offset: |off| >= BPF_MAX_VAR_OFF, 2^29).
func insane(off reg) bool {
	return off.k == kScalar && off.cst && (int64(off.val) >= 1<<29 || int64(off.val) <= -1<<29)
}

// ptrOffset is the kind of ptr after adding (or subtracting) the scalar
// off.
func (v *verifier) ptrOffset(ptr, off reg, x, sub bool) reg {
	switch ptr.k {
	case kCtx, kCtxMod:
		return reg{k: kCtxMod}
	case kStack:
		if ptr.known && off.k == kScalar && off.cst {
			d := int64(off.val)
			if !x {
				d = int64(int32(off.val))
			}
			if sub {
				d = -d
			}
			o := int64(ptr.off) + d
			if o >= -1<<20 && o <= 1<<20 {
				return reg{k: kStack, known: true, off: int32(o)}
			}
		}
		return reg{k: kStack}
	case kPkt:
		if !ptr.known {
			return reg{k: kPkt}
		}
		if off.k == kScalar && off.cst {
			d := int64(off.val)
			if !x {
				d = int64(int32(off.val))
			}
			if sub {
				d = -d
			}
			o := int64(ptr.off) + d
			if o >= -1<<20 && o <= 1<<20 {
				return reg{k: kPkt, known: true, id: ptr.id, off: int32(o), rng: ptr.rng}
			}
			return reg{k: kPkt}
		}
		// A variable offset starts a new base with nothing proven
		// (the kernel gives the pointer a fresh id).
		return reg{k: kPkt, known: true, id: v.cur + 1}
	case kMapValue:
		if ptr.known && off.k == kScalar && off.cst {
			d := int64(off.val)
			if !x {
				d = int64(int32(off.val))
			}
			if sub {
				d = -d
			}
			if o := int64(ptr.off) + d; o >= -1<<20 && o <= 1<<20 {
				return reg{k: kMapValue, known: true, id: ptr.id, off: int32(o)}
			}
		}
		return reg{k: kMapValue}
	case kPktEnd, kMapHandle, kMapValueOrNull, kFunc:
		return reg{k: kAny}
	}
	return reg{k: ptr.k}
}

func (v *verifier) stepJump(i int, in Instruction, s *vstate, out []vstate, check bool) error {
	op := in.Op & 0xf0
	switch {
	case op == uapi.BPF_JA || op == uapi.BPF_JCOND:
		return nil
	case op == uapi.BPF_EXIT:
		if err := v.readReg(i, s, 0, check); err != nil {
			return err
		}
		sub := v.subOf[i]
		if sub != 0 {
			r0 := s.regs[0]
			if r0.k == kStack {
				if check {
					return verr(i, syscall.EINVAL, "cannot return stack pointer to the caller")
				}
				r0 = reg{k: kAny}
			}
			if !v.retValid[sub] {
				v.retValid[sub], v.ret[sub] = true, r0
				v.requeueCalls(int(sub))
			} else if j := joinReg(v.ret[sub], r0); j != v.ret[sub] {
				v.ret[sub] = j
				v.requeueCalls(int(sub))
			}
		}
		return nil
	case op == uapi.BPF_CALL:
		return v.stepCall(i, in, s, out, check)
	}
	if err := v.readReg(i, s, in.Dst, check); err != nil {
		return err
	}
	if in.Op&uapi.BPF_X != 0 {
		if err := v.readReg(i, s, in.Src, check); err != nil {
			return err
		}
	}
	// A comparison of known constants has one outcome: follow only that
	// edge, as the kernel does, so code it never reaches is not checked.
	a := s.regs[in.Dst]
	b := reg{k: kScalar, cst: true, val: uint64(int64(in.Imm))}
	if in.Op&uapi.BPF_X != 0 {
		b = s.regs[in.Src]
	}
	if a.k == kScalar && a.cst && b.k == kScalar && b.cst && len(out) == 2 {
		if refCond(in.Op&0xf0, in.Op&0x07 == uapi.BPF_JMP32, a.val, b.val) {
			out[0].valid = false
		} else {
			out[1].valid = false
		}
		return nil
	}
	if in.Op&0x07 == uapi.BPF_JMP && in.Op&uapi.BPF_X != 0 && len(out) == 2 {
		v.pktRange(in, s, out)
	}
	// Null checks turn map_value_or_null into map_value on the non-null
	// edge, as mark_ptr_or_null_regs does.
	if in.Op&0x07 == uapi.BPF_JMP && in.Op&uapi.BPF_X == 0 && in.Imm == 0 && s.regs[in.Dst].k == kMapValueOrNull && len(out) == 2 {
		switch op {
		case uapi.BPF_JEQ:
			out[0].regs[in.Dst] = reg{k: kMapValue}
			out[1].regs[in.Dst] = reg{k: kScalar}
		case uapi.BPF_JNE:
			out[0].regs[in.Dst] = reg{k: kScalar}
			out[1].regs[in.Dst] = reg{k: kMapValue}
		}
	}
	return nil
}

// pktRange applies a comparison of a packet pointer with data_end
// (find_good_pkt_pointers): on the edge where the pointer is at most
// data_end, every packet pointer of the same base has its offset proven
// (one more byte when the comparison is strict).
func (v *verifier) pktRange(in Instruction, s *vstate, out []vstate) {
	a, b := s.regs[in.Dst], s.regs[in.Src]
	var p reg
	var edge, open int // which successor (0 fallthrough, 1 target); strict comparison
	switch {
	case a.k == kPkt && a.known && b.k == kPktEnd:
		p = a
		switch in.Op & 0xf0 {
		case uapi.BPF_JGT: // pkt > end: fallthrough has pkt <= end
			edge, open = 0, 0
		case uapi.BPF_JGE: // pkt >= end: fallthrough has pkt < end
			edge, open = 0, 1
		case uapi.BPF_JLT:
			edge, open = 1, 1
		case uapi.BPF_JLE:
			edge, open = 1, 0
		default:
			return
		}
	case b.k == kPkt && b.known && a.k == kPktEnd:
		p = b
		switch in.Op & 0xf0 {
		case uapi.BPF_JGT: // end > pkt: target has pkt < end
			edge, open = 1, 1
		case uapi.BPF_JGE:
			edge, open = 1, 0
		case uapi.BPF_JLT: // end < pkt: fallthrough has pkt <= end
			edge, open = 0, 0
		case uapi.BPF_JLE:
			edge, open = 0, 1
		default:
			return
		}
	default:
		return
	}
	if p.off < 0 || (p.off == 0 && open == 1) {
		return
	}
	r := p.off + int32(open)
	o := &out[edge]
	for k := range o.regs {
		if g := &o.regs[k]; g.k == kPkt && g.known && g.id == p.id && g.rng < r {
			g.rng = r
		}
	}
}

func (v *verifier) requeueCalls(sub int) {
	for _, c := range v.calls[sub] {
		if v.states[c].valid {
			v.push(c)
		}
	}
}

func (v *verifier) stepCall(i int, in Instruction, s *vstate, out []vstate, check bool) error {
	clobber := func(r0 reg) {
		setAll(out, 0, r0)
		for r := uint8(1); r <= 5; r++ {
			setAll(out, r, reg{k: kNone})
		}
	}
	switch {
	case in.Op&uapi.BPF_X != 0: // callx
		if err := v.readReg(i, s, in.Dst, check); err != nil {
			return err
		}
		clobber(reg{k: kScalar})
		return nil
	case in.Src == uapi.BPF_PSEUDO_CALL:
		t := i + 1 + int(in.Imm)
		sub := v.subOf[t]
		v.aux[i].sub = sub
		if !check {
			if !containsInt(v.calls[sub], i) {
				v.calls[sub] = append(v.calls[sub], i)
				caller := v.subOf[i]
				v.callees[caller] = append(v.callees[caller], int(sub))
			}
			cs := *s
			for r := range cs.regs {
				switch {
				case r == 0 || r > 5:
					cs.regs[r] = reg{k: kNone}
				case cs.regs[r].k == kStack:
					// A pointer into the caller's frame: its offset
					// means nothing relative to the callee's R10.
					cs.regs[r] = reg{k: kStack}
				}
			}
			cs.regs[uapi.BPF_REG_FP] = reg{k: kStack, known: true}
			for j := range cs.slots {
				cs.slots[j] = kScalar
			}
			if merge(&v.states[t], &cs) {
				v.push(t)
			}
		}
		if !v.retValid[sub] {
			// The callee has not returned yet: nothing flows past the call.
			for k := range out {
				out[k].valid = false
			}
			return nil
		}
		clobber(v.ret[sub])
		return nil
	}
	h, _ := v.p.opts.Helpers.Lookup(in.Imm) // checkInsn made sure it exists
	if check {
		v.aux[i].helper = h
	}
	for r := 1; r <= h.Args; r++ {
		if err := v.readReg(i, s, uint8(r), check); err != nil {
			return err
		}
	}
	r0 := reg{k: kScalar}
	if h.Ret == RetMapValueOrNull {
		r0 = reg{k: kMapValueOrNull}
	}
	clobber(r0)
	if h.ChangesPacket {
		for k := range out {
			for r := range out[k].regs {
				switch out[k].regs[r].k {
				case kPkt, kPktEnd, kPktMeta:
					out[k].regs[r] = reg{k: kScalar}
				}
			}
			for j, sk := range out[k].slots {
				switch sk {
				case kPkt, kPktEnd, kPktMeta:
					out[k].slots[j] = kScalar
				}
			}
		}
	}
	return nil
}

func containsInt(s []int, x int) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// checkCallGraph is step 5: call depth and combined stack size along
// every chain of calls (check_max_stack_depth), memoised per subprogram.
func (v *verifier) checkCallGraph() error {
	nsub := len(v.ret)
	state := make([]uint8, nsub) // 0 new, 1 on the DFS path, 2 done
	frames := make([]int, nsub)  // longest chain of frames from sub
	stack := make([]int32, nsub) // largest combined stack from sub
	var walk func(sub int) error
	walk = func(sub int) error {
		switch state[sub] {
		case 1:
			return verr(v.subStart[sub], syscall.E2BIG, "the call stack of %d frames is too deep (recursive call)", uapi.MAX_CALL_FRAMES+1)
		case 2:
			return nil
		}
		state[sub] = 1
		for _, c := range v.callees[sub] {
			if err := walk(c); err != nil {
				return err
			}
			frames[sub] = max(frames[sub], frames[c])
			stack[sub] = max(stack[sub], stack[c])
		}
		frames[sub]++
		stack[sub] += (v.depth[sub] + 15) &^ 15
		state[sub] = 2
		return nil
	}
	if err := walk(0); err != nil {
		return err
	}
	for s := range nsub {
		if state[s] == 0 {
			if err := walk(s); err != nil {
				return err
			}
		}
		if frames[s] > uapi.MAX_CALL_FRAMES {
			return verr(v.subStart[s], syscall.E2BIG, "the call stack of %d frames is too deep", frames[s])
		}
		if stack[s] > uapi.MAX_BPF_STACK {
			return verr(v.subStart[s], syscall.EACCES, "combined stack size of %d calls is %d. Too large", frames[s], stack[s])
		}
	}
	return nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [24]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
