package cbpfvm

import "github.com/clsbpf/clsbpf/internal/uapi"

// The kernel never runs classic BPF as such: bpf_migrate_filter rewrites a
// checked program into eBPF (net/core/filter.c bpf_convert_filter) and that
// rewrite can still fail. Each classic instruction becomes a fixed number of
// eBPF instructions, and every jump must fit the signed 16-bit offset of an
// eBPF instruction. The conversion makes two passes over the program; in the
// first, the positions of forward targets are still zero, so the offset it
// checks is minus the jump's own position: any jump that lands at eBPF
// position 32768 or later is rejected even when its real distance is short.
// checkTranslation reproduces both checks from the instruction sizes.

// Sizes of the translated pieces.
const (
	s16Min = -1 << 15
	s16Max = 1<<15 - 1

	prologueLen      = 3 // A = 0, X = 0, CTX = ARG1
	prologueLoadsLen = 4 // cache skb->data and the linear length
	loadSlowLen      = 8 // helper call and its failure exit (ABS form)
)

// ldAbsLen is the size of convert_bpf_ld_abs for a packet load: the inline
// fast path for a non-negative constant offset plus the helper call.
func ldAbsLen(code uint16, k uint32) int {
	n := loadSlowLen
	if code&0xe0 == uapi.BPF_IND {
		if k != 0 {
			n++ // ARG4 += k
		}
		return n
	}
	if int32(k) >= 0 {
		n += 3 // TMP = H, JSLT, JA
		if k != 0 {
			n++ // TMP -= k
		}
		if k <= s16Max {
			n++ // LDX A = *(D + k)
		} else {
			n += 3 // TMP = D, TMP += k, LDX A = *TMP
		}
		if code&0x18 != uapi.BPF_B {
			n++ // byte swap
		}
	}
	return n
}

// ancLen is the size of convert_bpf_extensions for each extension.
var ancLen = [...]int{
	kAncProtocol:    2,
	kAncPktType:     2,
	kAncIfindex:     4,
	kAncHatype:      4,
	kAncMark:        1,
	kAncRxhash:      1,
	kAncQueue:       1,
	kAncVlanTag:     1,
	kAncVlanPresent: 3,
	kAncVlanTPID:    2,
	kAncPayOffset:   4,
	kAncNlattr:      4,
	kAncNlattrNest:  4,
	kAncCPU:         4,
	kAncRandom:      4,
	kAncXorX:        1,
}

// translatedLen returns how many eBPF instructions in replaces and whether
// it is a packet load (which adds the cached-data prologue).
func translatedLen(in Insn) (n int, load bool) {
	info, _ := lookup(in.Code)
	switch info.kind {
	case kLdAbsW, kLdAbsH, kLdAbsB:
		if a, ok := lookupAnc(in.K); ok {
			return ancLen[a.kind], false
		}
		return ldAbsLen(in.Code, in.K), true
	case kLdIndW, kLdIndH, kLdIndB:
		return ldAbsLen(in.Code, in.K), true
	case kLdxMsh:
		return 1 + ldAbsLen(ld|uapi.BPF_B|uapi.BPF_ABS, in.K) + 5, true
	case kDivX, kModX:
		return 5, false
	case kRetK:
		return 2, false
	case kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX:
		n = 0
		if in.Code&uapi.BPF_X == 0 && int32(in.K) < 0 {
			n++ // K moved into a register to stay unsigned
		}
		return n + condJumps(in), false
	}
	return 1, false
}

// condJumps is 1 when a conditional jump translates to one eBPF jump
// (false branch or, for JEQ/JGT/JGE, true branch falls through), else 2.
func condJumps(in Insn) int {
	if in.Jf == 0 {
		return 1
	}
	if in.Jt == 0 && in.Code&0xf0 != uapi.BPF_JSET {
		return 1
	}
	return 2
}

// checkTranslation mirrors the jump-offset failure of bpf_convert_filter.
func checkTranslation(prog []Insn) *Rejection {
	addrs := make([]int, len(prog)+1)
	pos, loads := 0, false
	for i, in := range prog {
		addrs[i] = pos
		n, load := translatedLen(in)
		pos += n
		loads = loads || load
	}
	pro := prologueLen
	if loads {
		pro += prologueLoadsLen
	}
	fits := func(off int) bool { return off >= s16Min && off <= s16Max }
	// jump checks one eBPF jump of instruction i at slot adj of its
	// translation, to classic target t, in both conversion passes.
	jump := func(i, adj, t int) bool {
		self := pro + addrs[i]
		return fits(-self-1-adj) && fits(addrs[t]-addrs[i]-1-adj)
	}
	for i, in := range prog {
		info, _ := lookup(in.Code)
		switch info.kind {
		case kJA:
			if !jump(i, 0, i+1+int(in.K)) {
				return &Rejection{i, ReasonTranslation}
			}
		case kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX:
			adj := 0
			if in.Code&uapi.BPF_X == 0 && int32(in.K) < 0 {
				adj = 1
			}
			t := i + 1 + int(in.Jt)
			if in.Jf != 0 && condJumps(in) == 1 {
				t = i + 1 + int(in.Jf) // inverted: the true branch falls through
			}
			if !jump(i, adj, t) {
				return &Rejection{i, ReasonTranslation}
			}
			if condJumps(in) == 2 && !jump(i, adj+1, i+1+int(in.Jf)) {
				return &Rejection{i, ReasonTranslation}
			}
		}
	}
	return nil
}
