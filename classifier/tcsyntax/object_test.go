package tcsyntax_test

import (
	"os"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

func TestObjectLines(t *testing.T) {
	obj, err := os.ReadFile("testdata/obj/cls.o")
	require.NoError(t, err)
	files := fstest.MapFS{
		"cls.o":     {Data: obj},
		"dir/cls.o": {Data: obj},
		"junk.o":    {Data: []byte("not an ELF object")},
	}
	tests := []struct {
		name  string
		line  string
		progs bool
		errno syscall.Errno
		msg   string
		fname string
	}{
		{"basename_of_path", `bpf da obj dir/cls.o sec classifier`, true, 0, "", "cls.o:[classifier]"},
		{"default_section", `bpf obj cls.o classid 1:1`, true, 0, "", "cls.o:[classifier]"},
		{"missing_file", `bpf da obj none.o`, true, syscall.ENOENT, `word 4 "none.o": Unable to load program: none.o: no such file`, ""},
		{"missing_section", `bpf da obj cls.o sec action`, true, syscall.ENOENT, "object file doesn't contain sec action", ""},
		{"not_elf", `bpf da obj junk.o`, true, syscall.EINVAL, `word 4 "junk.o": Unable to load program`, ""},
		{"invalid_fs_name", `bpf da obj /abs/cls.o`, true, syscall.EINVAL, "not a name in Objects.FS", ""},
		{"dotdot_fs_name", `bpf da obj ../cls.o`, true, syscall.EINVAL, "not a name in Objects.FS", ""},
		{"no_program_table", `bpf da obj cls.o`, false, syscall.EINVAL, "Objects.Programs is nil", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &tcsyntax.Objects{FS: files}
			if tt.progs {
				o.Programs = &ebpf.ProgramTable{}
			}
			f, err := tcsyntax.ParseFilter(tt.line, tcsyntax.Config{Objects: o})
			if tt.errno != 0 {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.errno)
				assert.Contains(t, err.Error(), tt.msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.fname, f.Name)
			assert.Equal(t, uint32(3), f.FD)
			require.NotNil(t, f.Collection)
			opts, err := f.Options()
			require.NoError(t, err)
			// f_bpf.c's order: the descriptor and the annotation first.
			want := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, 3)
			want = nlattr.AppendString(want, uapi.TCA_BPF_NAME, tt.fname)
			assert.Equal(t, want, opts[:len(want)])
			p, err := o.Programs.Program(f.FD, false)
			require.NoError(t, err)
			assert.Equal(t, "cls", p.(*ebpf.Program).Name())
			// The canonical form parses to the same program source.
			g, err := tcsyntax.ParseFilter(f.String(), tcsyntax.Config{})
			require.NoError(t, err)
			assert.Equal(t, f.File, g.File)
			assert.Equal(t, f.Section, g.Section)
		})
	}
}

// TestObjectPinning: two filters loaded from testdata/obj/pin.o with one
// PinNamespace share its PIN_GLOBAL_NS map, as tc's filters share
// /sys/fs/bpf/tc/globals/hits; without a namespace each has its own.
func TestObjectPinning(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(map[bool]string{true: "shared", false: "private"}[shared], func(t *testing.T) {
			progs := &ebpf.ProgramTable{}
			o := &tcsyntax.Objects{FS: os.DirFS("testdata/obj"), Programs: progs}
			if shared {
				o.Pins = ebpf.NewPinNamespace()
			}
			cfg := tcsyntax.Config{Objects: o}
			blk := classifier.NewBlock(classifier.BlockConfig{Config: classifier.Config{Programs: progs}, Parent: 0xFFFFFFF2})
			var fs []*tcsyntax.Filter
			for _, line := range []string{`pref 1 bpf da obj pin.o`, `pref 2 bpf da obj pin.o sec classifier`} {
				f, err := tcsyntax.ParseFilter(line, cfg)
				require.NoError(t, err)
				require.NoError(t, f.Apply(blk))
				fs = append(fs, f)
			}
			frame := make([]byte, 60)
			frame[12] = 0x08
			pkt := packet.New(len(frame))
			require.NoError(t, pkt.SetFrame(frame))
			res := blk.Classify(pkt)
			assert.False(t, res.Decided(), "both programs return TC_ACT_UNSPEC")

			var a, b uint64
			require.NoError(t, fs[0].Collection.Maps["hits"].Lookup(uint32(0), &a))
			require.NoError(t, fs[1].Collection.Maps["hits"].Lookup(uint32(0), &b))
			if shared {
				assert.Same(t, fs[0].Collection.Maps["hits"], fs[1].Collection.Maps["hits"])
				assert.Equal(t, []uint64{2, 2}, []uint64{a, b}, "both filters count in the pinned map")
				assert.Equal(t, []string{"globals/hits"}, o.Pins.Paths())
			} else {
				assert.NotSame(t, fs[0].Collection.Maps["hits"], fs[1].Collection.Maps["hits"])
				assert.Equal(t, []uint64{1, 1}, []uint64{a, b})
			}
		})
	}
}
