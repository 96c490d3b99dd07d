package ebpfvm_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// frame64 is a 64-byte Ethernet/IPv4/TCP SYN to port 80 from 10.1.2.3.
func frame64() []byte {
	f := make([]byte, 64)
	copy(f[0:], []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	copy(f[14:], []byte{0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 1, 2, 3, 192, 168, 0, 1})
	copy(f[34:], []byte{0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0})
	return f
}

func newPacket(t testing.TB, frame []byte) *packet.Packet {
	var p packet.Packet
	require.NoError(t, p.SetFrame(frame))
	return &p
}

// fakeLinker serves one map handle (fd 3) and one value region (fd 4, read
// only when ro is set).
type fakeLinker struct {
	value []byte
	ro    bool
}

func (l *fakeLinker) Map(kind uint8, ref int32) (any, error) {
	if ref != 3 {
		return nil, syscall.EBADF
	}
	return "map3", nil
}

func (l *fakeLinker) MapValue(kind uint8, ref int32) ([]byte, bool, error) {
	if ref != 4 {
		return nil, false, syscall.EBADF
	}
	return l.value, l.ro, nil
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		prog    []I
		opts    ebpfvm.Options
		frame   []byte
		want    uint64
		wantErr error
		check   func(t *testing.T, p *packet.Packet)
	}{
		{
			name: "narrow_mark_bytes",
			prog: []I{
				st(uapi.BPF_W, 1, 8, 0x11223344), // skb->mark = 0x11223344
				ldx(uapi.BPF_H, 0, 1, 10),        // r0 = *(u16 *)(skb + 10)
				exit(),                           // exit
			},
			want: 0x1122,
		},
		{
			name: "cb_wide_access",
			prog: append(lddw(2, 0x0102030405060708),
				stx(uapi.BPF_DW, 1, 2, 56), // *(u64 *)(skb->cb + 8) = r2
				ldx(uapi.BPF_B, 0, 1, 59),  // r0 = *(u8 *)(skb->cb + 11)
				exit(),                     // exit
			),
			want: 0x05,
			check: func(t *testing.T, p *packet.Packet) {
				assert.Equal(t, [5]uint32{0, 0, 0x05060708, 0x01020304, 0}, p.CB)
			},
		},
		{
			name: "direct_packet_access",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 76),                              // r2 = skb->data
				ldx(uapi.BPF_W, 3, 1, 80),                              // r3 = skb->data_end
				mov64X(4, 2),                                           // r4 = r2
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 38),              // r4 += 38
				mov64K(0, 0),                                           // r0 = 0
				jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 3),              // if r4 > r3 goto out
				ldx(uapi.BPF_H, 0, 2, 36),                              // r0 = *(u16 *)(r2 + 36)
				aluK(uapi.BPF_ALU, uapi.BPF_END|uapi.BPF_TO_BE, 0, 16), // r0 = be16 r0
				st(uapi.BPF_B, 2, 0, 0xee),                             // *(u8 *)(r2 + 0) = 0xee
				exit(),                                                 // out: exit
			},
			want: 80,
			check: func(t *testing.T, p *packet.Packet) {
				assert.Equal(t, byte(0xee), p.Bytes()[0])
			},
		},
		{
			name: "packet_read_past_end_faults",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 76),   // r2 = skb->data
				stx(uapi.BPF_DW, 10, 2, -8), // *(u64 *)(r10 - 8) = r2
				ldx(uapi.BPF_DW, 2, 10, -8), // r2 = *(u64 *)(r10 - 8), its range forgotten
				ldx(uapi.BPF_W, 0, 2, 200),  // r0 = *(u32 *)(r2 + 200), past the end
				exit(),                      // exit
			},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "packet_read_before_meta_faults",
			prog: []I{
				ldx(uapi.BPF_W, 2, 1, 140), // r2 = skb->data_meta
				ldx(uapi.BPF_B, 0, 2, -1),  // r0 = *(u8 *)(r2 - 1)
				exit(),                     // exit
			},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "stack_pointer_walks_off",
			prog: []I{
				ldx(uapi.BPF_W, 3, 1, 0),                  // r3 = skb->len
				aluK(uapi.BPF_ALU64, uapi.BPF_LSH, 3, 20), // r3 <<= 20
				mov64X(2, 10),                             // r2 = r10
				aluX(uapi.BPF_ALU64, uapi.BPF_SUB, 2, 3),  // r2 -= r3
				st(uapi.BPF_DW, 2, 0, 1),                  // *(u64 *)(r2 + 0) = 1
				mov64K(0, 0),                              // r0 = 0
				exit(),                                    // exit
			},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "ld_abs_big_endian",
			prog: []I{
				mov64X(6, 1),          // r6 = r1
				ldAbs(uapi.BPF_H, 12), // r0 = *(u16 *)skb[12]
				exit(),                // exit
			},
			want: 0x0800,
		},
		{
			name: "ld_abs_out_of_range_returns_zero",
			prog: []I{
				mov64X(6, 1),          // r6 = r1
				mov64K(0, 7),          // r0 = 7
				ldAbs(uapi.BPF_W, 62), // r0 = *(u32 *)skb[62], 2 bytes short
				mov64K(0, 9),          // r0 = 9
				exit(),                // exit
			},
			want: 0,
		},
		{
			name: "ld_ind_network_offset",
			prog: []I{
				mov64X(6, 1),                             // r6 = r1
				mov64K(7, 4),                             // r7 = 4
				ldInd(uapi.BPF_W, 7, uapi.SKF_NET_OFF+8), // r0 = *(u32 *)net[r7 + 8]
				exit(),                                   // exit
			},
			want: 0x0a010203,
		},
		{
			name: "bpf_to_bpf_call_preserves_r6_r9",
			prog: []I{
				mov64K(6, 6),                             // r6 = 6
				mov64K(1, 30),                            // r1 = 30
				callLocal(2),                             // call sub
				aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 6), // r0 += r6
				exit(),                                   // exit
				mov64K(6, 1000),                          // sub: r6 = 1000
				st(uapi.BPF_DW, 10, -8, 1),               // *(u64 *)(r10 - 8) = 1
				mov64X(0, 1),                             // r0 = r1
				exit(),                                   // exit
			},
			want: 36,
		},
		{
			name: "may_goto_ends_a_loop",
			prog: []I{
				mov64K(0, 0), // r0 = 0
				{Op: uapi.BPF_JMP | uapi.BPF_JCOND, Off: 2}, // loop: may_goto out
				aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 1),    // r0 += 1
				ja(-3),                                      // goto loop
				exit(),                                      // out: exit
			},
			want: uapi.BPF_MAX_LOOPS,
		},
		{
			name: "map_value_read_write",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_VALUE, 4, 8),
				ldx(uapi.BPF_DW, 0, 2, 0), // r0 = *(u64 *)(r2 + 0)
				st(uapi.BPF_W, 2, -8, 77), // *(u32 *)(r2 - 8) = 77
				exit(),                    // exit
			),
			opts: ebpfvm.Options{Linker: &fakeLinker{value: []byte{0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}}},
			want: 9,
		},
		{
			name: "read_only_map_value_write_faults",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_VALUE, 4, 0),
				ldx(uapi.BPF_W, 3, 1, 0),                 // r3 = skb->len
				aluK(uapi.BPF_ALU64, uapi.BPF_AND, 3, 0), // r3 &= 0 (unknown to the verifier)
				aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 2, 3), // r2 += r3: the value pointer's offset is lost
				st(uapi.BPF_W, 2, 0, 77),                 // *(u32 *)(r2 + 0) = 77
				mov64K(0, 0),                             // r0 = 0
				exit(),                                   // exit
			),
			opts:    ebpfvm.Options{Linker: &fakeLinker{value: make([]byte, 8), ro: true}},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "map_value_past_end_faults",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_VALUE, 4, 0),
				ldx(uapi.BPF_W, 3, 1, 0),                 // r3 = skb->len
				aluK(uapi.BPF_ALU64, uapi.BPF_AND, 3, 0), // r3 &= 0 (unknown to the verifier)
				aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 2, 3), // r2 += r3: the value pointer's offset is lost
				ldx(uapi.BPF_DW, 0, 2, 4),                // r0 = *(u64 *)(r2 + 4)
				exit(),                                   // exit
			),
			opts:    ebpfvm.Options{Linker: &fakeLinker{value: make([]byte, 8)}},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "null_map_value_faults",
			prog: []I{
				mov64K(1, 0),              // r1 = 0
				mov64K(2, 0),              // r2 = 0 (the fake returns it)
				callHelper(1),             // call map_lookup_elem
				ldx(uapi.BPF_DW, 0, 0, 0), // r0 = *(u64 *)(r0 + 0), no null check
				exit(),                    // exit
			},
			opts:    ebpfvm.Options{Helpers: testHelpers(t)},
			wantErr: ebpfvm.ErrMemAccess,
		},
		{
			name: "map_handle_cannot_be_dereferenced",
			prog: append(lddwPseudo(2, uapi.BPF_PSEUDO_MAP_FD, 3, 0),
				mov64X(3, 2), // r3 = r2
				mov64K(0, 0), // r0 = 0
				exit(),       // exit
			),
			opts: ebpfvm.Options{Linker: &fakeLinker{}},
			want: 0,
		},
	}
	for _, tc := range tests {
		for _, e := range engines {
			t.Run(tc.name+"/"+e.name, func(t *testing.T) {
				opts := tc.opts
				opts.Engine = e.engine
				prog, err := ebpfvm.Load(tc.prog, opts)
				require.NoError(t, err)
				frame := tc.frame
				if frame == nil {
					frame = frame64()
				}
				p := newPacket(t, frame)
				got, err := prog.Run(p)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
					var re *ebpfvm.RunError
					require.ErrorAs(t, err, &re)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				if tc.check != nil {
					tc.check(t, p)
				}
			})
		}
	}
}

func TestRunLdAbsInSubprogram(t *testing.T) {
	prog := []I{
		callLocal(2), // call sub (r1 = ctx)
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 100), // r0 += 100
		exit(),                  // exit
		mov64X(6, 1),            // sub: r6 = r1
		mov64K(0, 5),            // r0 = 5
		ldAbs(uapi.BPF_B, 1000), // r0 = *(u8 *)skb[1000], fails
		exit(),                  // exit
	}
	_, err := ebpfvm.Load(prog, ebpfvm.Options{})
	require.ErrorIs(t, err, syscall.EINVAL, "LD_ABS in a subprogram needs BTF func info")
	p, err := ebpfvm.Load(prog, ebpfvm.Options{FuncInfo: true})
	require.NoError(t, err)
	got, err := p.Run(newPacket(t, frame64()))
	require.NoError(t, err)
	assert.Equal(t, uint64(100), got, "only the subprogram returns 0 (spec §2.10)")
}

func TestRunBudget(t *testing.T) {
	prog := []I{
		mov64K(0, 0), // r0 = 0
		jmpK(uapi.BPF_JMP, uapi.BPF_JEQ, 0, 0, -1), // loop: if r0 == 0 goto loop
		exit(), // exit
	}
	p, err := ebpfvm.Load(prog, ebpfvm.Options{Budget: 1000})
	require.NoError(t, err)
	_, err = p.Run(newPacket(t, frame64()))
	require.ErrorIs(t, err, ebpfvm.ErrBudget)
	assert.True(t, errors.Is(err, syscall.E2BIG))
	var re *ebpfvm.RunError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 1, re.PC)
}

func TestRunHelperError(t *testing.T) {
	boom := errors.New("boom")
	h, err := ebpfvm.NewHelpers(ebpfvm.Helper{ID: 7, Name: "fails", Func: func(*ebpfvm.Machine, *[5]uint64) (uint64, error) { return 0, boom }})
	require.NoError(t, err)
	p, err := ebpfvm.Load([]I{
		callHelper(7), // call fails
		exit(),        // exit
	}, ebpfvm.Options{Helpers: h})
	require.NoError(t, err)
	_, err = p.Run(newPacket(t, frame64()))
	require.ErrorIs(t, err, ebpfvm.ErrHelper)
	require.ErrorIs(t, err, boom)
}

func TestRunHelperMemAndObject(t *testing.T) {
	var gotObj any
	h, err := ebpfvm.NewHelpers(ebpfvm.Helper{ID: 2, Name: "map_update_elem", Args: 3, Func: func(m *ebpfvm.Machine, a *[5]uint64) (uint64, error) {
		gotObj, _ = m.Object(a[0])
		b, ok := m.Mem(a[1], 8, true)
		if !ok {
			return ^uint64(13) + 1, nil // -EACCES
		}
		b[0] = 0x5a
		if _, ok := m.Mem(a[2], 1, false); ok {
			return 1, nil
		}
		return 0, nil
	}})
	require.NoError(t, err)
	prog := append(lddwPseudo(1, uapi.BPF_PSEUDO_MAP_FD, 3, 0),
		st(uapi.BPF_DW, 10, -8, 0),                // *(u64 *)(r10 - 8) = 0
		mov64X(2, 10),                             // r2 = r10
		aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 2, -8), // r2 += -8
		mov64K(3, 0x1000),                         // r3 = 0x1000 (not memory)
		callHelper(2),                             // call map_update_elem
		ldx(uapi.BPF_B, 1, 10, -8),                // r1 = *(u8 *)(r10 - 8)
		aluK(uapi.BPF_ALU64, uapi.BPF_LSH, 1, 8),  // r1 <<= 8
		aluX(uapi.BPF_ALU64, uapi.BPF_OR, 0, 1),   // r0 |= r1
		exit(),                                    // exit
	)
	p, err := ebpfvm.Load(prog, ebpfvm.Options{Helpers: h, Linker: &fakeLinker{}})
	require.NoError(t, err)
	got, err := p.Run(newPacket(t, frame64()))
	require.NoError(t, err)
	assert.Equal(t, uint64(0x5a00), got)
	assert.Equal(t, "map3", gotObj)
}

func TestRunWrongContext(t *testing.T) {
	p, err := ebpfvm.Load([]I{mov64K(0, 1), exit()}, ebpfvm.Options{})
	require.NoError(t, err)
	_, err = p.RunMem(nil)
	require.ErrorIs(t, err, ebpfvm.ErrNoContext)
	_, err = p.Run(nil)
	require.ErrorIs(t, err, ebpfvm.ErrNoContext)
}

func TestRunAllocs(t *testing.T) {
	h := testHelpers(t)
	prog := []I{
		mov64X(6, 1),               // r6 = r1
		ldAbs(uapi.BPF_H, 12),      // r0 = *(u16 *)skb[12]
		stx(uapi.BPF_W, 6, 0, 8),   // skb->mark = r0
		callHelper(7),              // call get_prandom_u32
		mov64X(1, 0),               // r1 = r0
		callLocal(3),               // call sub
		st(uapi.BPF_DW, 10, -8, 1), // *(u64 *)(r10 - 8) = 1
		atomic(uapi.BPF_DW, 10, 0, -8, uapi.BPF_ADD|uapi.BPF_FETCH), // r0 = atomic_fetch_add(r10 - 8, r0)
		exit(),                                   // exit
		st(uapi.BPF_DW, 10, -16, 2),              // sub: *(u64 *)(r10 - 16) = 2
		ldx(uapi.BPF_DW, 0, 10, -16),             // r0 = *(u64 *)(r10 - 16)
		aluX(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 1), // r0 += r1
		exit(),                                   // exit
	}
	p, err := ebpfvm.Load(prog, ebpfvm.Options{Helpers: h})
	require.NoError(t, err)
	pkt := newPacket(t, frame64())
	m := p.NewMachine()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Run(pkt); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "Machine.Run")
	_, _ = p.Run(pkt) // warm the pool
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := p.Run(pkt); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "Program.Run")
}

// TestRunConcurrent shares one Program between goroutines, each with its
// own packets, through the pooled Program.Run.
func TestRunConcurrent(t *testing.T) {
	p, err := ebpfvm.Load(tcpPort80Direct(), ebpfvm.Options{})
	require.NoError(t, err)
	workers, runs := 8, 2000
	if testing.Short() {
		runs = 200
	}
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			frame := frame64()
			if w%2 == 1 {
				frame[37] = 81
			}
			want := goTCPPort80(frame)
			var pkt packet.Packet
			for range runs {
				if err := pkt.SetFrame(frame); err != nil {
					errs <- err
					return
				}
				got, err := p.Run(&pkt)
				if err != nil {
					errs <- err
					return
				}
				if got != want {
					errs <- fmt.Errorf("worker %d: got %d, want %d", w, got, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
}
