// Package reduce cuts a kernel's BTF down to the types clsbpf models: the
// named types a tc program can reach, with everything they reference. It
// is the generator behind the btftarget package (cmd/gentarget) and the
// tests that check the shipped target regenerates from its kernel.
package reduce

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// Names lists the named types of the target, in the order they are
// added.
var Names = []string{
	// The tc program context and the UAPI structures its helpers take.
	"__sk_buff",
	"bpf_sock",
	"bpf_sock_tuple",
	"bpf_tcp_sock",
	"bpf_tunnel_key",
	"bpf_xfrm_state",
	"bpf_fib_lookup",
	"bpf_redir_neigh",
	"bpf_flow_keys",
	"bpf_spin_lock",
	"bpf_timer",
	"bpf_dynptr",
	"bpf_iter_num",
	// Objects of BPF-managed data structures, used through kfuncs.
	"bpf_list_head",
	"bpf_list_node",
	"bpf_rb_root",
	"bpf_rb_node",
	"bpf_refcount",
	"bpf_wq",
	// UAPI enums tc programs pass to helpers.
	"bpf_func_id",
	"bpf_adj_room_mode",
	"bpf_hdr_start_off",
	"bpf_map_type",
	// Packet headers.
	"ethhdr",
	"vlan_hdr",
	"vlan_ethhdr",
	"iphdr",
	"ipv6hdr",
	"tcphdr",
	"udphdr",
	"icmphdr",
	"icmp6hdr",
	"in6_addr",
	"arphdr",
	"ipv6_opt_hdr",
	"ipv6_rt_hdr",
	"frag_hdr",
	"gre_base_hdr",
	"sctphdr",
}

// Build marshals the named types of kernel, with their dependencies, as
// little-endian raw BTF with identical types merged.
func Build(kernel *btf.Spec, names []string) ([]byte, error) {
	types := make([]btf.Type, 0, len(names))
	for _, name := range names {
		typ, err := pick(kernel, name)
		if err != nil {
			return nil, err
		}
		types = append(types, typ)
	}
	b, err := btf.NewBuilder(types, &btf.BuilderOptions{Deduplicate: true})
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
}

// pick returns the type called name: the first struct, union, enum or
// typedef definition, in type ID order. vmlinux may hold more than one
// copy of a type (BTF deduplication is imperfect across compilation
// units); the copies describe the same layout, so one is enough.
func pick(spec *btf.Spec, name string) (btf.Type, error) {
	types, err := spec.AnyTypesByName(name)
	if err != nil {
		return nil, fmt.Errorf("type %q: %w", name, err)
	}
	for _, t := range types {
		switch t.(type) {
		case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef:
			return t, nil
		}
		// Forward declarations, and functions or variables that share a
		// type's name (helpers are named like their enums), are skipped.
	}
	return nil, fmt.Errorf("type %q: no definition, only declarations or functions", name)
}
