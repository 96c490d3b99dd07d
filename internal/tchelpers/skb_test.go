package tchelpers_test

import (
	"encoding/binary"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/csum"
	"github.com/clsbpf/clsbpf/internal/tchelpers"
)

// natProgram rewrites the IPv4 source address of a TCP frame to newAddr
// (network order as loaded) the way tc NAT programs do: store_bytes for
// the address, l3_csum_replace for the IP checksum and l4_csum_replace
// with BPF_F_PSEUDO_HDR for the TCP checksum.
func natProgram(newAddr uint32) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),                       // r6 = ctx
		asm.Mov.Reg(asm.R1, asm.R6),                       // r1 = ctx
		asm.Mov.Imm(asm.R2, 26),                           // r2 = offset of saddr
		asm.Mov.Reg(asm.R3, asm.RFP),                      // r3 = fp
		asm.Add.Imm(asm.R3, -4),                           // r3 = fp-4
		asm.Mov.Imm(asm.R4, 4),                            // r4 = 4
		asm.FnSkbLoadBytes.Call(),                         // old saddr -> fp-4
		asm.LoadMem(asm.R7, asm.RFP, -4, asm.Word),        // r7 = old saddr
		asm.Mov.Imm(asm.R8, int32(newAddr)),               // r8 = new saddr
		asm.StoreMem(asm.RFP, -8, asm.R8, asm.Word),       // fp-8 = new saddr
		asm.Mov.Reg(asm.R1, asm.R6),                       // r1 = ctx
		asm.Mov.Imm(asm.R2, 26),                           // r2 = offset of saddr
		asm.Mov.Reg(asm.R3, asm.RFP),                      // r3 = fp
		asm.Add.Imm(asm.R3, -8),                           // r3 = fp-8
		asm.Mov.Imm(asm.R4, 4),                            // r4 = 4
		asm.Mov.Imm(asm.R5, 0),                            // r5 = flags
		asm.FnSkbStoreBytes.Call(),                        // store new saddr
		asm.Mov.Reg(asm.R1, asm.R6),                       // r1 = ctx
		asm.Mov.Imm(asm.R2, 24),                           // r2 = IP checksum offset
		asm.Mov.Reg(asm.R3, asm.R7),                       // r3 = old
		asm.Mov.Reg(asm.R4, asm.R8),                       // r4 = new
		asm.Mov.Imm(asm.R5, 4),                            // r5 = size 4
		asm.FnL3CsumReplace.Call(),                        // fix the IP checksum
		asm.Mov.Reg(asm.R1, asm.R6),                       // r1 = ctx
		asm.Mov.Imm(asm.R2, 50),                           // r2 = TCP checksum offset
		asm.Mov.Reg(asm.R3, asm.R7),                       // r3 = old
		asm.Mov.Reg(asm.R4, asm.R8),                       // r4 = new
		asm.Mov.Imm(asm.R5, tchelpers.BPF_F_PSEUDO_HDR|4), // r5 = pseudo header, size 4
		asm.FnL4CsumReplace.Call(),                        // fix the TCP checksum
		asm.Mov.Imm(asm.R0, 0),                            // r0 = TC_ACT_OK
		asm.Return(),                                      // exit
	}
}

// tcpChecksum computes the TCP checksum of frame f from scratch.
func tcpChecksum(f []byte) uint16 {
	seg := append([]byte{}, f[34:]...)
	seg[16], seg[17] = 0, 0
	saddr, daddr := binary.LittleEndian.Uint32(f[26:]), binary.LittleEndian.Uint32(f[30:])
	return csum.TCPUDPMagic(saddr, daddr, uint32(len(seg)), 6, csum.Partial(seg, 0))
}

func TestNATRewrite(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f := tcpFrame(r)
	binary.LittleEndian.PutUint16(f[50:], tcpChecksum(f))
	p := load(t, newEnv(t, 1), nil, natProgram(0x0a0b0c0d))
	pk := testRunPacket(t, f)
	_, err := p.Run(pk)
	require.NoError(t, err)
	out := pk.Bytes()
	assert.Equal(t, []byte{0x0d, 0x0c, 0x0b, 0x0a}, out[26:30])
	assert.Zero(t, csum.IPFast(out[14:34], 5), "IP checksum verifies")
	assert.Equal(t, tcpChecksum(out), binary.LittleEndian.Uint16(out[50:]), "TCP checksum")
}

func BenchmarkNATRewrite(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	p := load(b, newEnv(b, 1), nil, natProgram(0x0a0b0c0d))
	m := p.NewMachine()
	pk := testRunPacket(b, tcpFrame(r))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Run(pk); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNATAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := load(t, newEnv(t, 1), nil, natProgram(0x0a0b0c0d))
	m := p.NewMachine()
	pk := testRunPacket(t, tcpFrame(r))
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, err := m.Run(pk); err != nil {
			panic(err)
		}
	}))
}

// callOn runs the helper fn with args (R1 the context) on pk and returns
// R0.
func callOn(t *testing.T, env *tchelpers.Env, pk *packet.Packet, fn asm.BuiltinFunc, args ...int64) int64 {
	t.Helper()
	insns := asm.Instructions{}
	regs := []asm.Register{asm.R2, asm.R3, asm.R4, asm.R5}
	for i, v := range args {
		insns = append(insns, asm.LoadImm(regs[i], v, asm.DWord)) // rN = arg
	}
	insns = append(insns, fn.Call(), asm.Return()) // r0 = helper(ctx, ...); exit
	p := load(t, env, nil, insns)
	r0, err := p.Run(pk)
	require.NoError(t, err)
	return int64(r0)
}

// The checksum states BPF_PROG_TEST_RUN cannot produce, from the kernel's
// rules (net/core/filter.c, include/linux/skbuff.h).
func TestChecksumStates(t *testing.T) {
	env := newEnv(t, 1)
	tests := []struct {
		name      string
		state     packet.ChecksumState
		level     uint8
		fn        asm.BuiltinFunc
		args      []int64
		want      int64
		wantState packet.ChecksumState
		wantLevel uint8
	}{
		{"query none", packet.ChecksumNone, 0, asm.FnCsumLevel, []int64{0}, -int64(syscall.EACCES), packet.ChecksumNone, 0},
		{"query unnecessary", packet.ChecksumUnnecessary, 2, asm.FnCsumLevel, []int64{0}, 2, packet.ChecksumUnnecessary, 2},
		{"inc none", packet.ChecksumNone, 0, asm.FnCsumLevel, []int64{1}, 0, packet.ChecksumUnnecessary, 0},
		{"inc saturates at 3", packet.ChecksumUnnecessary, 3, asm.FnCsumLevel, []int64{1}, 0, packet.ChecksumUnnecessary, 3},
		{"inc complete unchanged", packet.ChecksumComplete, 0, asm.FnCsumLevel, []int64{1}, 0, packet.ChecksumComplete, 0},
		{"dec level 0 to none", packet.ChecksumUnnecessary, 0, asm.FnCsumLevel, []int64{2}, 0, packet.ChecksumNone, 0},
		{"dec level 2", packet.ChecksumUnnecessary, 2, asm.FnCsumLevel, []int64{2}, 0, packet.ChecksumUnnecessary, 1},
		{"reset", packet.ChecksumUnnecessary, 2, asm.FnCsumLevel, []int64{3}, 0, packet.ChecksumNone, 0},
		{"bad level", packet.ChecksumUnnecessary, 2, asm.FnCsumLevel, []int64{4}, -int64(syscall.EINVAL), packet.ChecksumUnnecessary, 2},
		{"csum_update none", packet.ChecksumNone, 0, asm.FnCsumUpdate, []int64{5}, -524, packet.ChecksumNone, 0},
		{"csum_update complete", packet.ChecksumComplete, 0, asm.FnCsumUpdate, []int64{5}, 0x1005, packet.ChecksumComplete, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk := frame(64)
			pk.Checksum, pk.CsumLevel, pk.Csum = tt.state, tt.level, 0x1000
			got := callOn(t, env, pk, tt.fn, tt.args...)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantState, pk.Checksum)
			assert.Equal(t, tt.wantLevel, pk.CsumLevel)
		})
	}
}

// A CHECKSUM_COMPLETE packet keeps skb->csum equal to the sum of its bytes
// from the network header through store_bytes with RECOMPUTE_CSUM.
func TestStoreBytesRecomputeCsum(t *testing.T) {
	for _, off := range []int64{20, 21, 30, 41} {
		pk := frame(64)
		pk.Checksum = packet.ChecksumComplete
		pk.Csum = uint32(csum.Partial(pk.Bytes(), 0))
		p := load(t, newEnv(t, 1), nil, asm.Instructions{
			asm.Mov.Imm(asm.R7, 0x55667788),             // r7 = new bytes
			asm.StoreMem(asm.RFP, -8, asm.R7, asm.Word), // fp-8 = r7
			asm.Mov.Imm(asm.R2, int32(off)),             // r2 = offset
			asm.Mov.Reg(asm.R3, asm.RFP),                // r3 = fp
			asm.Add.Imm(asm.R3, -8),                     // r3 = fp-8
			asm.Mov.Imm(asm.R4, 3),                      // r4 = 3 bytes
			asm.Mov.Imm(asm.R5, 1|2),                    // r5 = RECOMPUTE_CSUM | INVALIDATE_HASH
			asm.FnSkbStoreBytes.Call(),                  // store
			asm.Return(),                                // exit
		})
		pk.Hash, pk.HashKind = 7, packet.HashL4
		r0, err := p.Run(pk)
		require.NoError(t, err)
		assert.Zero(t, r0)
		assert.Equal(t, csum.Fold(csum.Partial(pk.Bytes(), 0)), csum.Fold(csum.Wsum(pk.Csum)), "offset %d", off)
		assert.Zero(t, pk.Hash)
		assert.Zero(t, pk.HashKind)
	}
}

// The redirect helpers record per slot.
func TestRedirectRecords(t *testing.T) {
	tests := []struct {
		name string
		fn   asm.BuiltinFunc
		args []int64
		want int64
		rec  tchelpers.Redirect
	}{
		{"redirect egress", asm.FnRedirect, []int64{5, 0}, 7, tchelpers.Redirect{Kind: tchelpers.RedirectDevice, Ifindex: 5}},
		{"redirect ingress", asm.FnRedirect, []int64{6, 1}, 7, tchelpers.Redirect{Kind: tchelpers.RedirectDevice, Ifindex: 6, Ingress: true}},
		{"redirect bad flags", asm.FnRedirect, []int64{6, 2}, 2, tchelpers.Redirect{}},
		{"peer", asm.FnRedirectPeer, []int64{9, 0}, 7, tchelpers.Redirect{Kind: tchelpers.RedirectPeer, Ifindex: 9}},
		{"peer with flags", asm.FnRedirectPeer, []int64{9, 1}, 2, tchelpers.Redirect{}},
		{"neigh without params", asm.FnRedirectNeigh, []int64{4, 0, 0, 0}, 7, tchelpers.Redirect{Kind: tchelpers.RedirectNeigh, Ifindex: 4}},
		{"neigh short params", asm.FnRedirectNeigh, []int64{4, 0, 8, 0}, 2, tchelpers.Redirect{}},
		{"neigh with flags", asm.FnRedirectNeigh, []int64{4, 0, 0, 1}, 2, tchelpers.Redirect{}},
	}
	regs := []asm.Register{asm.R1, asm.R2, asm.R3, asm.R4}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, 2)
			var insns asm.Instructions
			for i, v := range tt.args {
				insns = append(insns, asm.LoadImm(regs[i], v, asm.DWord)) // rN = arg
			}
			insns = append(insns, tt.fn.Call(), asm.Return()) // r0 = helper(...); exit
			p := load(t, env, nil, insns)
			pk := frame(64)
			pk.Slot = 1
			r0, err := p.Run(pk)
			require.NoError(t, err)
			assert.Equal(t, tt.want, int64(r0))
			assert.Equal(t, tt.rec, env.Redirect(1))
			assert.Equal(t, tchelpers.Redirect{}, env.Redirect(0), "other slots untouched")
			env.ClearRedirect(1)
			assert.Equal(t, tchelpers.Redirect{}, env.Redirect(1))
		})
	}
}

func TestCloneRedirect(t *testing.T) {
	type sent struct {
		ifindex uint32
		ingress bool
		frame   []byte
	}
	var got []sent
	env, err := tchelpers.Registry(tchelpers.Options{CloneRedirect: func(pkt *packet.Packet, ifindex uint32, ingress bool) int64 {
		if ifindex != 4 {
			return -int64(syscall.EINVAL)
		}
		got = append(got, sent{ifindex, ingress, append([]byte{}, pkt.Bytes()...)})
		return 0
	}})
	require.NoError(t, err)
	tests := []struct {
		name    string
		ifindex int64
		flags   int64
		want    int64
		sent    bool
	}{
		{"egress", 4, 0, 0, true},
		{"ingress", 4, 1, 0, true},
		{"unknown device", 5, 0, -int64(syscall.EINVAL), false},
		{"bad flags", 4, 2, -int64(syscall.EINVAL), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			pk := frame(64)
			r0 := callOn(t, env, pk, asm.FnCloneRedirect, tt.ifindex, tt.flags)
			assert.Equal(t, tt.want, r0)
			if !tt.sent {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, uint32(tt.ifindex), got[0].ifindex)
			assert.Equal(t, tt.flags == 1, got[0].ingress)
			assert.Equal(t, pk.Bytes(), got[0].frame)
		})
	}
}
