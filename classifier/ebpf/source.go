package ebpf

import (
	"bytes"
	"strings"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	trc "github.com/clsbpf/clsbpf/classifier/trace"
)

// sourceLines reads the BTF line information (.BTF.ext line_info) of an
// object's programs: for each program, by name, the C source line of each
// instruction slot, in the slot order loadObject gives the instructions.
// A line record covers its instruction and those after it up to the next
// record, as in the kernel's bpf_prog_linfo. Objects without line
// information, or that cilium's reader refuses (loadObject reports why),
// give nil.
func sourceLines(elf []byte) map[string][]trc.Source {
	var spec *cebpf.CollectionSpec
	func() {
		defer func() { _ = recover() }() // loadObject reports malformed objects
		spec, _ = cebpf.LoadCollectionSpecFromReader(bytes.NewReader(elf))
	}()
	if spec == nil {
		return nil
	}
	out := make(map[string][]trc.Source, len(spec.Programs))
	for name, ps := range spec.Programs {
		if lines := programLines(ps.Instructions); lines != nil {
			out[name] = lines
		}
	}
	return out
}

// programLines returns the source line of each slot of insns, or nil when
// no instruction carries one.
func programLines(insns asm.Instructions) []trc.Source {
	var out []trc.Source
	var cur trc.Source
	found := false
	iter := insns.Iterate()
	for iter.Next() {
		if li, ok := iter.Ins.Source().(*btf.Line); ok && li != nil {
			cur = trc.Source{File: li.FileName(), Line: int(li.LineNumber()), Text: strings.TrimSpace(li.Line())}
			found = true
		}
		for n := iter.Ins.Size() / asm.InstructionSize; n > 0; n-- {
			out = append(out, cur)
		}
	}
	if !found {
		return nil
	}
	return out
}

// linesOf returns the lines of program name if they cover its n slots.
func linesOf(lines map[string][]trc.Source, name string, n int) []trc.Source {
	if l := lines[name]; len(l) == n {
		return l
	}
	return nil
}
