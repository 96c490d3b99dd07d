package tcsyntax_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// idRE masks the program id, which the kernel and the library number
// independently, and the kernel's "jited" (the library has no JIT).
var idRE = regexp.MustCompile(`id \d+ `)

// TestKernelObjectLines loads testdata/obj/cls.o (built by
// testdata/obj/build.sh) with tc and with the package for each line, and
// compares whether both accept it and, when they do, `tc filter show`
// with Show: the TCA_BPF_NAME annotation, flags, name and tag.
func TestKernelObjectLines(t *testing.T) {
	kerneltest.RequireLinux(t)
	kerneltest.RequireRoot(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1")
	ns.MustRun(t, "ip", "link", "set", "t0", "up")
	ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
	lines := []struct {
		name, line string
		errno      syscall.Errno // our errno when both refuse
	}{
		{"da_sec", `ingress bpf da obj testdata/obj/cls.o sec classifier`, 0},
		{"default_section_classid", `ingress pref 5 bpf obj testdata/obj/cls.o classid 1:5`, 0},
		{"section_word", `ingress protocol ip pref 7 bpf da object-file testdata/obj/cls.o section classifier`, 0},
		{"chain_egress", `egress chain 3 pref 2 bpf da obj testdata/obj/cls.o sec classifier verbose`, 0},
		{"type_word_refused", `ingress bpf da obj testdata/obj/cls.o type cls sec classifier`, syscall.EINVAL},
		{"missing_section", `ingress bpf da obj testdata/obj/cls.o sec nosuch`, syscall.ENOENT},
		{"missing_file", `ingress bpf da obj testdata/obj/nosuch.o`, syscall.ENOENT},
		{"export_unsupported_kept", `ingress bpf da obj testdata/obj/cls.o sec classifier verbose`, 0},
	}
	for _, tc := range lines {
		t.Run(tc.name, func(t *testing.T) {
			words, err := tcsyntax.Split(tc.line)
			require.NoError(t, err)
			hook := words[0]
			out, tcErr := ns.Run("tc", append([]string{"filter", "add", "dev", "t0"}, words...)...)
			defer func() {
				ns.MustRun(t, "tc", "qdisc", "del", "dev", "t0", "clsact")
				ns.MustRun(t, "tc", "qdisc", "add", "dev", "t0", "clsact")
			}()

			progs := &ebpf.ProgramTable{}
			cfg := tcsyntax.Config{Objects: &tcsyntax.Objects{Programs: progs, Pins: ebpf.NewPinNamespace()}}
			parent := uint32(0xFFFFFFF3)
			if hook == "ingress" {
				parent = 0xFFFFFFF2
			}
			blk := classifier.NewBlock(classifier.BlockConfig{Config: classifier.Config{Programs: progs}, Parent: parent})
			f, perr := tcsyntax.ParseFilter("tc filter add dev t0 "+tc.line, cfg)
			if perr == nil {
				perr = f.Apply(blk)
			}
			require.Equal(t, tcErr == nil, perr == nil, "tc: %v %s\nours: %v", tcErr, out, perr)
			if perr != nil {
				assert.True(t, errors.Is(perr, tc.errno), "ours: %v, want %v", perr, tc.errno)
				return
			}
			require.NotNil(t, f.Collection)
			for _, stats := range []bool{false, true} {
				argv := []string{"filter", "show", "dev", "t0", hook}
				if stats {
					argv = append([]string{"-s"}, argv...)
				}
				want := ns.MustRun(t, "tc", argv...)
				var got bytes.Buffer
				require.NoError(t, tcsyntax.Show(&got, blk, tcsyntax.ShowOptions{Stats: stats}))
				assert.Equal(t, idRE.ReplaceAllString(strings.ReplaceAll(want, "jited ", ""), "id N "), idRE.ReplaceAllString(got.String(), "id N "), "stats %v", stats)
				assert.Contains(t, got.String(), "cls.o:[classifier]")
			}
		})
	}
}
