//go:build linux

package ebpf_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// TestFilterDumpAgainstKernel attaches a clang-built program to the
// kernel's cls_bpf with RTM_NEWTFILTER (TCA_BPF_FD) on a veth in a
// private namespace, and the same object's program to a Chain through a
// ProgramTable, with the same options: the dumps' TCA_OPTIONS must be the
// same bytes once the program id is masked, and the very same bytes when
// the library's program takes the kernel's id.
func TestFilterDumpAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	ns := kerneltest.NewNetNS(t)
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	if _, err := ns.Run("tc", "qdisc", "add", "dev", "veth0", "clsact"); err != nil {
		kerneltest.Skip(t, "clsact qdisc unavailable: "+err.Error())
	}
	rt := ns.Rtnl(t)
	ifindex := ns.Ifindex(t, "veth0")
	const parent = 0xFFFFFFF2 // clsact ingress

	path := filepath.Join("testdata", "globals.o")
	kern := kernelObject(t, path)
	kprog := kern.Programs["globals"]
	info, err := kprog.Info()
	require.NoError(t, err)
	kid, ok := info.ID()
	require.True(t, ok)

	spec, err := ebpf.LoadObjectFile(path)
	require.NoError(t, err)

	cases := []struct {
		name string
		opts func(fd uint32) []byte
	}{
		{"direct_action_named", func(fd uint32) []byte {
			o := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, fd)
			o = nlattr.AppendString(o, uapi.TCA_BPF_NAME, "globals.o:[tc]")
			return nlattr.AppendUint32(o, uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
		}},
		{"classic_classid", func(fd uint32) []byte {
			o := nlattr.AppendUint32(nil, uapi.TCA_BPF_CLASSID, 0x10002)
			o = nlattr.AppendUint32(o, uapi.TCA_BPF_FD, fd)
			return nlattr.AppendString(o, uapi.TCA_BPF_NAME, "globals.o:[tc]")
		}},
		{"unnamed_skip_hw", func(fd uint32) []byte {
			o := nlattr.AppendUint32(nil, uapi.TCA_BPF_FD, fd)
			return nlattr.AppendUint32(o, uapi.TCA_BPF_FLAGS_GEN, classifier.SkipHW)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := uint32(i + 1)
			tcm := kerneltest.Tcmsg{Ifindex: ifindex, Handle: h, Parent: parent, Info: kerneltest.FilterInfo(uint16(10+i), uapi.ETH_P_ALL)}
			attrs := nlattr.AppendString(nil, uapi.TCA_KIND, "bpf")
			attrs = nlattr.Append(attrs, uapi.TCA_OPTIONS, tc.opts(uint32(kprog.FD())))
			_, err := rt.Do(kerneltest.TCFilterRequest{Type: uapi.RTM_NEWTFILTER, Flags: uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, Tcmsg: tcm, Attrs: attrs})
			require.NoError(t, err)
			msgs, err := rt.DumpFilters(ifindex, parent)
			require.NoError(t, err)
			var kdump []byte
			for _, m := range msgs {
				if m.Tcmsg.Handle == h && m.Tcmsg.Info == tcm.Info {
					kdump = m.RawAttr(uapi.TCA_OPTIONS)
				}
			}
			require.NotNil(t, kdump, "the kernel's dump lacks filter %d", h)

			for _, inject := range []bool{false, true} {
				var ids map[string]uint32
				if inject {
					ids = map[string]uint32{"globals": uint32(kid)}
				}
				col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, ProgramIDs: ids})
				require.NoError(t, err)
				table := &ebpf.ProgramTable{}
				fd := table.Add(col.Programs["globals"])
				chain := classifier.New(classifier.Config{Programs: table})
				_, err = chain.ChangeNetlink(classifier.Request{Handle: h, Flags: classifier.Create | classifier.Excl, Options: tc.opts(fd), Ingress: true})
				require.NoError(t, err)
				f, ok := chain.Get(h)
				require.True(t, ok)
				lib, err := f.AppendOptions(nil) // the TCA_OPTIONS attribute
				require.NoError(t, err)
				if inject {
					assert.Equal(t, hex.EncodeToString(kdump), hex.EncodeToString(lib), "dump with the kernel's id")
				} else {
					assert.Equal(t, maskID(t, kdump), maskID(t, lib), "dump with the id masked")
				}
			}
		})
	}
}

// maskID returns the hex of a TCA_OPTIONS attribute (header included)
// with TCA_BPF_ID's value zeroed.
func maskID(t *testing.T, opts []byte) string {
	b := append([]byte(nil), opts...)
	found := false
	for off := uapi.NLA_HDRLEN; off+uapi.NLA_HDRLEN <= len(b); {
		l := int(binary.LittleEndian.Uint16(b[off:]))
		typ := binary.LittleEndian.Uint16(b[off+2:]) & 0x3fff
		if l < uapi.NLA_HDRLEN || off+l > len(b) {
			t.Fatalf("malformed attributes at %d: %x", off, b)
		}
		if typ == uapi.TCA_BPF_ID {
			require.Equal(t, 8, l, "TCA_BPF_ID length")
			copy(b[off+4:off+8], make([]byte, 4))
			found = true
		}
		off += (l + 3) &^ 3
	}
	require.True(t, found, "no TCA_BPF_ID in %x", opts)
	return fmt.Sprintf("%x", b)
}
