package ebpfvm

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Instruction is one 8-byte eBPF instruction slot (struct bpf_insn). A
// 64-bit immediate load (LD_IMM64) takes two slots: the second one has Op,
// Dst, Src and Off zero and carries the upper 32 bits of the constant in
// Imm.
type Instruction struct {
	Op  uint8 // opcode: class | size/source | mode/operation
	Dst uint8 // destination register, 0..10 (the low nibble of the regs byte)
	Src uint8 // source register or pseudo kind, 0..10 (the high nibble)
	Off int16 // signed offset
	Imm int32 // signed immediate
}

// String returns the instruction's fields in hex, the way bpftool's raw
// dump shows them.
func (i Instruction) String() string {
	return fmt.Sprintf("op=%#02x dst=r%d src=r%d off=%d imm=%d", i.Op, i.Dst, i.Src, i.Off, i.Imm)
}

// Class returns BPF_CLASS(Op).
func (i Instruction) Class() uint8 { return i.Op & 0x07 }

// errDecodeLen is returned for input whose length is not a multiple of 8.
var errDecodeLen = fmt.Errorf("ebpfvm: decode: program length is not a multiple of %d bytes: %w", uapi.BPF_INSN_SIZE, syscall.EINVAL)

// Decode reads raw eBPF bytecode: little-endian 8-byte slots, the layout
// struct bpf_insn has on x86-64 and arm64 (dst in the low nibble of the
// second byte). It checks only the length; Load verifies the program.
func Decode(b []byte) ([]Instruction, error) {
	if len(b)%uapi.BPF_INSN_SIZE != 0 {
		return nil, errDecodeLen
	}
	out := make([]Instruction, len(b)/uapi.BPF_INSN_SIZE)
	for n := range out {
		s := b[n*8 : n*8+8]
		out[n] = Instruction{
			Op:  s[0],
			Dst: s[1] & 0x0f,
			Src: s[1] >> 4,
			Off: int16(binary.LittleEndian.Uint16(s[2:])),
			Imm: int32(binary.LittleEndian.Uint32(s[4:])),
		}
	}
	return out, nil
}

// Encode writes the instructions as raw little-endian bytecode, the inverse
// of Decode. Register numbers above 15 are truncated to their low nibble.
func Encode(insns []Instruction) []byte {
	out := make([]byte, len(insns)*uapi.BPF_INSN_SIZE)
	for n, in := range insns {
		s := out[n*8 : n*8+8]
		s[0] = in.Op
		s[1] = in.Dst&0x0f | in.Src<<4
		binary.LittleEndian.PutUint16(s[2:], uint16(in.Off))
		binary.LittleEndian.PutUint32(s[4:], uint32(in.Imm))
	}
	return out
}
