package ebpfvm_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// helper 1 of the fake registry: returns a map value pointer or NULL.
func testHelpers(t testing.TB) *ebpfvm.Helpers {
	h, err := ebpfvm.NewHelpers(
		ebpfvm.Helper{ID: 7, Name: "get_prandom_u32", Func: func(*ebpfvm.Machine, *[5]uint64) (uint64, error) { return 4, nil }},
		ebpfvm.Helper{ID: 1, Name: "map_lookup_elem", Args: 2, Ret: ebpfvm.RetMapValueOrNull, Func: func(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
			return a[1], nil // the test passes the value pointer as "key"
		}},
	)
	require.NoError(t, err)
	return h
}

type rejectCase struct {
	name  string
	prog  []I
	opts  ebpfvm.Options
	errno syscall.Errno
	index int
}

func rejectCases(t testing.TB) []rejectCase {
	return []rejectCase{
		{
			name:  "empty_program",
			prog:  []I{},
			errno: syscall.E2BIG, index: -1,
		},
		{
			name: "unknown_opcode",
			prog: []I{
				{Op: 0xff},   // invalid
				mov64K(0, 0), // r0 = 0
				exit(),       // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "neg_with_register_source",
			prog: []I{
				mov64K(0, 0), // r0 = 0
				{Op: uapi.BPF_ALU64 | uapi.BPF_NEG | uapi.BPF_X, Dst: 0}, // invalid neg
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "register_out_of_range",
			prog: []I{
				{Op: uapi.BPF_ALU64 | uapi.BPF_MOV, Dst: 11}, // r11 = 0
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "reserved_offset_on_add",
			prog: []I{
				{Op: uapi.BPF_ALU64 | uapi.BPF_MOV, Dst: 0, Off: 1}, // r0 = 0 with off 1
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "div_by_constant_zero",
			prog: []I{
				mov64K(0, 1),                             // r0 = 1
				aluK(uapi.BPF_ALU64, uapi.BPF_DIV, 0, 0), // r0 /= 0
				exit(),                                   // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "shift_by_width",
			prog: []I{
				mov64K(0, 1),                            // r0 = 1
				aluK(uapi.BPF_ALU, uapi.BPF_LSH, 0, 32), // w0 <<= 32
				exit(),                                  // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "bad_endian_width",
			prog: []I{
				mov64K(0, 1),                           // r0 = 1
				aluK(uapi.BPF_ALU, uapi.BPF_END, 0, 8), // le8 r0
				exit(),                                 // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "lddw_last",
			prog: []I{
				mov64K(0, 1), // r0 = 1
				exit(),       // exit
				{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: 0}, // r0 = ? (no second slot)
			},
			errno: syscall.EINVAL, index: 2,
		},
		{
			name: "lddw_bad_second_slot",
			prog: []I{
				{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: 0}, // r0 = 0 ll
				{Op: 0x07}, // second slot with an opcode
				exit(),     // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "jump_out_of_range",
			prog: []I{
				mov64K(0, 0), // r0 = 0
				ja(5),        // goto +5
				exit(),       // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "jump_into_lddw",
			prog: append(append([]I{
				mov64K(0, 0), // r0 = 0
				jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 0, 0, 1), // if r0 == 0 goto +1 (middle of lddw)
			}, lddw(1, 7)...), // r1 = 7 ll
				exit()), // exit
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "fall_off_the_end",
			prog: []I{
				mov64K(0, 0), // r0 = 0
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "unreachable",
			prog: []I{
				mov64K(0, 0), // r0 = 0
				exit(),       // exit
				mov64K(0, 1), // r0 = 1 (unreachable)
				exit(),       // exit
			},
			errno: syscall.EINVAL, index: 2,
		},
		{
			name: "write_r10",
			prog: []I{
				mov64K(10, 0), // r10 = 0
				mov64K(0, 0),  // r0 = 0
				exit(),        // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "read_uninitialised",
			prog: []I{
				mov64X(0, 3), // r0 = r3
				exit(),       // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "exit_without_r0",
			prog: []I{
				exit(), // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "uninitialised_on_one_path",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 0),                  // r2 = skb->len
				jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 2, 0, 1), // if r2 == 0 goto +1
				mov64K(0, 1), // r0 = 1
				exit(),       // exit
			},
			errno: syscall.EACCES, index: 3,
		},
		{
			name: "deref_scalar",
			prog: []I{
				mov64K(2, 0x1000),        // r2 = 0x1000
				ldx(uapi.BPF_W, 0, 2, 0), // r0 = *(u32 *)(r2 + 0)
				exit(),                   // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "ctx_unknown_field",
			prog: []I{
				ldx(uapi.BPF_W, 0, 1, 88), // r0 = skb->family
				exit(),                    // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ctx_misaligned",
			prog: []I{
				ldx(uapi.BPF_H, 0, 1, 9), // r0 = *(u16 *)(skb + 9)
				exit(),                   // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ctx_wide_read_of_mark",
			prog: []I{
				ldx(uapi.BPF_DW, 0, 1, 8), // r0 = *(u64 *)(skb + 8)
				exit(),                    // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ctx_write_len",
			prog: []I{
				st(uapi.BPF_W, 1, 0, 5), // skb->len = 5
				mov64K(0, 0),            // r0 = 0
				exit(),                  // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ctx_narrow_data",
			prog: []I{
				ldx(uapi.BPF_H, 0, 1, 76), // r0 = *(u16 *)(skb + 76)
				exit(),                    // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ctx_modified_pointer",
			prog: []I{
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 1, 8), // r1 += 8
				ldx(uapi.BPF_W, 0, 1, 0),                 // r0 = *(u32 *)(r1 + 0)
				exit(),                                   // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "atomic_on_ctx",
			prog: []I{
				mov64K(2, 1), // r2 = 1
				atomic(uapi.BPF_W, 1, 2, 8, uapi.BPF_ADD), // lock *(u32 *)(skb + 8) += r2
				mov64K(0, 0), // r0 = 0
				exit(),       // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "stack_out_of_frame",
			prog: []I{
				st(uapi.BPF_DW, 10, -520, 0), // *(u64 *)(r10 - 520) = 0
				mov64K(0, 0),                 // r0 = 0
				exit(),                       // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "stack_above_frame",
			prog: []I{
				ldx(uapi.BPF_DW, 0, 10, -4), // r0 = *(u64 *)(r10 - 4)
				exit(),                      // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "pointer_multiply",
			prog: []I{
				mov64X(2, 10),                            // r2 = r10
				aluK(uapi.BPF_ALU64, uapi.BPF_MUL, 2, 2), // r2 *= 2
				mov64K(0, 0),                             // r0 = 0
				exit(),                                   // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "pointer_32bit_add",
			prog: []I{
				mov64X(2, 10),                          // r2 = r10
				aluK(uapi.BPF_ALU, uapi.BPF_ADD, 2, 2), // w2 += 2
				mov64K(0, 0),                           // r0 = 0
				exit(),                                 // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "unknown_helper",
			prog: []I{
				callHelper(9999), // call 9999
				exit(),           // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "helper_argument_unset",
			prog: []I{
				mov64K(1, 0),  // r1 = 0
				callHelper(1), // call map_lookup_elem (r2 unset)
				exit(),        // exit
			},
			opts:  ebpfvm.Options{Helpers: testHelpers(t)},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "r1_clobbered_by_call",
			prog: []I{
				callHelper(7),            // call get_prandom_u32
				ldx(uapi.BPF_W, 0, 1, 0), // r0 = *(u32 *)(r1 + 0)
				exit(),                   // exit
			},
			opts:  ebpfvm.Options{Helpers: testHelpers(t)},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "kfunc_call",
			prog: []I{
				{Op: uapi.BPF_JMP | uapi.BPF_CALL, Src: uapi.BPF_PSEUDO_KFUNC_CALL, Imm: 1}, // call kfunc#1
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "callx_under_linux_rules",
			prog: []I{
				mov64K(2, 7), // r2 = 7
				{Op: uapi.BPF_JMP | uapi.BPF_CALL | uapi.BPF_X, Dst: 2}, // callx r2
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name:  "map_without_linker",
			prog:  append(lddwPseudo(1, uapi.BPF_PSEUDO_MAP_FD, 3, 0), mov64K(0, 0), exit()),
			errno: syscall.EBADF, index: 0,
		},
		{
			name: "ld_abs_with_r6_unset",
			prog: []I{
				ldAbs(uapi.BPF_B, 0), // r0 = *(u8 *)skb[0]
				exit(),               // exit
			},
			errno: syscall.EACCES, index: 0,
		},
		{
			name: "ld_abs_with_scalar_r6",
			prog: []I{
				mov64K(6, 0),         // r6 = 0
				ldAbs(uapi.BPF_B, 0), // r0 = *(u8 *)skb[0]
				exit(),               // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name: "ld_abs_reserved_dst",
			prog: []I{
				mov64X(6, 1), // r6 = r1
				{Op: uapi.BPF_LD | uapi.BPF_ABS | uapi.BPF_B, Dst: 1}, // ld_abs with dst r1
				exit(), // exit
			},
			errno: syscall.EINVAL, index: 1,
		},
		{
			name:  "too_long_for_unprivileged",
			prog:  append(make([]I, 4096), exit()),
			opts:  ebpfvm.Options{MaxInsns: 4096},
			errno: syscall.E2BIG, index: -1,
		},
		{
			name: "call_into_nowhere",
			prog: []I{
				callLocal(10), // call pc+10
				exit(),        // exit
			},
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "recursion",
			prog: []I{
				callLocal(-1), // call self
				exit(),        // exit
			},
			errno: syscall.E2BIG,
		},
		{
			name:  "call_depth_9",
			prog:  callChain(9),
			errno: syscall.E2BIG,
			index: 0,
		},
		{
			name: "combined_stack_too_large",
			prog: []I{
				st(uapi.BPF_DW, 10, -512, 0), // *(u64 *)(r10 - 512) = 0
				callLocal(1),                 // call sub
				exit(),                       // exit
				st(uapi.BPF_DW, 10, -8, 0),   // sub: *(u64 *)(r10 - 8) = 0
				mov64K(0, 0),                 // r0 = 0
				exit(),                       // exit
			},
			errno: syscall.EACCES,
		},
		{
			name: "function_pointer_without_btf",
			prog: append(append(lddwPseudo(2, uapi.BPF_PSEUDO_FUNC, 3, 0),
				ldx(uapi.BPF_B, 0, 2, 0), // r0 = *(u8 *)(r2 + 0)
				exit(),                   // exit
			), mov64K(0, 0), exit()),
			errno: syscall.EINVAL, index: 0,
		},
		{
			name: "deref_function_pointer",
			prog: append(append(lddwPseudo(2, uapi.BPF_PSEUDO_FUNC, 3, 0),
				ldx(uapi.BPF_B, 0, 2, 0), // r0 = *(u8 *)(r2 + 0)
				exit(),                   // exit
			), mov64K(0, 0), exit()),
			opts:  ebpfvm.Options{FuncInfo: true},
			errno: syscall.EACCES, index: 2,
		},
		{
			name: "ld_abs_in_subprogram_without_btf",
			prog: []I{
				callLocal(1),         // call sub
				exit(),               // exit
				mov64X(6, 1),         // sub: r6 = r1
				ldAbs(uapi.BPF_B, 0), // r0 = *(u8 *)skb[0]
				exit(),               // exit
			},
			errno: syscall.EINVAL, index: 3,
		},
		{
			name: "packet_access_unchecked",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 76), // r2 = skb->data
				ldx(uapi.BPF_B, 0, 2, 0),  // r0 = *(u8 *)(r2 + 0)
				exit(),                    // exit
			},
			errno: syscall.EACCES, index: 1,
		},
		{
			name: "packet_access_beyond_check",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 76),                 // r2 = skb->data
				ldx(uapi.BPF_W, 3, 1, 80),                 // r3 = skb->data_end
				mov64X(4, 2),                              // r4 = r2
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 14), // r4 += 14
				mov64K(0, 0),                              // r0 = 0
				jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 1), // if r4 > r3 goto out
				ldx(uapi.BPF_H, 0, 2, 13),                 // r0 = *(u16 *)(r2 + 13), one byte too far
				exit(),                                    // out: exit
			},
			errno: syscall.EACCES, index: 6,
		},
		{
			name: "packet_access_on_unchecked_edge",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 76),                 // r2 = skb->data
				ldx(uapi.BPF_W, 3, 1, 80),                 // r3 = skb->data_end
				mov64X(4, 2),                              // r4 = r2
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 14), // r4 += 14
				mov64K(0, 0),                              // r0 = 0
				jmpX(uapi.BPF_JMP, uapi.BPF_JLE, 4, 3, 1), // if r4 <= r3 goto out
				ldx(uapi.BPF_B, 0, 2, 0),                  // r0 = *(u8 *)(r2 + 0) on the short path
				exit(),                                    // out: exit
			},
			errno: syscall.EACCES, index: 6,
		},
		{
			name: "map_value_out_of_bounds",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_VALUE, 4, 8),
				ldx(uapi.BPF_DW, 0, 2, 4), // r0 = *(u64 *)(r2 + 4), bytes 12..19 of 16
				exit(),                    // exit
			),
			opts:  ebpfvm.Options{Linker: &fakeLinker{value: make([]byte, 16)}},
			errno: syscall.EACCES, index: 2,
		},
		{
			name: "read_only_map_value_store",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_VALUE, 4, 0),
				st(uapi.BPF_W, 2, 0, 1), // *(u32 *)(r2 + 0) = 1
				mov64K(0, 0),            // r0 = 0
				exit(),                  // exit
			),
			opts:  ebpfvm.Options{Linker: &fakeLinker{value: make([]byte, 16), ro: true}},
			errno: syscall.EACCES, index: 2,
		},
		{
			name: "jump_into_other_subprogram",
			prog: []I{
				mov64K(0, 0), // r0 = 0
				callLocal(1), // call +1
				ja(0),        // goto +0 into the subprogram
				mov64K(0, 1), // sub: r0 = 1
				exit(),       // exit
			},
			errno: syscall.EINVAL, index: 2,
		},
	}
}

func TestVerifyRejects(t *testing.T) {
	for _, tc := range rejectCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ebpfvm.Load(tc.prog, tc.opts)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.True(t, errors.Is(err, tc.errno), "errno of %v, want %v", err, tc.errno)
			var ve *ebpfvm.VerifyError
			require.ErrorAs(t, err, &ve)
			if tc.name != "recursion" && tc.name != "combined_stack_too_large" {
				assert.Equal(t, tc.index, ve.Index, "%v", err)
			}
			assert.NotEmpty(t, ve.Reason)
		})
	}
}

// TestVerifyRejectsLikeKernel loads the same programs into the kernel:
// it must refuse them too, with the same errno.
func TestVerifyRejectsLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	notForKernel := map[string]string{
		"empty_program":             "a zero-length bpf() load has no instructions to pass",
		"too_long_for_unprivileged": "the kernel limit for root is 1,000,000",
		"helper_argument_unset":     "uses the fake helper registry",
		"r1_clobbered_by_call":      "uses the fake helper registry",
		"map_without_linker":        "needs a map fd",
		"map_value_out_of_bounds":   "needs a map fd",
		"read_only_map_value_store": "needs a map fd",
		"deref_function_pointer":    "needs BTF func info, which a raw load does not carry",
	}
	for _, tc := range rejectCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := notForKernel[tc.name]; ok {
				t.Skip(why)
			}
			kp, err := kerneltest.LoadSchedCLS(ebpfvm.Encode(tc.prog))
			if err == nil {
				kp.Close()
				t.Fatalf("the kernel accepts %s", tc.name)
			}
			assert.True(t, errors.Is(err, tc.errno), "kernel: %v, want %v", err, tc.errno)
		})
	}
}

// callChain returns a program of n frames: main calls sub1, which calls
// sub2, ... each "r0 = 0" before its call; the innermost returns 0.
func callChain(n int) []I {
	var p []I
	for f := 0; f < n-1; f++ {
		p = append(p,
			callLocal(1), // call next
			exit(),       // exit
		)
	}
	return append(p,
		mov64K(0, 0), // innermost: r0 = 0
		exit(),       // exit
	)
}

func lddwPseudo(dst, src uint8, ref int32, hi int32) []I {
	return []I{{Op: uapi.BPF_LD | uapi.BPF_IMM | uapi.BPF_DW, Dst: dst, Src: src, Imm: ref}, {Imm: hi}}
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name string
		prog []I
		opts ebpfvm.Options
	}{
		{
			name: "spilled_ctx_reloaded",
			prog: []I{
				stx(uapi.BPF_DW, 10, 1, -8), // *(u64 *)(r10 - 8) = r1
				ldx(uapi.BPF_DW, 2, 10, -8), // r2 = *(u64 *)(r10 - 8)
				ldx(uapi.BPF_W, 0, 2, 8),    // r0 = skb->mark
				exit(),                      // exit
			},
		},
		{
			name: "stack_pointer_arithmetic",
			prog: []I{
				mov64X(2, 10), // r2 = r10
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 2, -16), // r2 += -16
				st(uapi.BPF_DW, 2, 8, 5),                   // *(u64 *)(r2 + 8) = 5
				ldx(uapi.BPF_DW, 0, 10, -8),                // r0 = *(u64 *)(r10 - 8)
				exit(),                                     // exit
			},
		},
		{
			name: "map_value_after_null_check",
			prog: []I{
				mov64X(1, 10), // r1 = r10
				mov64X(2, 10), // r2 = r10
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 2, -8), // r2 += -8
				st(uapi.BPF_DW, 2, 0, 9),                  // *(u64 *)(r2 + 0) = 9
				callHelper(1),                             // call map_lookup_elem
				jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 0, 0, 1), // if r0 == 0 goto +1
				ldx(uapi.BPF_DW, 0, 0, 0),                 // r0 = *(u64 *)(r0 + 0)
				exit(),                                    // exit
			},
			opts: ebpfvm.Options{Helpers: testHelpers(t)},
		},
		{
			name: "bounded_loop",
			prog: []I{
				mov64K(0, 0),                               // r0 = 0
				mov64K(2, 10),                              // r2 = 10
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 3),   // loop: r0 += 3
				aluK(uapi.BPF_ALU64, uapi.BPF_SUB, 2, 1),   // r2 -= 1
				jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 2, 0, -3), // if r2 != 0 goto loop
				exit(), // exit
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ebpfvm.Load(tc.prog, tc.opts)
			require.NoError(t, err)
		})
	}
}
