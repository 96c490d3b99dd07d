package cbpf

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Checker rules (spec/bpf.md §1.3), each with a program the kernel accepts
// and one it rejects; TestKernelCheck runs the same table in the kernel.

// checkCase is one program and the checker's expected verdict.
type checkCase struct {
	name   string
	prog   []bpf.RawInstruction
	reason Reason // 0: accepted
	index  int    // the instruction named by the rejection
}

// repeat returns n copies of in.
func repeat(n int, in bpf.RawInstruction) []bpf.RawInstruction {
	p := make([]bpf.RawInstruction, n)
	for i := range p {
		p[i] = in
	}
	return p
}

// concat joins instruction slices.
func concat(parts ...[]bpf.RawInstruction) []bpf.RawInstruction {
	var p []bpf.RawInstruction
	for _, s := range parts {
		p = append(p, s...)
	}
	return p
}

var retOne = []bpf.RawInstruction{stmt(ret|k, 1)} // ret #1

var checkCases = []checkCase{
	{name: "empty", prog: nil, reason: ReasonLength, index: -1},
	{name: "4096_instructions", prog: repeat(uapi.BPF_MAXINSNS, stmt(ret|k, 0))},
	{name: "4097_instructions", prog: repeat(uapi.BPF_MAXINSNS+1, stmt(ret|k, 0)), reason: ReasonLength, index: -1},
	{name: "ret_x", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(ret|x, 0), // ret x: no such opcode
	}},
	{name: "ldx_abs", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(ldx|w|abs, 0), // ldx [0]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ldx_b_abs", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(ldx|b|abs, 0), // ldxb [0]
		stmt(ret|a, 0),     // ret a
	}},
	{name: "ld_h_imm", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(ld|h|imm, 0), // ldh #0: IMM has no size
		stmt(ret|a, 0),    // ret a
	}},
	{name: "ldx_h_msh", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(ldx|h|msh, 0), // ldxh 4*([0]&0xf)
		stmt(ret|a, 0),     // ret a
	}},
	{name: "unknown_opcodes", reason: ReasonOpcode, index: 1, prog: []bpf.RawInstruction{
		stmt(ld|imm, 0), // ld #0
		stmt(0x0f, 0),   // 0x0f
		stmt(ret|a, 0),  // ret a
	}},
	{name: "alu_b4", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(0xb4, 0),  // mov (eBPF only)
		stmt(ret|a, 0), // ret a
	}},
	{name: "alu_c4", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(0xc4, 0),  // arsh (eBPF only)
		stmt(ret|a, 0), // ret a
	}},
	{name: "jne_55", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		jump(0x55, 0, 0, 0), // jne (eBPF only)
		stmt(ret|a, 0),      // ret a
	}},
	{name: "opcode_above_0xff", reason: ReasonOpcode, prog: []bpf.RawInstruction{
		stmt(0x106, 0), // ret #0 with a high bit set
	}},
	{name: "div_k_zero", reason: ReasonDivByZero, prog: []bpf.RawInstruction{
		stmt(alu|div|k, 0), // div #0
		stmt(ret|a, 0),     // ret a
	}},
	{name: "mod_k_zero", reason: ReasonDivByZero, prog: []bpf.RawInstruction{
		stmt(alu|mod|k, 0), // mod #0
		stmt(ret|a, 0),     // ret a
	}},
	{name: "div_x_allowed", prog: []bpf.RawInstruction{
		stmt(alu|div|x, 0), // div x
		stmt(ret|a, 0),     // ret a
	}},
	{name: "lsh_k_31", prog: []bpf.RawInstruction{
		stmt(alu|lsh|k, 31), // lsh #31
		stmt(ret|a, 0),      // ret a
	}},
	{name: "lsh_k_32", reason: ReasonShift, prog: []bpf.RawInstruction{
		stmt(alu|lsh|k, 32), // lsh #32
		stmt(ret|a, 0),      // ret a
	}},
	{name: "rsh_k_all_ones", reason: ReasonShift, prog: []bpf.RawInstruction{
		stmt(alu|rsh|k, 0xffffffff), // rsh #0xffffffff
		stmt(ret|a, 0),              // ret a
	}},
	{name: "mem_15", prog: []bpf.RawInstruction{
		stmt(st, 15),     // st M[15]
		stmt(ld|mem, 15), // ld M[15]
		stmt(ret|a, 0),   // ret a
	}},
	{name: "st_16", reason: ReasonScratchIndex, prog: []bpf.RawInstruction{
		stmt(st, 16),   // st M[16]
		stmt(ret|a, 0), // ret a
	}},
	{name: "stx_huge", reason: ReasonScratchIndex, prog: []bpf.RawInstruction{
		stmt(stx, 0x80000000), // stx M[2147483648]
		stmt(ret|a, 0),        // ret a
	}},
	{name: "ld_mem_16", reason: ReasonScratchIndex, index: 1, prog: []bpf.RawInstruction{
		stmt(st, 0),      // st M[0]
		stmt(ld|mem, 16), // ld M[16]
		stmt(ret|a, 0),   // ret a
	}},
	{name: "ldx_mem_16", reason: ReasonScratchIndex, prog: []bpf.RawInstruction{
		stmt(ldx|mem, 16), // ldx M[16]
		stmt(ret|a, 0),    // ret a
	}},
	{name: "ja_zero", prog: []bpf.RawInstruction{
		stmt(jmp|ja, 0), // ja 1
		stmt(ret|a, 0),  // ret a
	}},
	{name: "ja_to_last", prog: []bpf.RawInstruction{
		stmt(jmp|ja, 1), // ja 2
		stmt(ret|k, 1),  // ret #1
		stmt(ret|a, 0),  // ret a
	}},
	{name: "ja_past_end", reason: ReasonJumpRange, prog: []bpf.RawInstruction{
		stmt(jmp|ja, 2), // ja 3
		stmt(ret|k, 1),  // ret #1
		stmt(ret|a, 0),  // ret a
	}},
	{name: "ja_all_ones", reason: ReasonJumpRange, prog: []bpf.RawInstruction{
		stmt(jmp|ja, 0xffffffff), // ja -1 (would loop)
		stmt(ret|a, 0),           // ret a
	}},
	{name: "jeq_targets_last", prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 1, 1), // jeq #0 jt 2 jf 2
		stmt(ret|k, 1),           // ret #1
		stmt(ret|a, 0),           // ret a
	}},
	{name: "jeq_jt_past_end", reason: ReasonJumpRange, prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 2, 0), // jeq #0 jt 3 jf 1
		stmt(ret|k, 1),           // ret #1
		stmt(ret|a, 0),           // ret a
	}},
	{name: "jset_x_jf_past_end", reason: ReasonJumpRange, prog: []bpf.RawInstruction{
		jump(jmp|jset|x, 0, 0, 255), // jset x jt 1 jf 256
		stmt(ret|a, 0),              // ret a
	}},
	{name: "jump_fields_ignored_elsewhere", prog: []bpf.RawInstruction{
		jump(ld|imm, 0, 200, 100), // ld #0 with jt and jf set
		jump(alu|neg, 7, 3, 3),    // neg with k, jt and jf set
		jump(misc|tax, 9, 1, 1),   // tax with k set
		jump(ret|a, 0, 255, 255),  // ret a with jt and jf set
	}},
	{name: "unaligned_loads", prog: []bpf.RawInstruction{
		stmt(ld|w|abs, 1), // ld [1]
		stmt(ld|h|abs, 3), // ldh [3]
		stmt(ret|a, 0),    // ret a
	}},
	{name: "ancillary_every_size", prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(uapi.SKF_AD_PROTOCOL)),  // ld #proto
		stmt(ld|h|abs, anc(uapi.SKF_AD_PROTOCOL)),  // ldh #proto
		stmt(ld|b|abs, anc(uapi.SKF_AD_VLAN_TPID)), // ldb #vlan_tpid
		stmt(ret|a, 0), // ret a
	}},
	{name: "ancillary_unknown_2", reason: ReasonAncillary, prog: []bpf.RawInstruction{
		stmt(ld|w|abs, anc(2)), // ld [SKF_AD_OFF+2]
		stmt(ret|a, 0),         // ret a
	}},
	{name: "ancillary_max", reason: ReasonAncillary, prog: []bpf.RawInstruction{
		stmt(ld|h|abs, anc(uapi.SKF_AD_MAX)), // ldh [SKF_AD_OFF+64]
		stmt(ret|a, 0),                       // ret a
	}},
	{name: "ancillary_all_ones", reason: ReasonAncillary, prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 0xffffffff), // ldb [-1]
		stmt(ret|a, 0),             // ret a
	}},
	{name: "below_ancillary_area", prog: []bpf.RawInstruction{
		stmt(ld|w|abs, adOff-1), // ld [SKF_AD_OFF-1]
		stmt(ld|w|abs, netOff),  // ld [SKF_NET_OFF]
		stmt(ld|w|abs, llOff-1), // ld [SKF_LL_OFF-1]
		stmt(ret|a, 0),          // ret a
	}},
	{name: "ind_in_ancillary_area", prog: []bpf.RawInstruction{
		stmt(ld|w|ind, adOff), // ld [x + SKF_AD_OFF]: not checked
		stmt(ret|a, 0),        // ret a
	}},
	{name: "largest_positive_offset", prog: []bpf.RawInstruction{
		stmt(ld|b|abs, 0x7fffffff), // ldb [2147483647]
		stmt(ret|a, 0),             // ret a
	}},
	{name: "last_not_ret", reason: ReasonNoReturn, index: 1, prog: []bpf.RawInstruction{
		stmt(ret|k, 0),  // ret #0
		stmt(ld|imm, 0), // ld #0
	}},
	{name: "first_rule_wins", reason: ReasonDivByZero, index: 1, prog: []bpf.RawInstruction{
		stmt(ld|mem, 3),    // ld M[3]: read before write, but checked last
		stmt(alu|div|k, 0), // div #0
		stmt(ld|imm, 0),    // ld #0: no final ret either
	}},
	{name: "scratch_read_before_write", reason: ReasonScratchUninit, prog: []bpf.RawInstruction{
		stmt(ld|mem, 0), // ld M[0]
		stmt(ret|a, 0),  // ret a
	}},
	{name: "scratch_written_other_word", reason: ReasonScratchUninit, index: 1, prog: []bpf.RawInstruction{
		stmt(st, 1),      // st M[1]
		stmt(ldx|mem, 0), // ldx M[0]
		stmt(ret|a, 0),   // ret a
	}},
	{name: "scratch_after_ret_fallthrough", prog: []bpf.RawInstruction{
		stmt(st, 0),     // st M[0]
		stmt(ret|k, 1),  // ret #1
		stmt(ld|mem, 0), // ld M[0]: unreachable, keeps the state before ret
		stmt(ret|a, 0),  // ret a
	}},
	{name: "scratch_after_ret_unwritten", reason: ReasonScratchUninit, index: 1, prog: []bpf.RawInstruction{
		stmt(ret|k, 1),  // ret #1
		stmt(ld|mem, 0), // ld M[0]
		stmt(ret|a, 0),  // ret a
	}},
	{name: "scratch_one_path", reason: ReasonScratchUninit, index: 3, prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 0, 1), // jeq #0 jt 1 jf 2
		stmt(st, 2),              // st M[2]
		stmt(ld|imm, 1),          // ld #1
		stmt(ld|mem, 2),          // ld M[2]: unwritten on the jf path
		stmt(ret|a, 0),           // ret a
	}},
	{name: "scratch_both_paths", prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 0, 2), // jeq #0 jt 1 jf 3
		stmt(st, 2),              // st M[2]
		stmt(jmp|ja, 1),          // ja 4
		stmt(stx, 2),             // stx M[2]
		stmt(ld|mem, 2),          // ld M[2]
		stmt(ret|a, 0),           // ret a
	}},
	{name: "scratch_jump_into_unwritten", reason: ReasonScratchUninit, index: 3, prog: []bpf.RawInstruction{
		jump(jmp|jeq|k, 0, 2, 1), // jeq #0 jt 3 jf 2
		stmt(st, 1),              // st M[1]
		stmt(ret|k, 1),           // ret #1
		stmt(ldx|mem, 1),         // ldx M[1]
		stmt(ret|a, 0),           // ret a
	}},
	{name: "scratch_before_jump_survives", prog: []bpf.RawInstruction{
		stmt(st, 5),              // st M[5]
		jump(jmp|jgt|k, 3, 1, 0), // jgt #3 jt 3 jf 2
		stmt(ld|imm, 2),          // ld #2
		stmt(ld|mem, 5),          // ld M[5]
		stmt(ret|a, 0),           // ret a
	}},
	{name: "translation_far_jump_short", reason: ReasonTranslation, index: 2200, prog: concat(
		repeat(2200, stmt(ld|b|abs, 40000)), // ldb [40000], 15 eBPF instructions each
		[]bpf.RawInstruction{
			jump(jmp|jeq|k, 0, 0, 1), // jeq #0 jt +1 jf +2, at eBPF position 33007
			stmt(ret|k, 1),           // ret #1
			stmt(ret|k, 0),           // ret #0
		})},
	{name: "translation_near_jump", prog: concat(
		repeat(2000, stmt(ld|b|abs, 40000)), // ldb [40000]
		[]bpf.RawInstruction{
			jump(jmp|jeq|k, 0, 0, 1), // jeq #0 jt +1 jf +2, at eBPF position 30007
			stmt(ret|k, 1),           // ret #1
			stmt(ret|k, 0),           // ret #0
		})},
	{name: "translation_long_jump", reason: ReasonTranslation, index: 0, prog: concat(
		[]bpf.RawInstruction{stmt(jmp|ja, 2300)}, // ja over 34500 eBPF instructions
		repeat(2300, stmt(ld|b|abs, 40000)),      // ldb [40000]
		retOne)},
	{name: "translation_late_jump", reason: ReasonTranslation, index: 4000, prog: concat(
		repeat(4000, stmt(ld|h|abs, 12)),      // ldh [12], 12 eBPF instructions each
		[]bpf.RawInstruction{stmt(jmp|ja, 0)}, // ja 4001, at eBPF position 48007
		retOne)},
	{name: "translation_late_ret_only", prog: concat(
		repeat(4000, stmt(ld|h|abs, 12)), // ldh [12]
		retOne)},
}

func TestCheck(t *testing.T) {
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.prog)
			if c.reason == 0 {
				require.NoError(t, err)
				_, err = LoadRaw(c.prog)
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, syscall.EINVAL)
			var ce *CheckError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, c.reason, ce.Reason, "reason: %v", err)
			assert.Equal(t, c.index, ce.Index, "index: %v", err)
			if ce.Index >= 0 {
				assert.Equal(t, c.prog[ce.Index], ce.Insn)
			}
			p, err := LoadRaw(c.prog)
			require.ErrorIs(t, err, syscall.EINVAL)
			require.Nil(t, p)
		})
	}
}
