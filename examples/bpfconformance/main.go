// Command bpfconformance is a plugin for the bpf_conformance test runner
// (github.com/Alan-Jowett/bpf_conformance): it lets the upstream runner, or
// any suite in its format, drive clsbpf's eBPF VM the way it drives uBPF,
// rbpf and the Linux kernel.
//
// Protocol (the one the runner and its other plugins use):
//
//	bpfconformance [--program <hex>] [<hex memory>] [options...] < program-hex
//
// The program comes as hex bytes (two digits per byte, separated by
// whitespace) on standard input, one line, or with --program. The first
// argument that does not start with "--" is the input memory in the same
// form; the program gets R1 = a pointer to a copy of it and R2 = its
// length. On success the plugin prints R0 in hex and a newline on standard
// output and exits 0; a rejected program or a run-time fault prints the
// error on standard error and exits 1. Empty arguments (the runner passes
// empty plugin options as "") are ignored.
//
// Options:
//
//	--cpu_version v1|v2|v3|v4  refuse instructions newer than that ISA
//	                           version (default v4: everything)
//	--profile rfc|linux        load under RFC 9669 rules (default) or the
//	                           Linux verifier's (constant division by zero
//	                           and oversized constant shifts rejected, no
//	                           callx)
//	--debug                    print the load error detail on standard output
//	--elf                      the input is an ELF object: not supported,
//	                           exits 1
//
// Helper 5 returns its first argument, the only helper the suite calls.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/uapi"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// decodeHex reads whitespace-separated hex bytes; digits may also run
// together ("b700...").
func decodeHex(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	return hex.DecodeString(s)
}

// run is the plugin; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var progHex, memHex string
	haveProg, haveMem := false, false
	cpu := 4
	profile := ebpfvm.ProfileRFC
	debug := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.TrimSpace(a) == "":
		case a == "--help":
			fmt.Fprintln(stdout, "usage: bpfconformance [--program <hex>] [<hex memory>] [--cpu_version v1|v2|v3|v4] [--profile rfc|linux] [--debug] [--elf]")
			return 1
		case a == "--program" && i+1 < len(args):
			i++
			progHex, haveProg = args[i], true
		case a == "--cpu_version" && i+1 < len(args):
			i++
			v := strings.TrimPrefix(args[i], "v")
			if len(v) != 1 || v[0] < '1' || v[0] > '4' {
				fmt.Fprintf(stderr, "unknown cpu version %q\n", args[i])
				return 1
			}
			cpu = int(v[0] - '0')
		case a == "--profile" && i+1 < len(args):
			i++
			switch args[i] {
			case "rfc":
				profile = ebpfvm.ProfileRFC
			case "linux":
				profile = ebpfvm.ProfileLinux
			default:
				fmt.Fprintf(stderr, "unknown profile %q\n", args[i])
				return 1
			}
		case a == "--debug":
			debug = true
		case a == "--elf":
			fmt.Fprintln(stderr, "ELF input is not supported")
			return 1
		case strings.HasPrefix(a, "--"):
			fmt.Fprintf(stderr, "Unexpected arguments: %s\n", a)
			return 1
		case !haveMem:
			memHex, haveMem = a, true
		default:
			fmt.Fprintf(stderr, "Unexpected arguments: %s\n", a)
			return 1
		}
	}
	if !haveProg {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(stderr, "read program: %v\n", err)
			return 1
		}
		progHex = line
	}
	code, err := decodeHex(progHex)
	if err != nil {
		fmt.Fprintf(stderr, "bad program hex: %v\n", err)
		return 1
	}
	mem, err := decodeHex(memHex)
	if err != nil {
		fmt.Fprintf(stderr, "bad memory hex: %v\n", err)
		return 1
	}
	insns, err := ebpfvm.Decode(code)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := checkCPU(insns, cpu); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	helpers, err := ebpfvm.NewHelpers(ebpfvm.Helper{
		ID: 5, Name: "unwind", Args: 1,
		Func: func(_ *ebpfvm.Machine, a *[5]uint64) (uint64, error) { return a[0], nil },
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	prog, err := ebpfvm.Load(insns, ebpfvm.Options{Context: ebpfvm.ContextMem, Profile: profile, Helpers: helpers})
	if err != nil {
		if debug {
			fmt.Fprintf(stdout, "Failed to load program: %v\n", err)
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	r0, err := prog.RunMem(mem)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%x\n", r0)
	return 0
}

// checkCPU refuses instructions newer than the ISA version (the runner's
// cpu_version groups: v2 adds JLT/JLE/JSLT/JSLE, v3 the JMP32 class and
// atomics, v4 signed division, sign extension, bswap and gotol).
func checkCPU(insns []ebpfvm.Instruction, cpu int) error {
	for i, in := range insns {
		need := 1
		cls, op := in.Op&0x07, in.Op&0xf0
		switch {
		case cls == uapi.BPF_JMP && (op == uapi.BPF_JLT || op == uapi.BPF_JLE || op == uapi.BPF_JSLT || op == uapi.BPF_JSLE):
			need = 2
		case cls == uapi.BPF_JMP32 && op != uapi.BPF_JA:
			need = 3
		case cls == uapi.BPF_STX && in.Op&0xe0 == uapi.BPF_ATOMIC:
			need = 3
		}
		switch {
		case (cls == uapi.BPF_ALU || cls == uapi.BPF_ALU64) && (op == uapi.BPF_DIV || op == uapi.BPF_MOD) && in.Off == 1,
			(cls == uapi.BPF_ALU || cls == uapi.BPF_ALU64) && op == uapi.BPF_MOV && in.Op&uapi.BPF_X != 0 && in.Off != 0,
			cls == uapi.BPF_LDX && in.Op&0xe0 == uapi.BPF_MEMSX,
			cls == uapi.BPF_ALU64 && op == uapi.BPF_END,
			cls == uapi.BPF_JMP32 && op == uapi.BPF_JA:
			need = 4
		}
		if need > cpu {
			return fmt.Errorf("instruction %d (opcode %#02x) needs cpu version v%d, have v%d", i, in.Op, need, cpu)
		}
	}
	return nil
}
