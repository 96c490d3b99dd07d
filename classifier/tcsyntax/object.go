package tcsyntax

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
)

// Objects loads the eBPF programs of "bpf obj FILE [sec S]" lines as tc does (iproute2 lib/bpf_legacy.c and lib/bpf_libbpf.c): it
// reads the object, picks the section's program, creates the object's maps
// (pinned maps go to Pins with iproute2's pinning semantics), loads the
// program and registers it in Programs, whose descriptor the filter sends
// as TCA_BPF_FD. A Block resolves that descriptor when its Config.Programs
// is the same table. The caller controls file access through FS.
type Objects struct {
	// FS holds the object files; names are looked up in it as given
	// (fs.FS names: relative, slash-separated). Nil reads the operating
	// system's files, relative names from the working directory.
	FS fs.FS
	// ReadFile, when set, reads the object files instead of FS, with
	// the names as the lines give them (absolute or relative).
	ReadFile func(name string) ([]byte, error)
	// Programs receives the loaded programs; it must not be nil.
	Programs *ebpf.ProgramTable
	// Pins is the namespace of pinned maps shared by the objects (tc's
	// /sys/fs/bpf/tc); nil keeps every object's pinned maps private.
	Pins *ebpf.PinNamespace
	// Object says which kernel the object is loaded for (CO-RE, kconfig).
	Object ebpf.ObjectOptions
	// Collection are the host-side options of the maps and programs; its
	// Pins is taken from Pins.
	Collection ebpf.CollectionOptions
}

// ErrNoObjects is returned, wrapped with EOPNOTSUPP, by ParseFilter for an
// "obj" line when Config.Objects is nil: the line names a program the
// caller gave no way to load.
var ErrNoObjects = errors.New("no object loader configured (tcsyntax.Config.Objects)")

// readObjectFile reads name through o.ReadFile, o.FS or the operating
// system.
func (o *Objects) readObjectFile(name string) ([]byte, error) {
	var data []byte
	var err error
	if o.ReadFile != nil {
		data, err = o.ReadFile(name)
	} else if o.FS != nil {
		if !fs.ValidPath(name) {
			return nil, fmt.Errorf("%s: not a name in Objects.FS (relative, slash-separated, no \"..\"): %w", name, syscall.EINVAL)
		}
		data, err = fs.ReadFile(o.FS, name)
	} else {
		data, err = os.ReadFile(name)
	}
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file: %w", name, syscall.ENOENT)
	case errors.Is(err, fs.ErrInvalid):
		return nil, fmt.Errorf("%s: %w: %w", name, err, syscall.EINVAL)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s: %w: %w", name, err, syscall.EACCES)
	}
	return nil, err
}

// load reads file, takes the program of section (the first by name when
// the section holds several, as libbpf's lookup by section does), loads
// it as typ, creates the object's maps and the program, and registers it. It returns the
// descriptor, the collection and the annotation tc sends as TCA_BPF_NAME:
// the file's base name and the section, "prog.o:[classifier]".
func (o *Objects) load(file, section string, typ ebpf.ProgramType) (uint32, *ebpf.Collection, string, error) {
	if o.Programs == nil {
		return 0, nil, "", fmt.Errorf("tcsyntax: Objects.Programs is nil: %w", syscall.EINVAL)
	}
	data, err := o.readObjectFile(file)
	if err != nil {
		return 0, nil, "", err
	}
	spec, err := ebpf.LoadObjectWithOptions(bytes.NewReader(data), o.Object)
	if err != nil {
		return 0, nil, "", err
	}
	progs := spec.ProgramBySection(section)
	if len(progs) == 0 {
		return 0, nil, "", fmt.Errorf("object file doesn't contain sec %s: %w", section, syscall.ENOENT)
	}
	ps := progs[0].Copy()
	ps.Type = typ
	// Only the chosen program is loaded, as tc turns autoload off for
	// the others.
	spec.Programs = map[string]*ebpf.ProgramSpec{ps.Name: ps}
	copts := o.Collection
	copts.Pins = o.Pins
	col, err := ebpf.NewCollection(spec, copts)
	if err != nil {
		return 0, nil, "", err
	}
	fd := o.Programs.Add(col.Programs[ps.Name])
	return fd, col, filepath.Base(file) + ":[" + section + "]", nil
}
