package cbpf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/internal/cbpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestDisassembleTcpdump compares String with `tcpdump -d` (tcpdump 4.99.3,
// libpcap 1.10.3): testdata/tcpdump/NN.expr is the filter expression,
// NN.ddd what `tcpdump -ddd` printed for it and NN.d what `tcpdump -d`
// printed. The files were made once with tcpdump; the test needs none.
func TestDisassembleTcpdump(t *testing.T) {
	exprs, err := filepath.Glob("testdata/tcpdump/*.expr")
	require.NoError(t, err)
	require.NotEmpty(t, exprs)
	for _, e := range exprs {
		base := strings.TrimSuffix(e, ".expr")
		expr, err := os.ReadFile(e)
		require.NoError(t, err)
		t.Run(strings.TrimSpace(string(expr)), func(t *testing.T) {
			f, err := os.Open(base + ".ddd")
			require.NoError(t, err)
			defer f.Close()
			raw, err := ParseBytecodeFile(f)
			require.NoError(t, err)
			p, err := LoadRaw(raw)
			require.NoError(t, err)
			want, err := os.ReadFile(base + ".d")
			require.NoError(t, err)
			assert.Equal(t, string(want), p.String())
		})
	}
}

func TestDisassembleEveryOpcode(t *testing.T) {
	for _, code := range cbpfvm.Codes() {
		s := Disassemble([]bpf.RawInstruction{{Op: code, K: 1}})
		assert.NotContains(t, s, "unimp", "code %#x", code)
	}
	assert.Equal(t, "(000) unimp    0xe\n", Disassemble([]bpf.RawInstruction{{Op: 0x0e}}))
	assert.Equal(t, "(000) ld       [proto]\n(001) ldb      [vlanp]\n(002) ld       [-1048576]\n(003) ret      #-1\n(004) ret      \n",
		Disassemble([]bpf.RawInstruction{
			stmt(ld|w|abs, anc(uapi.SKF_AD_PROTOCOL)),
			stmt(ld|b|abs, anc(uapi.SKF_AD_VLAN_TAG_PRESENT)),
			stmt(ld|w|abs, netOff),
			stmt(ret|k, 0xffffffff),
			stmt(ret|a, 0),
		}))
}
