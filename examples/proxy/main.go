//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clsbpf/clsbpf/handle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, nil))
}

// stringList is a repeatable string flag.
type stringList []string

// String joins the values for flag's usage text.
func (s *stringList) String() string { return strings.Join(*s, "; ") }

// Set adds one value.
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// run is the command: it serves until ctx ends (or stdin closes with
// -stdin), then prints the statistics. ready, if set, gets the proxy
// once it listens. It returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, ready func(*Proxy)) int {
	fl := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var upstreams, rules stringList
	listen := fl.String("listen", "127.0.0.1:0", "loopback `address` to listen on")
	def := fl.String("default", "", "upstream `address` for datagrams no rule sends elsewhere")
	fl.Var(&upstreams, "upstream", "`CLASSID=ADDRESS`: where datagrams classified to CLASSID go (repeatable)")
	fl.Var(&rules, "rule", "a tc filter `command` such as \"tc filter add dev lo ingress pref 1 bpf bytecode '...' classid 1:2\" (repeatable)")
	rulesFile := fl.String("rules", "", "`file` of tc filter commands, one per line")
	workers := fl.Int("workers", 2, "`number` of workers (sockets, packets and slots)")
	every := fl.Duration("stats", 0, "print statistics every `interval` (0: only at the end)")
	fromStdin := fl.Bool("stdin", false, "apply tc filter commands read from standard input while serving; stop at its end")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := Config{Listen: *listen, Workers: *workers, Upstreams: map[handle.Handle]netip.AddrPort{}}
	for _, u := range upstreams {
		c, a, ok := strings.Cut(u, "=")
		h, err := handle.ParseClassID(c)
		ap, aerr := netip.ParseAddrPort(a)
		if !ok || err != nil || aerr != nil {
			fmt.Fprintf(stderr, "proxy: -upstream %q: want CLASSID=ADDRESS such as 1:2=127.0.0.1:9002\n", u)
			return 2
		}
		cfg.Upstreams[h] = ap
	}
	if *def != "" {
		ap, err := netip.ParseAddrPort(*def)
		if err != nil {
			fmt.Fprintf(stderr, "proxy: -default %q: %v\n", *def, err)
			return 2
		}
		cfg.Default = ap
	}
	if *rulesFile != "" {
		data, err := os.ReadFile(*rulesFile)
		if err != nil {
			fmt.Fprintln(stderr, "proxy:", err)
			return 1
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				rules = append(rules, l)
			}
		}
	}
	p, err := NewProxy(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "proxy:", err)
		return 1
	}
	defer p.Close()
	for i, r := range rules {
		if err := p.Apply(r); err != nil {
			fmt.Fprintf(stderr, "proxy: rule %d: %v\n", i+1, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "listening on %s with %d workers and %d rules\n", p.Addr(), len(p.workers), len(rules))
	if ready != nil {
		ready(p)
	}
	done := ctx.Done()
	if *fromStdin {
		lines := make(chan struct{})
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdin)
			for sc.Scan() {
				l := strings.TrimSpace(sc.Text())
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				if err := p.Apply(l); err != nil {
					fmt.Fprintf(stderr, "proxy: %v\n", err)
				} else {
					fmt.Fprintf(stdout, "applied: %s\n", l)
				}
			}
		}()
		select {
		case <-lines:
		case <-done:
		}
	} else {
		var tick <-chan time.Time
		if *every > 0 {
			t := time.NewTicker(*every)
			defer t.Stop()
			tick = t.C
		}
	loop:
		for {
			select {
			case <-done:
				break loop
			case <-tick:
				_ = p.WriteStats(stdout)
			}
		}
	}
	fmt.Fprintln(stdout)
	if err := p.WriteStats(stdout); err != nil {
		fmt.Fprintln(stderr, "proxy:", err)
		return 1
	}
	return 0
}
