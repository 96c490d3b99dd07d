package ciliumadapt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/cilium/ebpf/asm"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
)

// Instructions converts cilium/ebpf instructions to the VM's raw form.
// References to symbols inside insns (bpf-to-bpf calls, function
// pointers) are resolved; loads of map pointers keep whatever constant
// they carry (see MapReferences).
func Instructions(insns asm.Instructions) ([]ebpfvm.Instruction, error) {
	cp := make(asm.Instructions, len(insns))
	copy(cp, insns)
	var buf bytes.Buffer
	if err := cp.Marshal(&buf, binary.LittleEndian); err != nil {
		return nil, fmt.Errorf("ciliumadapt: marshal instructions: %v: %w", err, syscall.EINVAL)
	}
	return ebpfvm.Decode(buf.Bytes())
}

// MapReferences returns, by raw slot index, the map name each LD_IMM64 map
// load in insns refers to (cilium's Reference metadata), so a loader can
// link the maps an object declares.
func MapReferences(insns asm.Instructions) map[int]string {
	refs := map[int]string{}
	iter := insns.Iterate()
	for iter.Next() {
		if iter.Ins.IsLoadFromMap() && iter.Ins.Reference() != "" {
			refs[int(iter.Offset)] = iter.Ins.Reference()
		}
	}
	return refs
}
