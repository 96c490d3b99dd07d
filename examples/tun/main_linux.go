//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clsbpf/clsbpf/handle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil, nil))
}

// stringList is a repeatable string flag.
type stringList []string

// String joins the values for flag's usage text.
func (s *stringList) String() string { return strings.Join(*s, "; ") }

// Set adds one value.
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// execRunner runs commands in the current network namespace.
func execRunner(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// run is the command: it sets the devices up, applies the rules, serves
// until ctx ends and prints the statistics. do and runner default to the
// current namespace; ready, if set, gets the path once it runs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ns *nsHooks, ready func(*Path)) int {
	fl := flag.NewFlagSet("tun", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var rules, redirects stringList
	in := fl.String("in", "tin:10.9.0.1/24", "input `NAME:ADDRESS/BITS`: the TUN device whose packets are classified")
	pass := fl.String("pass", "tpass:10.9.1.1/24", "`NAME:ADDRESS/BITS` of the TUN device passed packets are delivered into")
	fl.Var(&redirects, "redirect", "`CLASSID=NAME:ADDRESS/BITS`: deliver packets of class CLASSID into that TUN device (repeatable)")
	fl.Var(&rules, "rule", "a tc filter `command` (repeatable)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var s Setup
	var err error
	if s.In, err = ParseDevSpec(*in); err == nil {
		s.Pass, err = ParseDevSpec(*pass)
	}
	s.Redirect = map[handle.Handle]DevSpec{}
	for _, r := range redirects {
		c, d, ok := strings.Cut(r, "=")
		h, herr := handle.ParseClassID(c)
		ds, derr := ParseDevSpec(d)
		if !ok || herr != nil || derr != nil {
			err = fmt.Errorf("-redirect %q: want CLASSID=NAME:ADDRESS/BITS: %w", r, syscall.EINVAL)
			break
		}
		s.Redirect[h] = ds
	}
	if err != nil {
		fmt.Fprintln(stderr, "tun:", err)
		return 2
	}
	do, runner := func(fn func() error) error { return fn() }, Runner(execRunner)
	if ns != nil {
		do, runner = ns.do, ns.run
	}
	p, err := s.Open(do, runner)
	if err != nil {
		fmt.Fprintln(stderr, "tun:", err)
		return 1
	}
	defer p.Close()
	for i, r := range rules {
		if err := p.Apply(r); err != nil {
			fmt.Fprintf(stderr, "tun: rule %d: %v\n", i+1, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "classifying packets written to %s (%s) with %d rules\n", s.In.Name, s.In.Prefix, len(rules))
	errc := make(chan error, 1)
	go func() { errc <- p.Run() }()
	if ready != nil {
		ready(p)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			fmt.Fprintln(stderr, "tun:", err)
			return 1
		}
	}
	p.Close()
	fmt.Fprintln(stdout)
	if err := p.WriteStats(stdout); err != nil {
		fmt.Fprintln(stderr, "tun:", err)
		return 1
	}
	return 0
}

// nsHooks let a test run the command in a private network namespace.
type nsHooks struct {
	do  func(func() error) error
	run Runner
}
