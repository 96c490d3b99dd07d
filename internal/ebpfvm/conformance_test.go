package ebpfvm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/ebpfvm/asm"
)

// conformanceHelpers are the helpers the suite assumes: helper 5 returns
// its first argument (the uBPF plugin's "unwind" helper, which the tests
// only need to return).
func conformanceHelpers(tb testing.TB) *ebpfvm.Helpers {
	h, err := ebpfvm.NewHelpers(ebpfvm.Helper{
		ID: 5, Name: "unwind", Args: 1,
		Func: func(_ *ebpfvm.Machine, a *[5]uint64) (uint64, error) { return a[0], nil },
	})
	require.NoError(tb, err)
	return h
}

// loadConformance assembles and loads one parsed file.
func loadConformance(tb testing.TB, tf *asm.TestFile, engine ebpfvm.Engine) (*ebpfvm.Program, error) {
	var insns []ebpfvm.Instruction
	var err error
	switch {
	case tf.Unknown != "":
		return nil, asm.ErrNoProgram
	case tf.HasRaw:
		insns, err = asm.ParseRaw(tf.Raw)
	case tf.HasAsm && tf.Asm != "":
		insns, err = asm.Assemble(tf.Asm)
	default:
		return nil, asm.ErrNoProgram
	}
	if err != nil {
		return nil, err
	}
	if len(insns) == 0 {
		return nil, asm.ErrNoProgram
	}
	return ebpfvm.Load(insns, ebpfvm.Options{
		Context: ebpfvm.ContextMem,
		Profile: ebpfvm.ProfileRFC,
		Helpers: conformanceHelpers(tb),
		Engine:  engine,
	})
}

// engines are the VM's two engines; tests run every case on both.
var engines = []struct {
	name   string
	engine ebpfvm.Engine
}{{"compiled", ebpfvm.EngineCompiled}, {"reference", ebpfvm.EngineReference}}

func readConformance(t *testing.T, dir string) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "bpf_conformance", dir, "*.data"))
	require.NoError(t, err)
	return files
}

func TestConformance(t *testing.T) {
	files := readConformance(t, "tests")
	require.Len(t, files, 313, "the suite has 313 positive tests")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".data"), func(t *testing.T) {
			text, err := os.ReadFile(f)
			require.NoError(t, err)
			tf, err := asm.ParseData(string(text))
			require.NoError(t, err)
			require.True(t, tf.HasResult, "%s: no result", f)
			for _, e := range engines {
				prog, err := loadConformance(t, tf, e.engine)
				require.NoError(t, err, "%s: load", f)
				mem := append([]byte(nil), tf.Mem...)
				got, err := prog.RunMem(mem)
				require.NoError(t, err, "%s: %s: run", f, e.name)
				assert.Equal(t, tf.Result, got, "%s: %s: r0 = %#x, want %#x", f, e.name, got, tf.Result)
			}
		})
	}
}

func TestConformanceNegative(t *testing.T) {
	files := readConformance(t, "negative")
	require.Len(t, files, 60)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".data")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(f)
			require.NoError(t, err)
			tf, err := asm.ParseData(string(text))
			require.NoError(t, err)
			prog, err := loadConformance(t, tf, ebpfvm.EngineCompiled)
			switch {
			case name == "empty" || name == "empty_instructions" || name == "invalid_unknown_directive":
				require.ErrorIs(t, err, asm.ErrNoProgram)
			case name == "incorrect_return_value_high_bits":
				// The expected value is wrong in its high bits on purpose:
				// a full 64-bit comparison must fail.
				require.NoError(t, err)
				got, err := prog.RunMem(append([]byte(nil), tf.Mem...))
				require.NoError(t, err)
				assert.NotEqual(t, tf.Result, got)
				assert.Equal(t, uint64(0x8877665544332211), got)
			case strings.HasPrefix(name, "invalid_"):
				// Assembler rejections, with the upstream wording where
				// the file gives one.
				var ae *asm.Error
				require.ErrorAs(t, err, &ae)
				if tf.HasError && tf.Error != "" {
					assert.Contains(t, err.Error(), tf.Error)
				}
			case strings.HasPrefix(name, "unused-"), name == "error":
				// The VM must refuse the program at load.
				var ve *ebpfvm.VerifyError
				require.ErrorAs(t, err, &ve, "%s must be rejected", name)
				assert.True(t, errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EACCES), "errno of %v", err)
			default:
				t.Fatalf("unclassified negative test %s", name)
			}
		})
	}
}
