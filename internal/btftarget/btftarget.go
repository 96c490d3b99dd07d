package btftarget

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"
	"syscall"

	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/btftarget/reduce"
)

// Names lists the types the target was built from, in the order they were
// added; every type they reference is in the target too.
var Names = reduce.Names

//go:embed target.btf
var raw []byte

var parsed = sync.OnceValues(func() (*btf.Spec, error) {
	if len(raw) != rawSize {
		return nil, fmt.Errorf("target btf: %d bytes, generated %d: %w", len(raw), rawSize, syscall.EINVAL)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("target btf: %w: %w", err, syscall.EINVAL)
	}
	return spec, nil
})

// Spec returns the target BTF as a cilium/ebpf spec. Each call returns a
// fresh copy that the caller owns.
func Spec() (*btf.Spec, error) {
	spec, err := parsed()
	if err != nil {
		return nil, err
	}
	return spec.Copy(), nil
}

// Raw returns a copy of the target as raw little-endian BTF, the format
// the kernel's BPF_BTF_LOAD takes.
func Raw() []byte {
	return bytes.Clone(raw)
}
