package cbpf

import (
	"errors"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

func TestLoadInstructions(t *testing.T) {
	p, err := Load([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtProto},                        // ld [proto]
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x800, SkipTrue: 3}, // jne #0x800
		bpf.LoadMemShift{Off: 14},                                   // ldxb 4*([14]&0xf)
		bpf.LoadIndirect{Off: 16, Size: 2},                          // ldh [x + 16]
		bpf.RetA{},                                                  // ret a
		bpf.RetConstant{Val: 0},                                     // ret #0
	})
	require.NoError(t, err)
	assert.Equal(t, 6, p.Len())
	pkt := packet.New(64)
	require.NoError(t, pkt.SetFrame(tcpSYN(64, 443)))
	assert.Equal(t, uint32(443), p.Run(pkt))

	_, err = Load([]bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 3}, bpf.RetA{}})
	require.ErrorIs(t, err, syscall.EINVAL, "x/net/bpf cannot assemble a 3-byte load")

	_, err = Load(nil)
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ReasonLength, ce.Reason)
	assert.Equal(t, "cbpf: check: program length out of range: invalid argument", err.Error())
}

func TestInstructionsIsACopy(t *testing.T) {
	raw := []bpf.RawInstruction{stmt(ret|k, 7)}
	p, err := LoadRaw(raw)
	require.NoError(t, err)
	raw[0].K = 8 // the program copied its input
	got := p.Instructions()
	assert.Equal(t, []bpf.RawInstruction{stmt(ret|k, 7)}, got)
	got[0].K = 9
	assert.Equal(t, uint32(7), p.Instructions()[0].K)
	pkt := packet.New(64)
	require.NoError(t, pkt.SetFrame(syn300))
	assert.Equal(t, uint32(7), p.Run(pkt))
}

func TestCheckErrorMessage(t *testing.T) {
	err := Check([]bpf.RawInstruction{
		stmt(ld|h|abs, 12),           // ldh [12]
		jump(jmp|jeq|k, 0x800, 9, 0), // jeq #0x800 jt 11 jf 2
		stmt(ret|k, 0),               // ret #0
	})
	require.Error(t, err)
	assert.Equal(t, "cbpf: check: instruction 1 (code=0x15 jt=9 jf=0 k=0x800): jump target out of range: invalid argument", err.Error())
	assert.True(t, errors.Is(err, syscall.EINVAL))
	assert.Equal(t, "Reason(200)", Reason(200).String())
}

func TestRunEmptyPacket(t *testing.T) {
	// A packet with no buffer: every load fails, metadata reads work.
	assert.Equal(t, uint32(0), runEngines(t, everyExtension, nil))
	var pkt packet.Packet
	pkt.Mark = 5
	assert.Equal(t, uint32(0), runEngines(t, everyExtension, &pkt))
	assert.Equal(t, uint32(5), runEngines(t, []bpf.RawInstruction{
		stmt(ld|w|abs, anc(20)), // ld [mark]
		stmt(ret|a, 0),          // ret a
	}, &pkt))
}

// TestRunConcurrent runs one program from many goroutines (under -race in
// CI): a Program is safe for concurrent use.
func TestRunConcurrent(t *testing.T) {
	p, err := LoadRaw(portClassifier)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := packet.New(64)
			port := classifierPorts[g%len(classifierPorts)]
			require.NoError(t, pkt.SetFrame(tcpSYN(64, port)))
			for range 200 {
				assert.Equal(t, 0x10001+uint32(g%len(classifierPorts)), p.Run(pkt))
			}
		}()
	}
	wg.Wait()
}
