package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/ebpfvm/asm"
)

const suite = "../../internal/ebpfvm/testdata/bpf_conformance"

// base16 encodes bytes the way the upstream runner does: two hex digits and
// two spaces per byte.
func base16(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "%02x  ", c)
	}
	return s.String()
}

// buildPlugin compiles the plugin once per test binary.
func buildPlugin(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "bpfconformance")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return exe
}

// invoke runs the plugin as the runner does: memory as argv[1], plugin
// options as argv[2], program on stdin.
func invoke(exe string, code, mem []byte, options string) (stdout, stderr string, exit int, err error) {
	cmd := exec.Command(exe, base16(mem), options)
	cmd.Stdin = strings.NewReader(base16(code) + "\n")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode(), nil
	}
	return o.String(), e.String(), 0, err
}

func program(t *testing.T, tf *asm.TestFile) []byte {
	t.Helper()
	var insns []ebpfvm.Instruction
	var err error
	if tf.HasRaw {
		insns, err = asm.ParseRaw(tf.Raw)
	} else {
		insns, err = asm.Assemble(tf.Asm)
	}
	require.NoError(t, err)
	return ebpfvm.Encode(insns)
}

func TestPluginSuite(t *testing.T) {
	exe := buildPlugin(t)
	files, err := filepath.Glob(filepath.Join(suite, "tests", "*.data"))
	require.NoError(t, err)
	require.Len(t, files, 313)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".data"), func(t *testing.T) {
			text, err := os.ReadFile(f)
			require.NoError(t, err)
			tf, err := asm.ParseData(string(text))
			require.NoError(t, err)
			out, errOut, code, err := invoke(exe, program(t, tf), tf.Mem, "")
			require.NoError(t, err)
			require.Equal(t, 0, code, "stderr: %s", errOut)
			got, err := strconv.ParseUint(strings.TrimSpace(out), 16, 64)
			require.NoError(t, err, "stdout %q", out)
			assert.Equal(t, tf.Result, got)
		})
	}
	negs, err := filepath.Glob(filepath.Join(suite, "negative", "unused-*.data"))
	require.NoError(t, err)
	require.Len(t, negs, 45)
	for _, f := range append(negs, filepath.Join(suite, "negative", "error.data")) {
		t.Run("negative/"+strings.TrimSuffix(filepath.Base(f), ".data"), func(t *testing.T) {
			text, err := os.ReadFile(f)
			require.NoError(t, err)
			tf, err := asm.ParseData(string(text))
			require.NoError(t, err)
			out, errOut, code, err := invoke(exe, program(t, tf), tf.Mem, "")
			require.NoError(t, err)
			assert.NotEqual(t, 0, code, "must be rejected, printed %q", out)
			assert.NotEmpty(t, errOut)
		})
	}
}

func TestPluginOptions(t *testing.T) {
	sdiv := []byte{0xb7, 0x00, 0, 0, 7, 0, 0, 0, 0x37, 0x00, 1, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0} // r0 = 7; r0 s/= 2; exit
	div0 := []byte{0xb7, 0x00, 0, 0, 7, 0, 0, 0, 0x37, 0x00, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0} // r0 = 7; r0 /= 0; exit
	tests := []struct {
		name string
		args []string
		code []byte
		out  string
		exit int
	}{
		{name: "v4_default", code: sdiv, out: "3\n"},
		{name: "v3_refuses_sdiv", args: []string{"--cpu_version", "v3"}, code: sdiv, exit: 1},
		{name: "rfc_div_by_zero", code: div0, out: "0\n"},
		{name: "linux_rejects_div_by_zero", args: []string{"--profile", "linux"}, code: div0, exit: 1},
		{name: "elf_unsupported", args: []string{"--elf"}, code: sdiv, exit: 1},
		{name: "program_flag", args: []string{"--program", base16(sdiv)}, out: "3\n"},
		{name: "bad_option", args: []string{"--bogus"}, code: sdiv, exit: 1},
		{name: "bad_hex", code: nil, exit: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			stdin := base16(tc.code) + "\n"
			if tc.name == "bad_hex" {
				stdin = "zz\n"
			}
			code := run(append([]string{"", ""}, tc.args...), strings.NewReader(stdin), &o, &e)
			assert.Equal(t, tc.exit, code, "stderr %s", e.String())
			if tc.exit == 0 {
				assert.Equal(t, tc.out, o.String())
			} else {
				assert.NotEmpty(t, e.String())
			}
		})
	}
}
