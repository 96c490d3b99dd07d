package tcsyntax

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/handle"
	"github.com/clsbpf/clsbpf/internal/nlattr"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Devices resolves the device names a command line uses ("dev eth0", and
// mirred's "dev eth1") to interface indexes, and back for printing: the
// caller's stand-in for the kernel's device table (iproute2's
// ll_name_to_index and ll_index_to_name).
type Devices interface {
	// Ifindex returns the index of the named device.
	Ifindex(name string) (uint32, bool)
	// Name returns the name of the device with the index.
	Name(ifindex uint32) (string, bool)
}

// DeviceMap is a fixed set of devices by name.
type DeviceMap map[string]uint32

// Ifindex returns the index of the named device.
func (m DeviceMap) Ifindex(name string) (uint32, bool) {
	i, ok := m[name]
	return i, ok && i != 0
}

// Name returns the name of the device with the index; with two names for
// one index, the smaller name.
func (m DeviceMap) Name(ifindex uint32) (string, bool) {
	best, found := "", false
	for n, i := range m {
		if i == ifindex && (!found || n < best) {
			best, found = n, true
		}
	}
	return best, found
}

// Config is what the parser needs from its environment. The zero value
// resolves no device and reads bytecode files from the file system.
type Config struct {
	// Devices resolves device names; nil refuses "dev" in actions (ENODEV)
	// and leaves the filter's own "dev" unresolved.
	Devices Devices
	// ReadFile reads a bytecode-file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Objects loads the programs of "obj" lines; nil refuses them
	// (ErrNoObjects, EOPNOTSUPP).
	Objects *Objects
}

// Command is the tc filter command a line carries.
type Command uint8

// Commands, with the netlink flags tc sends for each (tc/tc_filter.c).
const (
	// Add is "tc filter add": NLM_F_CREATE|NLM_F_EXCL.
	Add Command = iota
	// Change is "tc filter change": no flags; the filter must exist.
	Change
	// Replace is "tc filter replace": NLM_F_CREATE.
	Replace
)

// String returns the command word.
func (c Command) String() string {
	switch c {
	case Change:
		return "change"
	case Replace:
		return "replace"
	}
	return "add"
}

// flags returns the netlink flags of the command.
func (c Command) flags() classifier.ChangeFlags {
	switch c {
	case Change:
		return 0
	case Replace:
		return classifier.Create
	}
	return classifier.Create | classifier.Excl
}

// Source says where a filter's program comes from (lib/bpf_legacy.c's
// modes).
type Source uint8

// Program sources.
const (
	// Bytecode is "bytecode" (or "bc"): classic BPF given inline.
	Bytecode Source = iota
	// BytecodeFile is "bytecode-file" (or "bcf"): classic BPF read from a
	// file.
	BytecodeFile
	// ObjectFile is "object-file" (or "obj"): an eBPF ELF object.
	ObjectFile
	// ObjectPinned is "object-pinned" (or "pinned", "fd"): a pinned eBPF
	// program.
	ObjectPinned
)

// ProtocolAll is ETH_P_ALL, the protocol of a filter added without one.
const ProtocolAll = classifier.ProtocolAll

// Filter is one parsed `tc filter add|change|replace` command for the bpf
// classifier: the generic part tc/tc_filter.c parses and cls_bpf's options
// as tc/f_bpf.c parses them. It is plain data; Message turns it into the
// RTM_NEWTFILTER request tc would send and Apply hands that to a Block.
type Filter struct {
	// Command is add, change or replace.
	Command Command
	// Dev is the device named by "dev", "" when none.
	Dev string
	// Ifindex is Dev's index when Config.Devices knew it, 0 otherwise.
	Ifindex uint32
	// Block is the shared block index of "block N", 0 when none.
	Block uint32
	// Parent is tcm_parent: "root", "ingress" (0xFFFFFFF2), "egress"
	// (0xFFFFFFF3) or "parent CLASSID"; 0 when none was given.
	Parent handle.Handle
	// Protocol is the EtherType in host order: ProtocolAll when an add or
	// replace names none, 0 when a change names none.
	Protocol uint16
	// Pref is the priority, 0 for an automatic one.
	Pref uint16
	// Handle is the filter handle when HasHandle.
	Handle uint32
	// HasHandle says the line named a handle.
	HasHandle bool
	// Chain is the chain index when HasChain (tc sends TCA_CHAIN only
	// then; the kernel reads its absence as chain 0).
	Chain uint32
	// HasChain says the line named a chain.
	HasChain bool
	// Source, with Bytecode, File, Section, Export and Verbose, is the
	// program: Bytecode holds the instructions of a classic program
	// (inline or read from File); File names a bytecode file, an eBPF
	// object or a pinned program; Section is the object's section (tc's
	// default "classifier"); Export is "export UDS" and Verbose
	// "verbose".
	Source Source
	// Bytecode is the classic program, inline or read from File.
	Bytecode []bpf.RawInstruction
	// File is the bytecode file, object file or pinned program.
	File string
	// Section is the object's section.
	Section string
	// Export is the "export" socket, "" when none.
	Export string
	// Verbose is "verbose".
	Verbose bool
	// FD is the descriptor of the loaded program in Config.Objects'
	// ProgramTable (TCA_BPF_FD), 0 until an object line is loaded.
	FD uint32
	// Name is TCA_BPF_NAME, "prog.o:[classifier]", for a loaded object.
	Name string
	// Collection is the loaded object's maps and program, for reading
	// and writing its maps from Go; nil unless an object line was loaded.
	Collection *ebpf.Collection
	// ClassID is "classid"/"flowid" when HasClassID.
	ClassID handle.Handle
	// HasClassID says the line named a classid (tc sends it, even 0).
	HasClassID bool
	// DirectAction is "da"/"direct-action".
	DirectAction bool
	// Flags are "skip_hw" (classifier.SkipHW) and "skip_sw"
	// (classifier.SkipSW).
	Flags uint32
	// Police is the legacy "police ..." (TCA_BPF_POLICE), nil when none.
	Police *action.Police
	// Actions are the "action ..." list (TCA_BPF_ACT). A line with two
	// lists (split by classid or flowid) sends two attributes, of which
	// the kernel keeps the last: so does the parser.
	Actions []action.Spec
	// devNames remembers the device names the actions used, by index,
	// for String.
	devNames map[uint32]string
}

// ParseFilter parses a command line: a whole `tc filter add dev eth0
// ingress ... bpf ...` line (the leading "tc" may be left out, "filter"
// may be abbreviated as tc allows, and the command is add, change or
// replace), or only the arguments after `tc filter add` ("dev eth0 ingress
// protocol ip pref 1 bpf bytecode '...' classid 1:10", or just "bpf
// bytecode '...'"). Words are split as a shell would (see Split).
func ParseFilter(line string, cfg Config) (*Filter, error) {
	words, err := Split(line)
	if err != nil {
		return nil, err
	}
	return ParseFilterArgs(words, cfg)
}

// ParseFilterArgs is ParseFilter on words already split.
func ParseFilterArgs(words []string, cfg Config) (*Filter, error) {
	a := &args{w: words}
	if !a.more() {
		return nil, &Error{Msg: "empty filter command"}
	}
	f := &Filter{Command: Add}
	explicit := false
	if a.peek() == "tc" {
		a.i++
		explicit = true
	}
	if a.more() && matches(a.peek(), "filter") && !isFilterKeyword(a.peek()) {
		a.i++
		explicit = true
	} else if explicit {
		return nil, a.errf("only \"tc filter\" commands are parsed")
	}
	if explicit {
		if !a.more() {
			return nil, a.errf("missing command: add, change or replace")
		}
		switch w := a.peek(); {
		case matches(w, "add"):
			f.Command = Add
		case matches(w, "change") || w == "chg":
			f.Command = Change
		case matches(w, "replace"):
			f.Command = Replace
		default:
			return nil, a.errAt(a.i, syscall.EOPNOTSUPP, "command %q is not parsed: want add, change or replace", w)
		}
		a.i++
	}
	if f.Command != Change {
		f.Protocol = ProtocolAll
	}
	if err := f.parseGeneric(a, cfg); err != nil {
		return nil, err
	}
	return f, nil
}

// isFilterKeyword reports a word that tc_filter_modify reads before
// "filter" could be meant ("f" is both "filter" and "flowid", but only
// the command form has "filter").
func isFilterKeyword(w string) bool { return w != "filter" && len(w) < 2 }

// parseGeneric is tc_filter_modify's loop, then f_bpf's.
func (f *Filter) parseGeneric(a *args, cfg Config) error {
	kind := ""
	var handleWord string
	handleAt := -1
	protocolSet, prioSet := false, false
loop:
	for a.more() {
		w := a.peek()
		switch {
		case w == "dev":
			if err := a.next(); err != nil {
				return err
			}
			if f.Dev != "" {
				return a.errf("Error: duplicate \"dev\": \"%s\" is the second value.", a.peek())
			}
			if f.Block != 0 {
				return a.errf("Error: \"dev\" and \"block\" are mutually exclusive")
			}
			f.Dev = a.peek()
			if len(f.Dev) > 15 {
				f.Dev = f.Dev[:15]
			}
		case matches(w, "block"):
			if err := a.next(); err != nil {
				return err
			}
			if f.Block != 0 {
				return a.errf("Error: duplicate \"block\": \"%s\" is the second value.", a.peek())
			}
			if f.Dev != "" {
				return a.errf("Error: \"dev\" and \"block\" are mutually exclusive")
			}
			v, ok := getUint(a.peek(), 0, 0xFFFFFFFF)
			if !ok || v == 0 {
				return a.errf("invalid block index value")
			}
			f.Block = uint32(v)
		case w == "root" || w == "ingress" || w == "egress":
			if f.Parent != 0 {
				return a.errf("Error: \"%s\" is duplicate parent ID", w)
			}
			switch w {
			case "root":
				f.Parent = handle.Root
			case "ingress":
				f.Parent = handle.IngressParent
			default:
				f.Parent = handle.EgressParent
			}
		case w == "parent":
			if err := a.next(); err != nil {
				return err
			}
			if f.Parent != 0 {
				return a.errf("Error: duplicate \"parent\": \"%s\" is the second value.", a.peek())
			}
			h, err := handle.ParseClassID(a.peek())
			if err != nil {
				return a.errAt(a.i, err, "Invalid parent ID")
			}
			f.Parent = h
		case w == "handle":
			if err := a.next(); err != nil {
				return err
			}
			if handleAt >= 0 {
				return a.errf("Error: duplicate \"handle\": \"%s\" is the second value.", a.peek())
			}
			handleWord, handleAt = a.peek(), a.i
		case matches(w, "preference") || matches(w, "priority"):
			if err := a.next(); err != nil {
				return err
			}
			if prioSet && f.Pref != 0 {
				return a.errf("Error: duplicate \"priority\": \"%s\" is the second value.", a.peek())
			}
			v, ok := getUint(a.peek(), 0, 0xFFFF)
			if !ok {
				return a.errf("invalid priority value")
			}
			f.Pref, prioSet = uint16(v), true
		case matches(w, "protocol"):
			if err := a.next(); err != nil {
				return err
			}
			if protocolSet {
				return a.errf("Error: duplicate \"protocol\": \"%s\" is the second value.", a.peek())
			}
			p, ok := ParseProtocol(a.peek())
			if !ok {
				return a.errf("invalid protocol")
			}
			f.Protocol, protocolSet = p, true
		case matches(w, "chain"):
			if err := a.next(); err != nil {
				return err
			}
			if f.HasChain {
				return a.errf("Error: duplicate \"chain\": \"%s\" is the second value.", a.peek())
			}
			v, ok := getUint(a.peek(), 0, 0xFFFFFFFF)
			if !ok {
				return a.errf("invalid chain index value")
			}
			f.Chain, f.HasChain = uint32(v), true
		case matches(w, "estimator"):
			return a.errAt(a.i, syscall.EOPNOTSUPP, "estimator is not supported: no rate estimators are modelled")
		case matches(w, "help"):
			return a.errf("help is not a command line")
		default:
			kind = w
			a.i++
			break loop
		}
		a.i++
	}
	if kind == "" {
		if handleAt >= 0 {
			return &Error{Msg: "Must specify filter type when using \"handle\""}
		}
		return &Error{Msg: "no filter kind: want \"bpf\""}
	}
	if kind != classifier.Kind {
		return a.errAt(a.i-1, syscall.EOPNOTSUPP, "filter kind %q is not supported: only bpf", kind)
	}
	if handleAt >= 0 {
		v, ok := getUint(handleWord, 0, 0xFFFFFFFF)
		if !ok {
			return a.errAt(handleAt, nil, "Illegal \"handle\"")
		}
		f.Handle, f.HasHandle = uint32(v), true
	}
	if f.Dev != "" && cfg.Devices != nil {
		idx, ok := cfg.Devices.Ifindex(f.Dev)
		if !ok {
			return &Error{Msg: fmt.Sprintf("Cannot find device %q", f.Dev), Err: syscall.ENODEV}
		}
		f.Ifindex = idx
	}
	if !a.more() {
		return &Error{Msg: "bpf needs a program: bytecode, bytecode-file, object-file or object-pinned"}
	}
	return f.parseBpf(a, cfg)
}

// parseBpf is f_bpf.c's bpf_parse_opt.
func (f *Filter) parseBpf(a *args, cfg Config) error {
	seenRun := false
	for a.more() {
		w := a.peek()
		switch {
		case matches(w, "run"):
			if err := a.next(); err != nil {
				return err
			}
			if seenRun {
				return a.errf("Error: duplicate \"run\": \"%s\" is the second value.", a.peek())
			}
			if err := f.parseProgram(a, cfg); err != nil {
				return err
			}
			seenRun = true
			continue
		case matches(w, "classid") || matches(w, "flowid"):
			if err := a.next(); err != nil {
				return err
			}
			h, err := handle.ParseClassID(a.peek())
			if err != nil {
				return a.errAt(a.i, err, "Illegal \"classid\"")
			}
			f.ClassID, f.HasClassID = h, true
		case matches(w, "direct-action") || matches(w, "da"):
			f.DirectAction = true
		case matches(w, "skip_hw"):
			f.Flags |= classifier.SkipHW
		case matches(w, "skip_sw"):
			f.Flags |= classifier.SkipSW
		case matches(w, "action"):
			if err := a.next(); err != nil {
				return err
			}
			if f.devNames == nil {
				f.devNames = map[uint32]string{}
			}
			specs, err := parseActionList(a, recordingDevices{cfg.Devices, f.devNames})
			if err != nil {
				return err
			}
			// Each list is one TCA_BPF_ACT attribute; the kernel keeps the
			// last one given.
			f.Actions = specs
			continue
		case matches(w, "police"):
			if err := a.next(); err != nil {
				return err
			}
			p, err := parsePolice(a)
			if err != nil {
				return err
			}
			f.Police = p
			continue
		case matches(w, "help"):
			return a.errf("help is not a command line")
		default:
			if seenRun {
				return a.errf("What is \"%s\"?", w)
			}
			if err := f.parseProgram(a, cfg); err != nil {
				return err
			}
			seenRun = true
			continue
		}
		a.i++
	}
	if !seenRun {
		return &Error{Msg: "bpf needs a program: bytecode, bytecode-file, object-file or object-pinned"}
	}
	return nil
}

// parseProgram is lib/bpf_legacy.c's bpf_do_parse for the classifier type.
func (f *Filter) parseProgram(a *args, cfg Config) error {
	w := a.peek()
	switch {
	case matches(w, "bytecode") || w == "bc":
		f.Source = Bytecode
	case matches(w, "bytecode-file") || w == "bcf":
		f.Source = BytecodeFile
	case matches(w, "object-file") || w == "obj":
		f.Source = ObjectFile
	case matches(w, "object-pinned") || matches(w, "pinned") || matches(w, "fd"):
		f.Source = ObjectPinned
	default:
		return a.errf("What mode is \"%s\"?", w)
	}
	if err := a.next(); err != nil {
		return err
	}
	arg := a.peek()
	a.i++
	switch f.Source {
	case Bytecode:
		raw, err := cbpf.ParseBytecode(arg)
		if err != nil {
			return a.errAt(a.i-1, err, "Illegal \"bytecode\"")
		}
		f.Bytecode = raw
	case BytecodeFile:
		read := cfg.ReadFile
		if read == nil {
			read = readOSFile
		}
		data, err := read(arg)
		if err != nil {
			return a.errAt(a.i-1, err, "Cannot read bytecode-file")
		}
		raw, err := cbpf.ParseBytecodeFile(bytes.NewReader(data))
		if err != nil {
			return a.errAt(a.i-1, err, "Illegal \"bytecode-file\"")
		}
		f.File, f.Bytecode = arg, raw
	default:
		fileIndex := a.i
		f.File = arg
		f.Section = "classifier"
		if a.more() && matches(a.peek(), "section") {
			if err := a.next(); err != nil {
				return err
			}
			f.Section = a.peek()
			a.i++
		}
		if a.more() && matches(a.peek(), "export") {
			if err := a.next(); err != nil {
				return err
			}
			f.Export = a.peek()
			a.i++
		}
		if a.more() && matches(a.peek(), "verbose") {
			f.Verbose = true
			a.i++
		}
		if f.Source == ObjectFile && cfg.Objects != nil {
			fd, col, name, err := cfg.Objects.load(f.File, f.Section, ebpf.SchedCLS)
			if err != nil {
				return &Error{Token: f.File, Index: fileIndex, Msg: "Unable to load program", Err: err}
			}
			f.FD, f.Collection, f.Name = fd, col, name
		}
	}
	return nil
}

func readOSFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file: %w", name, syscall.ENOENT)
	}
	return b, err
}

// recordingDevices resolves through d and remembers the names used.
type recordingDevices struct {
	d     Devices
	names map[uint32]string
}

// Ifindex resolves through the wrapped Devices and remembers the name.
func (r recordingDevices) Ifindex(name string) (uint32, bool) {
	if r.d == nil {
		return 0, false
	}
	i, ok := r.d.Ifindex(name)
	if ok {
		r.names[i] = name
	}
	return i, ok
}

// Name prefers the name the line used for the index.
func (r recordingDevices) Name(ifindex uint32) (string, bool) {
	if n, ok := r.names[ifindex]; ok {
		return n, true
	}
	if r.d == nil {
		return "", false
	}
	return r.d.Name(ifindex)
}

// ErrObjectNotSupported is returned, wrapped with EOPNOTSUPP, by Message
// and Apply for a pinned program ("object-pinned", "pinned", "fd"): the
// line parses, but the library has no bpffs to take pinned programs from.
var ErrObjectNotSupported = errors.New("pinned eBPF programs are not supported: load the object with \"obj\" instead")

// Where returns where the filter goes in a block: its chain, priority and
// protocol.
func (f *Filter) Where() classifier.Where {
	return classifier.Where{Chain: f.Chain, Prio: f.Pref, Protocol: f.Protocol}
}

// Options returns the TCA_OPTIONS payload tc sends for the filter: the
// TCA_BPF_* attributes f_bpf.c adds (ops, classid, flags, actions,
// police).
func (f *Filter) Options() ([]byte, error) {
	var b []byte
	switch {
	case f.Source == ObjectPinned:
		return nil, &Error{Msg: "bpf object-pinned " + f.File, Err: fmt.Errorf("%w: %w", ErrObjectNotSupported, syscall.EOPNOTSUPP)}
	case f.Source == ObjectFile && f.FD == 0:
		return nil, &Error{Msg: "bpf object-file " + f.File, Err: fmt.Errorf("%w: %w", ErrNoObjects, syscall.EOPNOTSUPP)}
	case f.Source == ObjectFile:
		// f_bpf.c bpf_ebpf_cb: the descriptor, then the annotation.
		b = nlattr.AppendUint32(b, uapi.TCA_BPF_FD, f.FD)
		b = nlattr.AppendString(b, uapi.TCA_BPF_NAME, f.Name)
	default:
		ops := make([]byte, 0, 8*len(f.Bytecode))
		for _, r := range f.Bytecode {
			ops = binary.LittleEndian.AppendUint16(ops, r.Op)
			ops = append(ops, r.Jt, r.Jf)
			ops = binary.LittleEndian.AppendUint32(ops, r.K)
		}
		b = nlattr.AppendUint16(b, uapi.TCA_BPF_OPS_LEN, uint16(len(f.Bytecode)))
		b = nlattr.Append(b, uapi.TCA_BPF_OPS, ops)
	}
	if f.HasClassID {
		b = nlattr.AppendUint32(b, uapi.TCA_BPF_CLASSID, uint32(f.ClassID))
	}
	if f.Police != nil {
		b = nlattr.Append(b, uapi.TCA_BPF_POLICE, policeOptions(f.Police))
	}
	if len(f.Actions) > 0 {
		b = nlattr.Append(b, uapi.TCA_BPF_ACT, action.EncodeSpecs(f.Actions))
	}
	if f.Flags != 0 {
		b = nlattr.AppendUint32(b, uapi.TCA_BPF_FLAGS_GEN, f.Flags)
	}
	if f.DirectAction {
		b = nlattr.AppendUint32(b, uapi.TCA_BPF_FLAGS, uapi.TCA_BPF_FLAG_ACT_DIRECT)
	}
	return b, nil
}

// policeOptions returns the TCA_OPTIONS payload of a police spec, which
// is what TCA_BPF_POLICE carries.
func policeOptions(p *action.Police) []byte {
	nest := action.EncodeSpec(p)
	for len(nest) >= 4 {
		l := int(binary.LittleEndian.Uint16(nest))
		typ := binary.LittleEndian.Uint16(nest[2:]) & 0x3FFF
		if l < 4 || l > len(nest) {
			break
		}
		if typ == uapi.TCA_ACT_OPTIONS {
			return nest[4:l]
		}
		l = (l + 3) &^ 3
		if l > len(nest) {
			break
		}
		nest = nest[l:]
	}
	return nil
}

// ActionRequest returns the filter's actions as a netlink change carries
// them to an ActionParser (classifier.NewActionParser): TCA_BPF_ACT for
// the action list and TCA_BPF_POLICE for the legacy police, which wins
// when both are given. ingress says the filter sits at an ingress hook.
// It is for callers that build a classifier.FilterSpec themselves instead
// of calling Apply.
func (f *Filter) ActionRequest(ingress bool) classifier.ActionRequest {
	req := classifier.ActionRequest{Ingress: ingress, Replace: f.Command == Change}
	if len(f.Actions) > 0 {
		req.Act = action.EncodeSpecs(f.Actions)
	}
	if f.Police != nil {
		req.Police = policeOptions(f.Police)
	}
	return req
}

// Message returns the RTM_NEWTFILTER request tc sends for the filter: the
// command's netlink flags, tcm_ifindex (the resolved device), tcm_parent,
// tcm_handle, tcm_info (priority and protocol), TCA_KIND, TCA_CHAIN when
// given, and TCA_OPTIONS.
func (f *Filter) Message() (classifier.Message, error) {
	opts, err := f.Options()
	if err != nil {
		return classifier.Message{}, err
	}
	m := classifier.Message{
		Type:  uapi.RTM_NEWTFILTER,
		Flags: uint16(f.Command.flags()),
		TCMsg: classifier.TCMsg{
			Ifindex: int32(f.Ifindex),
			Handle:  f.Handle,
			Parent:  uint32(f.Parent),
			Info:    classifier.Info(f.Pref, f.Protocol),
		},
	}
	if f.Block != 0 {
		m.TCMsg.Ifindex = -1 // TCM_IFINDEX_MAGIC_BLOCK
		m.TCMsg.Parent = f.Block
	}
	m.Attrs = nlattr.AppendString(nil, uapi.TCA_KIND, classifier.Kind)
	if f.HasChain {
		m.Attrs = nlattr.AppendUint32(m.Attrs, uapi.TCA_CHAIN, f.Chain)
	}
	m.Attrs = nlattr.Append(m.Attrs, uapi.TCA_OPTIONS, opts)
	return m, nil
}

// Apply carries the filter's request out on b (Block.Request), as the
// kernel carries out the request tc sends: the block's Config decides how
// actions are built (set its Actions to classifier.NewActionParser of an
// action.Table for filters with actions or police). The device and parent
// of the line are not checked against the block: choosing the block is
// the caller's business. Errors are the block's, with the kernel's errno.
func (f *Filter) Apply(b *classifier.Block) error {
	m, err := f.Message()
	if err != nil {
		return err
	}
	_, err = b.Request(m)
	return err
}
