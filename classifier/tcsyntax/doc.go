// Package tcsyntax reads and writes tc's command-line language for the bpf
// classifier, so that an operator's existing tc scripts configure a
// classifier.Block unchanged and the Block lists its filters as tc does.
//
// # Model
//
// ParseFilter reads one `tc filter add|change|replace` line (the leading
// "tc filter add dev X" may be left out) into a Filter: the generic part
// as iproute2's tc/tc_filter.c parses it (dev, block, root, ingress,
// egress, parent, protocol, pref, handle, chain), the kind "bpf", and
// cls_bpf's options as tc/f_bpf.c and lib/bpf_legacy.c parse them
// (bytecode, bytecode-file, object-file with section/export/verbose,
// object-pinned, classid/flowid, da, skip_hw, skip_sw, police, action).
// ParseActions reads action lists as tc/m_action.c does, with each kind's
// grammar from tc/m_gact.c, m_mirred.c, m_skbedit.c, m_police.c, m_vlan.c,
// m_csum.c and m_bpf.c, including tc's prefix matching of keywords ("p"
// is "pass", "cl" is "classid"), its defaults (mirred redirect is
// "stolen", skbedit "pipe", police "reclassify", csum "pass") and its
// refusals, whose texts the errors reuse.
//
// A Filter is plain data. Message builds the RTM_NEWTFILTER request tc
// would send; Apply hands it to Block.Request, so the Block refuses what
// the kernel refuses with the kernel's errno. Filter.String prints the
// line back in a canonical form that parses to the same Filter.
//
// Show and FormatFilter print a Block's filters as `tc [-s] filter show
// dev DEV ingress` does (tc_filter.c print_filter, f_bpf.c bpf_print_opt,
// m_action.c tc_print_action), from the attributes each filter dumps.
//
// # Concurrency
//
// Parsing and printing are pure functions of their inputs; a Filter is
// not shared by the package. Show reads a Block through its
// concurrency-safe accessors.
//
// # Errors
//
// A refused line is an *Error naming the word at fault and its position,
// with tc's message where tc has one. It wraps syscall.EINVAL, or the
// cause's errno: ENOENT for a missing bytecode-file, ENODEV for a device
// Devices does not know, EOPNOTSUPP for what the package does not
// configure (filter kinds other than bpf, action kinds other than the
// seven above, estimators, hw_stats). An "obj" line is loaded while it
// is parsed, as tc loads it, through Config.Objects: the object's file
// (through Objects.ReadFile, from Objects.FS, or from the working
// directory), the section's program
// (ENOENT when the section has none), its maps with iproute2's pinning
// in Objects.Pins; the program goes into Objects.Programs and the filter
// sends TCA_BPF_FD and TCA_BPF_NAME "file.o:[section]" (the base name, as
// tc). Without Config.Objects, Message refuses it with ErrNoObjects and
// EOPNOTSUPP. A pinned program parses, but Message and Apply refuse it
// with ErrObjectNotSupported and EOPNOTSUPP: there is no bpffs to take it
// from. Show prints an eBPF filter as tc does ("name" after the id) but
// never "jited", as the library has no JIT.
//
// The reference is iproute2 6.1 (Debian 12), the tc the tests run: the
// kernel-differential tests compare, for hundreds of generated lines,
// whether tc and the package accept each line, the RTM_NEWTFILTER request
// tc sends (captured with strace) with Message attribute by attribute,
// and `tc [-s] filter show` with Show after each command of add, replace
// and change sequences. tc's quirks are kept where they change what the
// kernel gets: a cookie carries on to the later actions of its list, a
// MAC address given twice keeps the bytes the second leaves out, classid
// given twice keeps the last, and of two action lists split by a classid
// the kernel keeps the last.
//
// # Limits
//
// Shell syntax beyond quoting (variables, globs, pipes) is refused rather
// than guessed. Of a section holding several programs, an "obj" line loads
// the first by function name (libbpf takes the first in the object); only
// that program is loaded, the object's maps all are. "export" is kept but
// no socket is handed the maps; "pinned" programs are refused. act_bpf takes inline bytecode only. A police burst is
// kept in ticks, so Filter.String prints the smallest size in bytes that
// gives those ticks. Three things tc sends and the kernel refuses are
// refused when parsed, so that every accepted line prints back: a mirred
// action with a direction but no mode or no device, and tc's "action d"
// oddity (a command word ending an empty action list).
//
// # Kernel and iproute2 sources
//
// iproute2 tc/tc_filter.c, tc/f_bpf.c, lib/bpf_legacy.c, tc/m_action.c,
// tc/m_*.c, tc/tc_util.c (parse_action_control, get_rate, get_size),
// lib/ll_proto.c; the requests go through classifier.Block, which follows
// net/sched/cls_api.c and net/sched/cls_bpf.c.
package tcsyntax
