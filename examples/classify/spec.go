package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/handle"
)

// ethPAll is ETH_P_ALL, tc's "protocol all" and the default protocol of a
// filter.
const ethPAll = 0x0003

// filterSpec is one filter as written for `tc filter add dev DEV parent P`,
// after the device and parent: the generic part (protocol, pref, handle,
// chain), the kind "bpf" (which may be left out), and cls_bpf's options.
type filterSpec struct {
	text     string // the spec as written
	desc     string // a description: the comment before it in a file, or the default's
	protocol uint16 // host order; ethPAll for "all"
	pref     uint16 // 0: tc's automatic preference
	handle   uint32 // 0: allocated by the chain
	classID  handle.Handle
	raw      []bpf.RawInstruction
	direct   bool
	genFlags uint32
	actions  []action.Spec // tc actions run on a match (classid mode)
}

// SpecError is a refused filter spec. It names the spec (its position in
// the list and, for a file, its line), the token at fault and why, and
// wraps EINVAL as tc's parser and the kernel refuse such input.
type SpecError struct {
	Source string // "filter 2" or "filters.txt:7"
	Token  string // the offending token, "" when the spec as a whole is at fault
	Index  int    // the token's position in the spec, from 1; 0 with no token
	Msg    string
	Err    error // the underlying cause, if any
}

// Error prints "filter 2: token 3 "bytcode": unknown option".
func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Index > 0 {
		fmt.Fprintf(&b, ": token %d %q", e.Index, e.Token)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause and syscall.EINVAL, or the cause alone when it
// carries an errno of its own (ENOENT for a missing file, EOPNOTSUPP for an
// option this command does not take, the kernel's errno for a refused
// filter).
func (e *SpecError) Unwrap() []error {
	var errno syscall.Errno
	if e.Err == nil {
		return []error{syscall.EINVAL}
	}
	if errors.As(e.Err, &errno) {
		return []error{e.Err}
	}
	return []error{e.Err, syscall.EINVAL}
}

// tokenize splits a spec into words as a POSIX shell would for these
// arguments: blanks separate words, and single or double quotes group
// (without escapes; adjacent quoted and bare parts join into one word).
func tokenize(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c quote at byte %d", c, i+1)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// protocolNames are the names iproute2's ll_proto_a2n knows for the
// protocols a classifier is usually given; any other protocol is written
// as a number.
var protocolNames = map[string]uint16{
	"all":     0x0003,
	"ip":      0x0800,
	"ipv6":    0x86DD,
	"arp":     0x0806,
	"802.1q":  0x8100,
	"802.1ad": 0x88A8,
	"mpls_uc": 0x8847,
	"lldp":    0x88CC,
}

// protocolName prints a protocol as tc filter show does.
func protocolName(p uint16) string {
	switch p {
	case 0x8100:
		return "802.1Q"
	case 0x88A8:
		return "802.1ad"
	}
	for name, v := range protocolNames {
		if v == p {
			return name
		}
	}
	return fmt.Sprintf("[%04x]", p)
}

// parseSpec parses one filter spec. readFile reads a bytecode-file.
func parseSpec(source, text string, readFile func(string) ([]byte, error)) (filterSpec, error) {
	fs := filterSpec{text: text, protocol: ethPAll}
	mkErr := func(i int, tok, msg string, err error) error {
		return &SpecError{Source: source, Token: tok, Index: i + 1, Msg: msg, Err: err}
	}
	fail := func(i int, tok, msg string, err error) (filterSpec, error) {
		return filterSpec{}, mkErr(i, tok, msg, err)
	}
	words, err := tokenize(text)
	if err != nil {
		return filterSpec{}, &SpecError{Source: source, Msg: err.Error()}
	}
	if len(words) == 0 {
		return filterSpec{}, &SpecError{Source: source, Msg: "empty filter spec"}
	}
	// next returns the argument of words[i]; ok is false at the end.
	next := func(i int) (string, bool) {
		if i+1 >= len(words) {
			return "", false
		}
		return words[i+1], true
	}
	i := 0
	// The generic part, before the kind (tc/tc_filter.c).
generic:
	for ; i < len(words); i++ {
		w := words[i]
		switch w {
		case "protocol":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing protocol", nil)
			}
			p, ok := protocolNames[strings.ToLower(arg)]
			if !ok {
				v, err := handle.ParseFilter(arg)
				if err != nil || v > 0xFFFF {
					return fail(i+1, arg, "unknown protocol: not a name (all, ip, ipv6, arp, 802.1Q, 802.1ad, ...) or a 16-bit number", nil)
				}
				p = uint16(v)
			}
			fs.protocol = p
			i++
		case "pref", "preference", "prio", "priority":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing preference", nil)
			}
			v, err := handle.ParseFilter(arg)
			if err != nil || v == 0 || v > 0xFFFF {
				return fail(i+1, arg, "illegal preference: a number from 1 to 65535", nil)
			}
			fs.pref = uint16(v)
			i++
		case "handle":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing handle", nil)
			}
			v, err := handle.ParseFilter(arg)
			if err != nil {
				return fail(i+1, arg, "illegal filter handle", err)
			}
			fs.handle = v
			i++
		case "chain":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing chain index", nil)
			}
			if v, err := handle.ParseFilter(arg); err != nil || v != 0 {
				return fail(i+1, arg, "only chain 0 is modelled", nil)
			}
			i++
		case "bpf":
			i++
			break generic
		default:
			break generic
		}
	}
	// cls_bpf's options (tc/f_bpf.c, lib/bpf_legacy.c).
	seenProgram := false
	for ; i < len(words); i++ {
		w := words[i]
		switch w {
		case "bytecode", "bc", "bytecode-file", "bcf":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing program", nil)
			}
			if seenProgram {
				return fail(i, w, "duplicate program", nil)
			}
			var raw []bpf.RawInstruction
			var err error
			if w == "bytecode" || w == "bc" {
				raw, err = cbpf.ParseBytecode(arg)
			} else {
				var b []byte
				if b, err = readFile(arg); err == nil {
					raw, err = cbpf.ParseBytecodeFile(bytes.NewReader(b))
				}
			}
			if err != nil {
				return fail(i+1, abbreviate(arg), "bad "+w, err)
			}
			fs.raw = raw
			seenProgram = true
			i++
		case "classid", "flowid":
			arg, ok := next(i)
			if !ok {
				return fail(i, w, "missing classid", nil)
			}
			h, err := handle.ParseClassID(arg)
			if err != nil {
				return fail(i+1, arg, "illegal classid", err)
			}
			fs.classID = h
			i++
		case "direct-action", "da":
			fs.direct = true
		case "skip_hw":
			fs.genFlags |= classifier.SkipHW
		case "skip_sw":
			fs.genFlags |= classifier.SkipSW
		case "object-file", "obj", "object-pinned", "pinned", "fd", "section", "sec", "export", "verbose":
			return fail(i, w, "eBPF objects are not supported by this example yet; use bytecode or bytecode-file", syscall.EOPNOTSUPP)
		case "action":
			specs, next, err := parseActions(mkErr, words, i)
			if err != nil {
				return filterSpec{}, err
			}
			fs.actions = append(fs.actions, specs...)
			i = next - 1
		case "police":
			return fail(i, w, "police is not supported by this example yet", syscall.EOPNOTSUPP)
		default:
			return fail(i, w, "unknown option (want bytecode, bytecode-file, classid, da, skip_hw, skip_sw, action)", nil)
		}
	}
	if !seenProgram {
		return filterSpec{}, &SpecError{Source: source, Msg: "no program: give bytecode or bytecode-file"}
	}
	return fs, nil
}

// abbreviate shortens a long token for an error message.
func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// parseSpecFile reads one filter spec per line. Blank lines and lines
// starting with # are skipped; the text of the comment lines right before a
// spec becomes its description. It returns each spec's source, "FILE:LINE".
func parseSpecFile(name string, data []byte, readFile func(string) ([]byte, error)) ([]filterSpec, []string, error) {
	var specs []filterSpec
	var sources []string
	var desc []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "":
			desc = desc[:0]
			continue
		case strings.HasPrefix(t, "#"):
			desc = append(desc, strings.TrimSpace(strings.TrimPrefix(t, "#")))
			continue
		}
		src := name + ":" + strconv.Itoa(line)
		fs, err := parseSpec(src, t, readFile)
		if err != nil {
			return nil, nil, err
		}
		fs.desc = strings.Join(desc, " ")
		desc = desc[:0]
		specs = append(specs, fs)
		sources = append(sources, src)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(specs) == 0 {
		return nil, nil, &SpecError{Source: name, Msg: "no filter specs in file"}
	}
	return specs, sources, nil
}

// osReadFile reads bytecode files and filter files from the file system.
func osReadFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file: %w", name, syscall.ENOENT)
	}
	return b, err
}
