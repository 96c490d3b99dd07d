package core

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// libbpfGolden is what libbpf (testdata/libbpfdump.c, run by golden.sh)
// made of each test program: object → program → one line per 8-byte
// instruction slot, "code dst src off imm".
type libbpfGolden map[string]map[string][]string

func readGolden(t *testing.T, path string) (header string, g libbpfGolden) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	g = libbpfGolden{}
	var obj, prog string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			header = line
		case strings.HasPrefix(line, "object "):
			obj = strings.TrimPrefix(line, "object ")
			g[obj] = map[string][]string{}
		case strings.HasPrefix(line, "prog "):
			prog = strings.Fields(line)[1]
			g[obj][prog] = []string{}
		default:
			g[obj][prog] = append(g[obj][prog], line)
		}
	}
	require.NoError(t, sc.Err())
	return header, g
}

// slots renders instructions as the golden files do.
func slots(t *testing.T, raw []byte) []string {
	t.Helper()
	le := binary.LittleEndian
	var out []string
	for i := 0; i+8 <= len(raw); i += 8 {
		out = append(out, fmt.Sprintf("%02x %x %x %d %d", raw[i], raw[i+1]&0xf, raw[i+1]>>4, int16(le.Uint16(raw[i+2:])), int32(le.Uint32(raw[i+4:]))))
	}
	return out
}

// checkGolden relocates every program of the golden file's objects with
// libbpf's rules against tg and requires libbpf's instructions.
func checkGolden(t *testing.T, path string, tg *Target) {
	header, golden := readGolden(t, path)
	t.Log(header)
	n := 0
	for obj, progs := range golden {
		cs := object(t, obj)
		require.Len(t, cs.Programs, len(progs), "programs of %s", obj)
		for name, want := range progs {
			t.Run(obj+"/"+name, func(t *testing.T) {
				out, err := relocate(t, cs, name, tg, nil)
				require.NoError(t, err)
				var buf bytes.Buffer
				require.NoError(t, out.Marshal(&buf, binary.LittleEndian))
				assert.Equal(t, want, slots(t, buf.Bytes()))
			})
			n++
		}
	}
	require.NotZero(t, n)
}

// TestLibbpfShipped compares the relocation against the shipped target
// with libbpf's own against the same BTF (bpf_object_open_opts
// .btf_custom_path), on every OS.
func TestLibbpfShipped(t *testing.T) {
	checkGolden(t, "testdata/libbpf-shipped.golden", shipped(t))
}
