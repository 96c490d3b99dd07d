package ebpfvm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// fuseCases are programs built from the sequences the compiler fuses,
// with jumps into the middle of a sequence, backward fused jumps and
// failing loads, so that every fused form and every exit from it runs.
func fuseCases() map[string][]I {
	return map[string][]I{
		"load compare branch": {
			mov64K(0, 0),                                   // r0 = 0
			ldx(uapi.BPF_W, 2, 1, 76),                      // r2 = skb->data
			ldx(uapi.BPF_W, 3, 1, 80),                      // r3 = skb->data_end
			mov64X(4, 2),                                   // r4 = r2
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 24),      // r4 += 24
			jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 9),      // if r4 > r3 goto out
			ldx(uapi.BPF_H, 0, 2, 12),                      // r0 = *(u16 *)(r2 + 12)
			jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x0008, 7), // if r0 != htons(0x800) goto out
			ldx(uapi.BPF_B, 5, 2, 23),                      // r5 = *(u8 *)(r2 + 23)
			jmpK(uapi.BPF_JMP, uapi.BPF_JGT, 5, 5, 1),      // if r5 > 5 goto +1
			ja(4),                     // goto out
			ldx(uapi.BPF_W, 0, 2, 20), // r0 = *(u32 *)(r2 + 20)
			jmpK(uapi.BPF_JMP, uapi.BPF_JSET, 0, 0x1f, 2), // if r0 & 0x1f goto out
			mov64K(0, 1), // r0 = 1
			exit(),       // exit
			aluK(uapi.BPF_ALU, uapi.BPF_AND, 0, 0xff), // out: w0 &= 0xff
			exit(), // exit
		},
		"jump into a fused pair": {
			ldx(uapi.BPF_W, 2, 1, 76),                      // r2 = skb->data
			ldx(uapi.BPF_W, 3, 1, 80),                      // r3 = skb->data_end
			mov64X(4, 2),                                   // r4 = r2
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 14),      // r4 += 14
			jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 8),      // if r4 > r3 goto drop
			ldx(uapi.BPF_B, 0, 2, 0),                       // r0 = *(u8 *)(r2 + 0)
			jmpK(uapi.BPF_JMP, uapi.BPF_JLT, 0, 0x80, 1),   // if r0 < 0x80 goto +1
			ldx(uapi.BPF_H, 0, 2, 12),                      // r0 = *(u16 *)(r2 + 12)
			jmpK(uapi.BPF_JMP, uapi.BPF_JGE, 0, 0x0008, 2), // if r0 >= 8 goto match
			mov64K(0, 3),                                   // r0 = 3
			exit(),                                         // exit
			mov64K(0, 1),                                   // match: r0 = 1
			exit(),                                         // exit
			mov64K(0, 0),                                   // drop: r0 = 0
			exit(),                                         // exit
		},
		"legacy load compare branch": {
			mov64X(6, 1),          // r6 = r1
			ldAbs(uapi.BPF_H, 12), // r0 = ldh [12]
			jmpK(uapi.BPF_JMP, uapi.BPF_JNE, 0, 0x800, 5), // if r0 != 0x800 goto drop
			ldAbs(uapi.BPF_B, 23),                         // r0 = ldb [23]
			jmpK(uapi.BPF_JMP32, uapi.BPF_JEQ, 0, 6, 1),   // if w0 == 6 goto +1
			ja(2),                 // goto drop
			ldAbs(uapi.BPF_W, 36), // r0 = ld [36]
			jmpK(uapi.BPF_JMP32, uapi.BPF_JLE, 0, -2, 2), // if w0 <= 0xfffffffe goto drop
			mov64K(0, 1), // r0 = 1
			exit(),       // exit
			mov64K(0, 0), // drop: r0 = 0
			exit(),       // exit
		},
		"backward fused bounds check": {
			mov64K(3, 0),                               // r3 = 0
			mov64K(4, 10),                              // r4 = 10
			mov64K(0, 0),                               // r0 = 0
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 0, 3),   // loop: r0 += 3
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, -1),  // r4 += -1
			jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, -3), // if r4 > r3 goto loop
			exit(), // exit
		},
		"pointer plus offset": {
			ldx(uapi.BPF_W, 2, 1, 76),                 // r2 = skb->data
			ldx(uapi.BPF_W, 3, 1, 80),                 // r3 = skb->data_end
			mov64X(1, 2),                              // r1 = r2
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 1, 6),  // r1 += 6
			mov64X(4, 1),                              // r4 = r1
			aluK(uapi.BPF_ALU64, uapi.BPF_ADD, 4, 4),  // r4 += 4
			mov64K(0, 0),                              // r0 = 0
			jmpX(uapi.BPF_JMP, uapi.BPF_JGT, 4, 3, 1), // if r4 > r3 goto out
			ldx(uapi.BPF_W, 0, 1, 0),                  // r0 = *(u32 *)(r1 + 0)
			exit(),                                    // out: exit
		},
	}
}

// TestFusedLikeKernel runs the fused sequences on the compiled form, the
// reference interpreter and the kernel, on frames long and short enough
// to take every exit.
func TestFusedLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	arp := frame64()[:20]
	arp[12], arp[13] = 0x08, 0x06
	// The kernel runs IPv4 frames of at least an IP header only.
	frames := map[string][]byte{"64": frame64(), "40": frame64()[:40], "34": frame64()[:34], "arp20": arp, "arp14": arp[:14]}
	for name, prog := range fuseCases() {
		t.Run(name, func(t *testing.T) {
			kp, err := kerneltest.LoadSchedCLSLog(ebpfvm.Encode(prog))
			require.NoError(t, err)
			defer kp.Close()
			fast, err := ebpfvm.Load(prog, ebpfvm.Options{})
			require.NoError(t, err)
			ref, err := ebpfvm.Load(prog, ebpfvm.Options{Engine: ebpfvm.EngineReference})
			require.NoError(t, err)
			for fname, f := range frames {
				kres, err := kp.Run(f)
				require.NoError(t, err, fname)
				got, err := fast.Run(newPacket(t, f))
				require.NoError(t, err, fname)
				want, err := ref.Run(newPacket(t, f))
				require.NoError(t, err, fname)
				assert.Equal(t, kres.Ret, uint32(got), "frame %s", fname)
				assert.Equal(t, want, got, "frame %s", fname)
			}
		})
	}
}
