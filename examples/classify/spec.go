package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
)

// filterSpec is one filter as written for `tc filter add dev DEV parent
// P`, after the device and parent, as classifier/tcsyntax parses it.
type filterSpec struct {
	text string // the spec as written
	desc string // a description: the comment before it in a file, or the default's
	f    *tcsyntax.Filter
}

// SpecError is a refused filter spec. It names the spec (its position in
// the list and, for a file, its line), the token at fault and why, and
// wraps EINVAL as tc's parser and the kernel refuse such input, or the
// cause's errno.
type SpecError struct {
	Source string // "filter 2" or "filters.txt:7"
	Token  string // the offending token, "" when the spec as a whole is at fault
	Index  int    // the token's position in the spec, from 1; 0 with no token
	Msg    string
	Err    error // the underlying cause, if any
}

// Error prints "filter 2: token 3 "bytcode": What is "bytcode"?".
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

// devices are the command's devices, by the names filter specs use: the
// capture's Ethernet device, its raw-IP device and two more that mirred
// can send to.
var devices = tcsyntax.DeviceMap{"eth0": 2, "raw0": 3, "eth1": 4, "eth2": 5}

// genericWords are tc_filter_modify's keywords before the kind that take
// an argument; a spec that leaves the kind out gets "bpf" after them.
var genericWords = map[string]bool{
	"protocol": true, "pref": true, "preference": true, "prio": true, "priority": true,
	"handle": true, "chain": true,
}

// parseSpec parses one filter spec. readFile reads a bytecode-file.
func parseSpec(source, text string, readFile func(string) ([]byte, error)) (filterSpec, error) {
	words, err := tcsyntax.Split(text)
	if err != nil {
		var te *tcsyntax.Error
		errors.As(err, &te)
		return filterSpec{}, &SpecError{Source: source, Msg: te.Msg}
	}
	if len(words) == 0 {
		return filterSpec{}, &SpecError{Source: source, Msg: "empty filter spec"}
	}
	// The kind may be left out: insert it where the generic part ends.
	at := 0
	for at < len(words) && genericWords[words[at]] {
		at += 2
	}
	inserted := at < len(words) && words[at] != "bpf"
	if inserted {
		words = append(words[:at:at], append([]string{"bpf"}, words[at:]...)...)
	}
	objects := &tcsyntax.Objects{Programs: &ebpf.ProgramTable{}, ReadFile: readFile}
	f, err := tcsyntax.ParseFilterArgs(words, tcsyntax.Config{Devices: devices, ReadFile: readFile, Objects: objects})
	if err != nil {
		var te *tcsyntax.Error
		if !errors.As(err, &te) {
			return filterSpec{}, &SpecError{Source: source, Msg: "refused", Err: err}
		}
		idx := te.Index
		if inserted && idx > at {
			idx--
		}
		return filterSpec{}, &SpecError{Source: source, Token: te.Token, Index: idx, Msg: te.Msg, Err: te.Err}
	}
	fail := func(word, msg string, err error) (filterSpec, error) {
		for i, w := range words {
			if w == word {
				if inserted && i >= at {
					i--
				}
				return filterSpec{}, &SpecError{Source: source, Token: word, Index: i + 1, Msg: msg, Err: err}
			}
		}
		return filterSpec{}, &SpecError{Source: source, Msg: msg, Err: err}
	}
	switch {
	case f.Chain != 0:
		return fail(strconv.FormatUint(uint64(f.Chain), 10), "only chain 0 is modelled", nil)
	case f.Source == tcsyntax.ObjectPinned:
		return fail(f.File, "pinned programs cannot be loaded: use obj FILE", fmt.Errorf("%w: %w", tcsyntax.ErrObjectNotSupported, syscall.EOPNOTSUPP))
	}
	for _, s := range f.Actions {
		if g, ok := s.(*action.Gact); ok && (g.Verdict.IsGotoChain() || g.ProbVerdict.IsGotoChain()) {
			return fail("goto", "goto chain: only chain 0 is modelled", nil)
		}
	}
	return filterSpec{text: text, f: f}, nil
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
		fs, err := parseSpec(src, t, inDir(filepath.Dir(name), readFile))
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

// withDefaultObject reads the default set's object from the embedded copy
// and everything else through readFile.
func withDefaultObject(readFile func(string) ([]byte, error)) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if name == defaultObject {
			return defaultObjectData, nil
		}
		return readFile(name)
	}
}

// inDir reads a relative name from dir first (a spec file's directory)
// and then as given (the working directory).
func inDir(dir string, readFile func(string) ([]byte, error)) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) && dir != "." && dir != "" {
			if b, err := readFile(filepath.Join(dir, name)); err == nil {
				return b, nil
			}
		}
		return readFile(name)
	}
}

// osReadFile reads bytecode files and filter files from the file system.
func osReadFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file: %w", name, syscall.ENOENT)
	}
	return b, err
}
