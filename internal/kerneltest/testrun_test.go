package kerneltest_test

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

func TestSchedCLSRun(t *testing.T) {
	kerneltest.RequireBPF(t)
	code := []byte{
		0x62, 0x01, 0x08, 0x00, 0x44, 0x33, 0x22, 0x11, // *(u32 *)(r1 + 8) = 0x11223344 (skb->mark)
		0x61, 0x12, 0x4c, 0x00, 0x00, 0x00, 0x00, 0x00, // r2 = *(u32 *)(r1 + 76) (skb->data)
		0x61, 0x13, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, // r3 = *(u32 *)(r1 + 80) (skb->data_end)
		0xbf, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // r4 = r2
		0x07, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // r4 += 1
		0xb7, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, // r0 = 7
		0x2d, 0x34, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // if r4 > r3 goto +1
		0x72, 0x02, 0x00, 0x00, 0xee, 0x00, 0x00, 0x00, // *(u8 *)(r2 + 0) = 0xee
		0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // exit
	}
	p, err := kerneltest.LoadSchedCLS(code)
	require.NoError(t, err)
	defer p.Close()
	frame := make([]byte, 60)
	res, err := p.Run(frame)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), res.Ret)
	assert.Equal(t, byte(0xee), res.Data[0])
	assert.Len(t, res.Data, 60)
	assert.Equal(t, uint32(0x11223344), binary.LittleEndian.Uint32(res.Ctx[8:]))
}

func TestLoadSchedCLSRejects(t *testing.T) {
	kerneltest.RequireBPF(t)
	_, err := kerneltest.LoadSchedCLS([]byte{0xbf, 0x30, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}) // r0 = r3; exit
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EACCES), "%v", err)
	_, err = kerneltest.LoadSchedCLSLog([]byte{0xbf, 0x30, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
	assert.ErrorContains(t, err, "R3 !read_ok")
	_, err = kerneltest.LoadSchedCLS([]byte{1, 2, 3})
	assert.True(t, errors.Is(err, syscall.EINVAL))
}
