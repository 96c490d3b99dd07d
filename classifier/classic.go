package classifier

import (
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/cbpf"
)

// loadClassic checks and loads a classic program from TCA_BPF_OPS, as
// bpf_prog_create does for cls_bpf_prog_from_ops.
func (c *Chain) loadClassic(insns []bpf.RawInstruction) (ClassicProgram, error) {
	return cbpf.LoadRaw(insns, c.cfg.Classic...)
}
