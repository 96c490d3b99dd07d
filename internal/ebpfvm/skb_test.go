package ebpfvm_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// skbFieldDone reports the __sk_buff offsets this VM implements: all of
// them (skb.go).
func skbFieldDone(off int) bool {
	return off >= 0 && off < uapi.SK_BUFF_CTX_SIZE
}

// ctxAccessProgram is a program doing one context access of the given
// kind at off: "ldx", "stx", "st" or "atomic". Loads are folded into R0;
// a prologue writes mark, priority and cb[] so loads see non-zero bytes.
func ctxAccessProgram(kind string, off int16, size uint8) []I {
	p := []I{
		mov64X(6, 1), // r6 = r1
		st(uapi.BPF_W, 6, uapi.SKB_OFF_MARK, 0x11223344),      // skb->mark = 0x11223344
		st(uapi.BPF_W, 6, uapi.SKB_OFF_PRIORITY, -0x543210ff), // skb->priority = 0xabcdef01
	}
	for i := range int16(5) {
		p = append(p, st(uapi.BPF_W, 6, uapi.SKB_OFF_CB+4*i, int32(0x01020304*int32(i+1)))) // skb->cb[i] = ...
	}
	p = append(p, mov64K(0, 0), mov64K(2, 0x7e)) // r0 = 0; r2 = 0x7e
	switch kind {
	case "ldx":
		p = append(p, ldx(size, 0, 6, off)) // r0 = *(size *)(skb + off)
	case "stx":
		p = append(p, stx(size, 6, 2, off)) // *(size *)(skb + off) = r2
	case "st":
		p = append(p, st(size, 6, off, 0x5d)) // *(size *)(skb + off) = 0x5d
	case "atomic":
		p = append(p, atomic(size, 6, 2, off, uapi.BPF_ADD)) // lock *(size *)(skb + off) += r2
	}
	return append(p, exit()) // exit
}

// TestSkbAccessLikeKernel tries every offset, size and access kind on the
// context: the VM must never accept what the kernel refuses, must accept
// what the kernel accepts on the fields it implements, and must read and
// write the same values.
func TestSkbAccessLikeKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	sizes := map[uint8]int16{uapi.BPF_B: 1, uapi.BPF_H: 2, uapi.BPF_W: 4, uapi.BPF_DW: 8}
	var compared int
	for _, kind := range []string{"ldx", "stx", "st", "atomic"} {
		for size, n := range sizes {
			for off := int16(-4); off < uapi.SK_BUFF_CTX_SIZE+4; off++ {
				prog := ctxAccessProgram(kind, off, size)
				name := fmt.Sprintf("%s/%d/%d", kind, n, off)
				vp, verr := ebpfvm.Load(prog, ebpfvm.Options{})
				kp, kerr := kerneltest.LoadSchedCLS(ebpfvm.Encode(prog))
				if kerr != nil {
					assert.Error(t, verr, "%s: the VM accepts what the kernel refuses (%v)", name, kerr)
					continue
				}
				if off >= 0 && skbFieldDone(int(off)) && skbFieldDone(int(off+n-1)) {
					if !assert.NoError(t, verr, "%s: the kernel accepts", name) {
						kp.Close()
						continue
					}
				}
				if verr != nil {
					kp.Close()
					continue
				}
				frame := frame64()
				kres, err := kp.Run(frame)
				require.NoError(t, err)
				kp.Close()
				pkt := testRunPacket(t, frame, nil)
				got, err := vp.Run(pkt)
				require.NoError(t, err, name)
				isPtr := off >= uapi.SKB_OFF_DATA && off < uapi.SKB_OFF_DATA_END+4 || off >= uapi.SKB_OFF_DATA_META && off < uapi.SKB_OFF_DATA_META+4 ||
					off >= uapi.SKB_OFF_SK && off < uapi.SKB_OFF_SK+8
				if !isPtr {
					assert.Equal(t, kres.Ret, uint32(got), "%s: r0", name)
				}
				assert.Equal(t, kres.Ctx[8:12], le32(pkt.Mark), "%s: mark", name)
				assert.Equal(t, kres.Ctx[32:36], le32(pkt.Priority), "%s: priority", name)
				for c := range 5 {
					assert.Equal(t, kres.Ctx[48+4*c:52+4*c], le32(pkt.CB[c]), "%s: cb[%d]", name, c)
				}
				compared++
			}
		}
	}
	t.Logf("%d accepted accesses compared with the kernel", compared)
	assert.Greater(t, compared, 100)
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
