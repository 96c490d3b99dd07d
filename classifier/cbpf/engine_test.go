package cbpf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
)

// TestEngineChoice pins which engine Load picks: the closures for
// everything they can run, the fused switch executor for programs with
// scratch memory or a path longer than the closures' depth bound.
func TestEngineChoice(t *testing.T) {
	dst80, err := ParseBytecode(bytecodeTCPDst80)
	require.NoError(t, err)
	syn10, err := ParseBytecode(bytecodeSYNNet10)
	require.NoError(t, err)
	long := make([]bpf.RawInstruction, 0, 300)
	for range 299 {
		long = append(long, stmt(alu|add|k, 1)) // add #1
	}
	long = append(long, stmt(ret|a, 0)) // ret a
	tests := []struct {
		name string
		prog []bpf.RawInstruction
		want engine
	}{
		{"tcp_dst_port_80", dst80, engineCompiled},
		{"tcp_syn_net_10", syn10, engineCompiled},
		{"port_classifier_14", portClassifier, engineCompiled},
		{"every_extension", everyExtension, engineCompiled},
		{"ret_k", []bpf.RawInstruction{
			stmt(ret|k, 1), // ret #1
		}, engineCompiled},
		{"scratch_memory", []bpf.RawInstruction{
			stmt(ld|imm, 7), // ld #7
			stmt(st, 3),     // st M[3]
			stmt(ld|mem, 3), // ld M[3]
			stmt(ret|a, 0),  // ret a
		}, engineFused},
		{"path_of_300", long, engineFused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadRaw(tt.prog)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.engine)
			// Forcing the compiled engine falls back the same way.
			f, err := LoadRaw(tt.prog, withEngine(engineCompiled))
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.engine)
		})
	}
}
