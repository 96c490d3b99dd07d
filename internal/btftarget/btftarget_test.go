package btftarget

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/btftarget/reduce"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

func TestSpecHasEveryType(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			types, err := spec.AnyTypesByName(name)
			require.NoError(t, err)
			require.Len(t, types, 1, "one definition of %s", name)
			_, fwd := types[0].(*btf.Fwd)
			assert.False(t, fwd, "%s is only declared", name)
			_, err = btf.Sizeof(types[0])
			assert.NoError(t, err, "%s has a size", name)
		})
	}
}

// field is one member of a struct as the flat C layout sees it, with
// anonymous unions and structs opened.
type field struct {
	off, size uint32
}

func flatten(t *testing.T, members []btf.Member, base uint32, into map[string]field) {
	t.Helper()
	for _, m := range members {
		off := base + uint32(m.Offset)/8
		if m.Name == "" {
			switch c := btf.UnderlyingType(m.Type).(type) {
			case *btf.Union:
				flatten(t, c.Members, off, into)
			case *btf.Struct:
				flatten(t, c.Members, off, into)
			}
			continue
		}
		sz, err := btf.Sizeof(m.Type)
		require.NoError(t, err, m.Name)
		into[m.Name] = field{off, uint32(sz)}
	}
}

// TestSkBuffLayout checks struct __sk_buff against the layout table of
// spec/bpf.md §3.2.
func TestSkBuffLayout(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	var skb *btf.Struct
	require.NoError(t, spec.TypeByName("__sk_buff", &skb))
	assert.EqualValues(t, 192, skb.Size)

	got := map[string]field{}
	flatten(t, skb.Members, 0, got)
	want := []struct {
		name      string
		off, size uint32
	}{
		{"len", 0, 4},
		{"pkt_type", 4, 4},
		{"mark", 8, 4},
		{"queue_mapping", 12, 4},
		{"protocol", 16, 4},
		{"vlan_present", 20, 4},
		{"vlan_tci", 24, 4},
		{"vlan_proto", 28, 4},
		{"priority", 32, 4},
		{"ingress_ifindex", 36, 4},
		{"ifindex", 40, 4},
		{"tc_index", 44, 4},
		{"cb", 48, 20},
		{"hash", 68, 4},
		{"tc_classid", 72, 4},
		{"data", 76, 4},
		{"data_end", 80, 4},
		{"napi_id", 84, 4},
		{"family", 88, 4},
		{"remote_ip4", 92, 4},
		{"local_ip4", 96, 4},
		{"remote_ip6", 100, 16},
		{"local_ip6", 116, 16},
		{"remote_port", 132, 4},
		{"local_port", 136, 4},
		{"data_meta", 140, 4},
		{"flow_keys", 144, 8},
		{"tstamp", 152, 8},
		{"wire_len", 160, 4},
		{"gso_segs", 164, 4},
		{"sk", 168, 8},
		{"gso_size", 176, 4},
		{"tstamp_type", 180, 1},
		{"hwtstamp", 184, 8},
	}
	for _, w := range want {
		t.Run(w.name, func(t *testing.T) {
			f, ok := got[w.name]
			require.True(t, ok, "no field %s", w.name)
			assert.Equal(t, w.off, f.off, "offset")
			assert.Equal(t, w.size, f.size, "size")
		})
	}
	assert.Len(t, got, len(want), "__sk_buff has fields the spec does not list")
}

// TestNoKernelInternals checks that the target holds no structure a tc
// program cannot read: CO-RE against them must fail here.
func TestNoKernelInternals(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	for _, name := range []string{"sk_buff", "sock", "net_device", "task_struct", "skb_shared_info"} {
		_, err := spec.AnyTypesByName(name)
		assert.ErrorIs(t, err, btf.ErrNotFound, name)
	}
	for typ, err := range spec.All() {
		require.NoError(t, err)
		switch typ.(type) {
		case *btf.Func, *btf.Var, *btf.Datasec:
			t.Errorf("target holds %s", typ)
		}
	}
}

func TestSpecIsACopy(t *testing.T) {
	a, err := Spec()
	require.NoError(t, err)
	b, err := Spec()
	require.NoError(t, err)
	ta, err := a.AnyTypeByName("iphdr")
	require.NoError(t, err)
	tb, err := b.AnyTypeByName("iphdr")
	require.NoError(t, err)
	assert.NotSame(t, ta, tb)
	r := Raw()
	r[0] ^= 0xff
	assert.False(t, bytes.Equal(r, Raw()), "Raw hands out a copy")
}

// TestMatchesKernel checks that each type of the target has the layout the
// running kernel's BTF gives it, when the kernel is the one the target was
// generated from.
func TestMatchesKernel(t *testing.T) {
	kerneltest.RequireLinux(t)
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		kerneltest.Skip(t, "no /proc/sys/kernel/osrelease: "+err.Error())
	}
	if string(bytes.TrimSpace(release)) != KernelRelease {
		t.Skipf("target generated from %s, running %s", KernelRelease, bytes.TrimSpace(release))
	}
	kernel, err := btf.LoadSpec("/sys/kernel/btf/vmlinux")
	if errors.Is(err, os.ErrNotExist) {
		kerneltest.Skip(t, "kernel exposes no BTF")
	}
	require.NoError(t, err)
	spec, err := Spec()
	require.NoError(t, err)
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			ours, err := spec.AnyTypeByName(name)
			require.NoError(t, err)
			theirs, err := kernel.AnyTypesByName(name)
			require.NoError(t, err)
			var def btf.Type
			for _, k := range theirs {
				switch k.(type) {
				case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef:
					if def == nil {
						def = k
					}
				}
			}
			require.NotNil(t, def)
			assert.Equal(t, layout(t, def), layout(t, ours))
		})
	}
}

// layout renders a type's members, sizes and enumerators as text, so two
// specs' copies of a type compare by content.
func layout(t *testing.T, typ btf.Type) []string {
	t.Helper()
	sz, err := btf.Sizeof(typ)
	require.NoError(t, err)
	out := []string{typ.TypeName(), itoa(uint64(sz))}
	switch c := btf.UnderlyingType(typ).(type) {
	case *btf.Struct:
		for _, m := range c.Members {
			msz, err := btf.Sizeof(m.Type)
			require.NoError(t, err)
			out = append(out, m.Name, m.Type.TypeName(), itoa(uint64(m.Offset)), itoa(uint64(m.BitfieldSize)), itoa(uint64(msz)))
		}
	case *btf.Union:
		for _, m := range c.Members {
			msz, err := btf.Sizeof(m.Type)
			require.NoError(t, err)
			out = append(out, m.Name, m.Type.TypeName(), itoa(uint64(m.Offset)), itoa(uint64(msz)))
		}
	case *btf.Enum:
		for _, v := range c.Values {
			out = append(out, v.Name, itoa(v.Value))
		}
	}
	return out
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

// TestRegenerates rebuilds the target from the running kernel's BTF, when
// that kernel is the one it was generated from, and requires the same
// bytes: the committed blob is what the generator makes.
func TestRegenerates(t *testing.T) {
	kerneltest.RequireLinux(t)
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		kerneltest.Skip(t, "no /proc/sys/kernel/osrelease: "+err.Error())
	}
	if string(bytes.TrimSpace(release)) != KernelRelease {
		t.Skipf("target generated from %s, running %s", KernelRelease, bytes.TrimSpace(release))
	}
	kernel, err := btf.LoadSpec("/sys/kernel/btf/vmlinux")
	if errors.Is(err, os.ErrNotExist) {
		kerneltest.Skip(t, "kernel exposes no BTF")
	}
	require.NoError(t, err)
	got, err := reduce.Build(kernel, reduce.Names)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(Raw(), got), "target.btf differs from a fresh reduction: run go generate")
}

func TestBuildErrors(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	_, err = reduce.Build(spec, []string{"no_such_type"})
	assert.ErrorIs(t, err, btf.ErrNotFound)
}
