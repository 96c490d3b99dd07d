package ebpf

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/cilium/ebpf/btf"

	"github.com/clsbpf/clsbpf/internal/btftarget"
	"github.com/clsbpf/clsbpf/internal/ciliumadapt"
	"github.com/clsbpf/clsbpf/internal/core"
)

//go:generate sh testdata/core/build.sh

// ObjectOptions say which kernel an object is loaded for: the types its
// CO-RE relocations resolve against and the values of its __kconfig
// externs. The zero value describes the kernel the library models: the
// shipped target BTF (the kernel types the library implements) and that
// kernel's version, with no CONFIG_* option set.
type ObjectOptions struct {
	// TargetBTF is raw BTF (for example the contents of
	// /sys/kernel/btf/vmlinux) to resolve CO-RE relocations against
	// instead of the shipped target.
	TargetBTF []byte
	// Kconfig holds CONFIG_* values as a kernel .config spells them:
	// "y", "m", "n", a quoted string or a number (ParseKconfig reads a
	// .config). An extern the map lacks is "not set": a load error
	// (ESRCH) for a strong extern, 0 for a __weak one, as in libbpf.
	Kconfig map[string]string
	// KernelVersion is LINUX_KERNEL_VERSION, KERNEL_VERSION(a, b, c);
	// 0 means the version of the modelled kernel (KernelVersion()).
	KernelVersion uint32
}

// KernelVersion returns LINUX_KERNEL_VERSION of the kernel the library
// models (the release its target BTF comes from), computed as libbpf's
// get_kernel_version does: KERNEL_VERSION(major, minor, min(patch, 255)).
func KernelVersion() uint32 {
	return parseRelease(btftarget.KernelRelease)
}

func parseRelease(rel string) uint32 {
	var a, b, c uint32
	fmt.Sscanf(rel, "%d.%d.%d", &a, &b, &c)
	return a<<16 | b<<8 | min(c, 255)
}

// shippedTarget is the index of the shipped target BTF, built once.
var shippedTarget = sync.OnceValues(func() (*core.Target, error) {
	spec, err := btftarget.Spec()
	if err != nil {
		return nil, err
	}
	return core.NewTarget(spec)
})

// adaptOptions turns the options into what the ELF glue takes.
func (o *ObjectOptions) adaptOptions() (*ciliumadapt.Options, error) {
	var target *core.Target
	var err error
	if o.TargetBTF != nil {
		spec, lerr := btf.LoadSpecFromReader(bytes.NewReader(o.TargetBTF))
		if lerr != nil {
			return nil, fmt.Errorf("ebpf: target btf: %v: %w", lerr, syscall.EINVAL)
		}
		target, err = core.NewTarget(spec)
	} else {
		target, err = shippedTarget()
	}
	if err != nil {
		return nil, fmt.Errorf("ebpf: target btf: %w", err)
	}
	kv := o.KernelVersion
	if kv == 0 {
		kv = KernelVersion()
	}
	return &ciliumadapt.Options{
		Target:         target,
		Kconfig:        o.Kconfig,
		KernelVersion:  kv,
		SyscallWrapper: true, // x86-64 and arm64 since Linux 4.17
		BPFCookie:      true, // since Linux 5.15
	}, nil
}

// ParseKconfig reads a kernel configuration in .config form, plain or
// gzip-compressed (/proc/config.gz), into the map ObjectOptions.Kconfig
// takes: "CONFIG_X=value" lines; comments ("# CONFIG_X is not set")
// and blank lines are skipped, as libbpf skips them.
func ParseKconfig(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("ebpf: kconfig: %v: %w", err, syscall.EINVAL)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(br)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("ebpf: kconfig: failed to parse '%s': %w", line, syscall.EINVAL)
		}
		out[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ebpf: kconfig: %v: %w", err, syscall.EINVAL)
	}
	return out, nil
}

// LoadObjectWithOptions is LoadObject for the kernel opts describes:
// CO-RE relocations are applied against the target BTF (errors name the
// relocation and wrap the errno libbpf fails with), __kconfig externs
// are read from a read-only ".kconfig" map filled with libbpf's rules,
// and __weak __ksym externs resolve to 0 (the modelled kernel exports no
// symbols; a strong one is ESRCH). Calls of kfuncs stay in the program:
// NewProgram refuses one that a path reaches, naming the kfunc.
func LoadObjectWithOptions(r io.ReaderAt, opts ObjectOptions) (*ObjectSpec, error) {
	b, err := readObject(r)
	if err != nil {
		return nil, err
	}
	ao, err := opts.adaptOptions()
	if err != nil {
		return nil, err
	}
	return loadObject(b, ao)
}

// LoadObjectFileWithOptions is LoadObjectWithOptions of the file at path.
func LoadObjectFileWithOptions(path string, opts ObjectOptions) (*ObjectSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ebpf: %w", err)
	}
	defer f.Close()
	return LoadObjectWithOptions(f, opts)
}
