package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
	"github.com/clsbpf/clsbpf/handle"
)

//go:generate go run gen.go

// sampleCapture is the default capture; gen.go writes it.
//
//go:embed sample.pcap
var sampleCapture []byte

// The devices frames arrive on.
var (
	ethDevice = packet.EthernetDevice(2, [6]byte{0x02, 0, 0, 0, 0, 0x01})
	l3Device  = packet.Device{Ifindex: 3, Type: packet.ARPHRDNone}
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// run is the command: it returns the exit status (0 done, 1 failed, 2 bad
// usage).
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("classify", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var opts options
	fl.StringVar(&opts.pcap, "pcap", "", "capture `file` to classify (pcap or pcapng); default: the embedded sample")
	fl.Var(&opts.filters, "filter", "a tc filter `spec` such as 'pref 1 bpf bytecode \"...\" classid 1:10' (repeatable)")
	fl.StringVar(&opts.filtersFile, "filters", "", "`file` of filter specs, one per line")
	fl.BoolVar(&opts.verbose, "v", false, "print each frame's result")
	fl.StringVar(&opts.hook, "hook", "ingress", "the `hook` frames pass: ingress (as received) or egress (as sent)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: classify [-pcap FILE] [-filter SPEC]... [-filters FILE] [-hook ingress|egress] [-v]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "classify: unexpected argument %q\n", fl.Arg(0))
		fl.Usage()
		return 2
	}
	if opts.hook != "ingress" && opts.hook != "egress" {
		fmt.Fprintf(stderr, "classify: -hook %q: want ingress or egress\n", opts.hook)
		fl.Usage()
		return 2
	}
	if err := classify(opts, osReadFile, stdout); err != nil {
		fmt.Fprintln(stderr, "classify:", err)
		return 1
	}
	return 0
}

// options are the command's flags.
type options struct {
	pcap        string
	filters     stringList
	filtersFile string
	hook        string // "ingress" (the default) or "egress"
	verbose     bool
}

// loadSpecs returns the filter specs the options name, or the defaults.
func loadSpecs(opts options, readFile func(string) ([]byte, error)) ([]filterSpec, []string, error) {
	var specs []filterSpec
	var sources []string
	if opts.filtersFile != "" {
		data, err := readFile(opts.filtersFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read filters: %w", err)
		}
		fs, srcs, err := parseSpecFile(opts.filtersFile, data, readFile)
		if err != nil {
			return nil, nil, err
		}
		specs, sources = append(specs, fs...), append(sources, srcs...)
	}
	for i, text := range opts.filters {
		src := fmt.Sprintf("filter %d", i+1)
		fs, err := parseSpec(src, text, readFile)
		if err != nil {
			return nil, nil, err
		}
		specs = append(specs, fs)
		sources = append(sources, src)
	}
	if len(specs) == 0 {
		for i, d := range defaultFilters {
			src := fmt.Sprintf("default filter %d", i+1)
			fs, err := parseSpec(src, d.spec, withDefaultObject(readFile))
			if err != nil {
				return nil, nil, err
			}
			fs.desc = d.desc
			specs = append(specs, fs)
			sources = append(sources, src)
		}
	}
	return specs, sources, nil
}

// stats are the counters the report prints.
type stats struct {
	frames, truncated, dropped int
	verdicts                   map[action.Verdict]int
	classFrames, classBytes    map[handle.Handle]int
	noClassFrames, noClassByte int
}

// report is the outcome of one run over a capture.
type report struct {
	stats
	name, format string
	egress       bool
	blk          *block
	verbose      bool
	frameLines   strings.Builder
}

// classify reads the capture, runs every frame through the filters and
// writes the report.
func classify(opts options, readFile func(string) ([]byte, error), out io.Writer) error {
	r, err := runCapture(opts, readFile)
	if err != nil {
		return err
	}
	r.write(out)
	return nil
}

// runCapture builds the filters, then hands every frame of the capture to
// them on the chosen hook.
func runCapture(opts options, readFile func(string) ([]byte, error)) (*report, error) {
	var egress bool
	switch opts.hook {
	case "", "ingress":
	case "egress":
		egress = true
	default:
		return nil, fmt.Errorf("hook %q: want ingress or egress: %w", opts.hook, syscall.EINVAL)
	}
	specs, sources, err := loadSpecs(opts, readFile)
	if err != nil {
		return nil, err
	}
	blk, err := buildBlock(specs, sources, egress)
	if err != nil {
		return nil, err
	}
	data, name := sampleCapture, "embedded sample.pcap"
	if opts.pcap != "" {
		if data, err = readFile(opts.pcap); err != nil {
			return nil, fmt.Errorf("read capture: %w", err)
		}
		name = opts.pcap
	}
	c, err := openCapture(data)
	if err != nil {
		return nil, err
	}

	r := &report{
		stats: stats{
			verdicts:    map[action.Verdict]int{},
			classFrames: map[handle.Handle]int{},
			classBytes:  map[handle.Handle]int{},
		},
		name: name, format: c.format, egress: egress, blk: blk, verbose: opts.verbose,
	}
	st := &r.stats
	pkt := packet.New(1514)
	for {
		frame, ci, lt, err := c.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		st.frames++
		if ci.CaptureLength < ci.Length {
			st.truncated++
		}
		switch {
		case lt == layers.LinkTypeEthernet && egress:
			err = pkt.Transmit(frame, ethDevice)
		case lt == layers.LinkTypeEthernet:
			err = pkt.Receive(frame, ethDevice)
		case lt == layers.LinkTypeRaw || lt == layers.LinkTypeIPv4 || lt == layers.LinkTypeIPv6:
			if egress {
				err = pkt.TransmitL3(frame, l3Device)
			} else {
				err = pkt.ReceiveL3(frame, l3Device)
			}
		default:
			return nil, &CaptureError{Frame: c.n, Err: fmt.Errorf("link type %v is not supported (want Ethernet or raw IP): %w", lt, syscall.EPROTONOSUPPORT)}
		}
		if err != nil {
			// The kernel drops such a frame before tc sees it.
			st.dropped++
			if opts.verbose {
				fmt.Fprintf(&r.frameLines, "%5d %-52s dropped before tc: %v\n", c.n, describe(frame, lt), err)
			}
			continue
		}
		res, f := blk.classify(pkt)
		if res.Verdict == action.Consumed {
			// mirred handed the frame itself to its device: the hooks
			// treat TC_ACT_CONSUMED as stolen (sch_handle_ingress).
			res.Verdict = action.Stolen
		}
		st.verdicts[res.Verdict]++
		switch {
		case !res.Decided() || f == nil:
			st.noClassFrames++
			st.noClassByte += len(frame)
		case res.Verdict == action.Shot || res.Verdict == action.Stolen || res.Verdict == action.Queued || res.Verdict == action.Trap:
			// Gone: the packet reaches no class (htb_classify).
			f.frames++
			f.bytes += uint64(len(frame))
		default:
			f.frames++
			f.bytes += uint64(len(frame))
			st.classFrames[res.ClassID]++
			st.classBytes[res.ClassID] += len(frame)
		}
		if opts.verbose {
			result := "no match"
			if f != nil {
				result = fmt.Sprintf("pref %d handle %#x classid %v", f.where.Prio, f.handle, res.ClassID)
			}
			fmt.Fprintf(&r.frameLines, "%5d %-52s %s, %v\n", c.n, describe(frame, lt), result, res.Verdict)
		}
	}
	return r, nil
}

// write prints the report.
func (r *report) write(out io.Writer) {
	st := &r.stats
	hook, parent := "ingress", "ffff:fff2"
	if r.egress {
		hook, parent = "egress", "ffff:fff3"
	}
	fmt.Fprintf(out, "capture: %s (%s, %d frames, %d cut by the snap length)\n", r.name, r.format, st.frames, st.truncated)
	fmt.Fprintf(out, "hook: clsact %s of ifindex %d (Ethernet) or %d (raw IP)\n", hook, ethDevice.Ifindex, l3Device.Ifindex)
	if r.verbose {
		fmt.Fprintln(out)
		fmt.Fprint(out, r.frameLines.String())
	}
	fmt.Fprintln(out)
	for _, f := range r.blk.filters() {
		printFilter(out, r.blk, parent, f)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "%-18s %7s\n", "verdict", "frames")
	verdicts := make([]action.Verdict, 0, len(st.verdicts))
	for v := range st.verdicts {
		verdicts = append(verdicts, v)
	}
	slices.Sort(verdicts)
	for _, v := range verdicts {
		fmt.Fprintf(out, "%-18v %7d\n", v, st.verdicts[v])
	}
	if st.dropped > 0 {
		fmt.Fprintf(out, "%-18s %7d\n", "dropped before tc", st.dropped)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "%-18s %7s %9s\n", "class", "frames", "bytes")
	classes := make([]handle.Handle, 0, len(st.classFrames))
	for h := range st.classFrames {
		classes = append(classes, h)
	}
	slices.Sort(classes)
	for _, h := range classes {
		fmt.Fprintf(out, "%-18v %7d %9d\n", h, st.classFrames[h], st.classBytes[h])
	}
	fmt.Fprintf(out, "%-18s %7d %9d\n", "unclassified", st.noClassFrames, st.noClassByte)
	if lines := r.blk.fwd.lines(); len(lines) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintf(out, "%-28s %7s\n", "mirred", "frames")
		for _, l := range lines {
			fmt.Fprintf(out, "%-28s %7d\n", l, r.blk.fwd.sent[l])
		}
	}
}

// The class table counts the frames that reach a class: those a filter
// classified with a verdict that lets them on; dropped, stolen, queued and
// trapped frames are in the verdict table only.

// printFilter prints a filter as `tc -s filter show dev DEV` does
// (classifier/tcsyntax.FormatFilter, with the parent tc prints when the
// command names none), then its description and match counters.
func printFilter(out io.Writer, b *block, parent string, f *installed) {
	p, ok := b.blk.Proto(f.where)
	if !ok {
		return
	}
	cf, ok := p.Get(f.handle)
	if !ok {
		return
	}
	text, err := tcsyntax.FormatFilter(p, cf, true)
	if err != nil {
		fmt.Fprintf(out, "filter %#x: %v\n", f.handle, err)
		return
	}
	text = "filter parent " + parent + " " + strings.TrimPrefix(text, "filter ")
	fmt.Fprint(out, strings.TrimRight(text, "\n")+"\n")
	if f.spec.desc != "" {
		fmt.Fprintf(out, "  # %s\n", f.spec.desc)
	}
	fmt.Fprintf(out, "  matched %d frames, %d bytes\n", f.frames, f.bytes)
}

// describe summarizes a frame in one line for -v, from gopacket's decoding.
func describe(frame []byte, lt layers.LinkType) string {
	p := gopacket.NewPacket(frame, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	var parts []string
	if d, ok := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		parts = append(parts, fmt.Sprintf("vlan %d", d.VLANIdentifier))
	}
	var src, dst string
	switch n := p.NetworkLayer().(type) {
	case *layers.IPv4:
		src, dst = n.SrcIP.String(), n.DstIP.String()
	case *layers.IPv6:
		src, dst = n.SrcIP.String(), n.DstIP.String()
	}
	truncated := p.Metadata().Truncated || p.ErrorLayer() != nil
	transport := p.TransportLayer()
	if truncated {
		transport = nil // a header cut short decodes as zeros
	}
	switch t := transport.(type) {
	case *layers.TCP:
		flags := ""
		if t.SYN {
			flags += "S"
		}
		if t.ACK {
			flags += "."
		}
		if t.PSH {
			flags += "P"
		}
		parts = append(parts, fmt.Sprintf("tcp %s:%d > %s:%d [%s]", src, t.SrcPort, dst, t.DstPort, flags))
	case *layers.UDP:
		parts = append(parts, fmt.Sprintf("udp %s:%d > %s:%d", src, t.SrcPort, dst, t.DstPort))
	default:
		switch {
		case p.Layer(layers.LayerTypeICMPv4) != nil:
			parts = append(parts, "icmp "+src+" > "+dst)
		case p.Layer(layers.LayerTypeICMPv6) != nil:
			parts = append(parts, "icmp6 "+src+" > "+dst)
		case p.Layer(layers.LayerTypeARP) != nil:
			parts = append(parts, "arp")
		case p.Layer(layers.LayerTypeLLC) != nil:
			parts = append(parts, "llc")
		case src != "":
			parts = append(parts, "ip "+src+" > "+dst)
		default:
			parts = append(parts, "?")
		}
	}
	if truncated {
		parts = append(parts, "(cut short)")
	}
	return strings.Join(parts, " ")
}
