package maps

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// The kernel-differential tests keep what the kernel answered in
// testdata/kernel_sys_ops.txt, so that machines without a kernel to ask
// (no Linux, no root) still check every syscall-side answer. Only a run
// with -update-golden against the kernel rewrites the file:
//
//	go test ./internal/maps -run TestKernelDifferential -update-golden
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/kernel_sys_ops.txt from the running kernel's answers")

const (
	goldenFile       = "testdata/kernel_sys_ops.txt"
	goldenCreateFile = "testdata/kernel_create.txt"
)

// goldenWriter records maps and operations with the kernel's answers.
type goldenWriter struct {
	lines []string
}

func bytesField(b []byte) string {
	switch {
	case b == nil:
		return "nil"
	case len(b) == 0:
		return "empty"
	}
	return hex.EncodeToString(b)
}

func parseBytes(s string) ([]byte, error) {
	switch s {
	case "nil":
		return nil, nil
	case "empty":
		return []byte{}, nil
	}
	return hex.DecodeString(s)
}

func (g *goldenWriter) newMap(name string, s Spec, slots int) {
	if g == nil {
		return
	}
	inner := 0
	if s.Inner != nil {
		inner = 1
	}
	g.lines = append(g.lines, fmt.Sprintf("map %s %d %d %d %d %d %d %d", name, s.Type, s.KeySize, s.ValueSize, s.MaxEntries, s.Flags, slots, inner))
}

// op records one operation: its kind, key, value (input) and flags, and
// the kernel's errno and output.
func (g *goldenWriter) op(kind string, key, value []byte, flags uint64, errno syscall.Errno, out []byte) {
	if g == nil {
		return
	}
	if errno != 0 {
		out = nil
	}
	g.lines = append(g.lines, fmt.Sprintf("op %s %s %s %d %d %s", kind, bytesField(key), bytesField(value), flags, uint32(errno), bytesField(out)))
}

func (g *goldenWriter) write(t *testing.T) {
	if g == nil {
		return
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(goldenFile), 0o755))
	head := "# Answers of the running kernel to generated BPF_MAP_* syscalls, written by\n" +
		"# go test ./internal/maps -run TestKernelDifferential -update-golden\n" +
		"# map NAME TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES FLAGS SLOTS INNER\n" +
		"# (INNER 1: a map-in-map of 4-byte single-entry arrays)\n" +
		"# op KIND KEY VALUE FLAGS ERRNO OUTPUT\n"
	require.NoError(t, os.WriteFile(goldenFile, []byte(head+strings.Join(g.lines, "\n")+"\n"), 0o644))
}

// sysOp runs one recorded operation on m and returns errno and output.
func sysOp(m Map, kind string, key, value []byte, flags uint64) (syscall.Errno, []byte) {
	switch kind {
	case "update":
		return m.SysUpdate(key, value, flags), nil
	case "lookup":
		out := make([]byte, m.SysValueSize())
		return m.SysLookup(key, out, flags), out
	case "delete":
		return m.SysDelete(key), nil
	case "nextkey":
		out := make([]byte, m.Info().Spec.KeySize)
		return m.SysNextKey(key, out), out
	case "lookupdelete":
		out := make([]byte, m.SysValueSize())
		return m.SysLookupAndDelete(key, out, flags), out
	}
	return syscall.Errno(^uintptr(0)), nil
}

// TestGoldenKernelAnswers replays the recorded operations on our maps and
// compares every answer with the kernel's.
func TestGoldenKernelAnswers(t *testing.T) {
	f, err := os.Open(goldenFile)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var m Map
	var name string
	line, ops := 0, 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "map":
			require.Len(t, fields, 9, "%s:%d", goldenFile, line)
			n := make([]uint64, 7)
			for i := range n {
				n[i], err = strconv.ParseUint(fields[2+i], 10, 32)
				require.NoError(t, err, "%s:%d", goldenFile, line)
			}
			name = fields[1]
			spec := &Spec{Type: Type(n[0]), KeySize: uint32(n[1]), ValueSize: uint32(n[2]), MaxEntries: uint32(n[3]), Flags: uint32(n[4])}
			if n[6] == 1 {
				spec.Inner = &Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
			}
			m, err = New(spec, Options{Slots: int(n[5])})
			require.NoError(t, err, "%s:%d", goldenFile, line)
		case "op":
			require.Len(t, fields, 7, "%s:%d", goldenFile, line)
			require.NotNil(t, m, "%s:%d: op before map", goldenFile, line)
			key, err1 := parseBytes(fields[2])
			value, err2 := parseBytes(fields[3])
			flags, err3 := strconv.ParseUint(fields[4], 10, 64)
			errno, err4 := strconv.ParseUint(fields[5], 10, 32)
			out, err5 := parseBytes(fields[6])
			for _, e := range []error{err1, err2, err3, err4, err5} {
				require.NoError(t, e, "%s:%d", goldenFile, line)
			}
			got, gotOut := sysOp(m, fields[1], key, value, flags)
			require.Equal(t, syscall.Errno(errno), got, "%s:%d (%s): %s errno", goldenFile, line, name, fields[1])
			if errno == 0 && out != nil {
				require.Equal(t, out, gotOut, "%s:%d (%s): %s output", goldenFile, line, name, fields[1])
			}
			ops++
		default:
			t.Fatalf("%s:%d: unknown line %q", goldenFile, line, fields[0])
		}
	}
	require.NoError(t, sc.Err())
	require.Greater(t, ops, 2000, "recorded operations")
}

// createGolden records BPF_MAP_CREATE verdicts: one line per attribute
// set with the kernel's errno. Inner map-in-map templates are the 4-byte
// array of TestKernelCreateChecks.
type createGolden struct{ lines []string }

func (g *createGolden) add(s Spec, errno syscall.Errno) {
	if g == nil {
		return
	}
	name := s.Name
	if name == "" {
		name = "-"
	}
	inner := 0
	if s.Inner != nil {
		inner = 1
	}
	g.lines = append(g.lines, fmt.Sprintf("create %d %d %d %d %d %d %s %d", s.Type, s.KeySize, s.ValueSize, s.MaxEntries, s.Flags, inner, name, uint32(errno)))
}

func (g *createGolden) write(t *testing.T) {
	if g == nil {
		return
	}
	head := "# Verdicts of the running kernel's BPF_MAP_CREATE, written by\n" +
		"# go test ./internal/maps -run TestKernelCreateChecks -update-golden\n" +
		"# create TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES FLAGS INNER NAME ERRNO\n"
	require.NoError(t, os.WriteFile(goldenCreateFile, []byte(head+strings.Join(g.lines, "\n")+"\n"), 0o644))
}

// TestGoldenCreateChecks replays the recorded creation verdicts.
func TestGoldenCreateChecks(t *testing.T) {
	data, err := os.ReadFile(goldenCreateFile)
	require.NoError(t, err)
	inner := &Spec{Type: BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	n := 0
	for i, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		require.Len(t, f, 9, "%s:%d", goldenCreateFile, i+1)
		v := make([]uint64, 6)
		for j := range v {
			v[j], err = strconv.ParseUint(f[1+j], 10, 32)
			require.NoError(t, err, "%s:%d", goldenCreateFile, i+1)
		}
		errno, err := strconv.ParseUint(f[8], 10, 32)
		require.NoError(t, err)
		s := Spec{Type: Type(v[0]), KeySize: uint32(v[1]), ValueSize: uint32(v[2]), MaxEntries: uint32(v[3]), Flags: uint32(v[4])}
		if v[5] == 1 {
			s.Inner = inner
		}
		if f[7] != "-" {
			s.Name = f[7]
		}
		_, err = New(&s, Options{Slots: 2})
		var got syscall.Errno
		if err != nil {
			require.ErrorAs(t, err, &got)
		}
		require.Equal(t, syscall.Errno(errno), got, "%s:%d: %+v: %v", goldenCreateFile, i+1, s, err)
		n++
	}
	require.Greater(t, n, 1000)
}
