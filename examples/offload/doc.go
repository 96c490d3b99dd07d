// Command offload is a tour of tc hardware offload for driver authors: a
// toy network card driver (NIC, in nic.go) implements offload.Offloader,
// and a shell-like session adds filters with no flag, skip_hw and skip_sw
// to a block shared by two such cards, classifies a few frames and prints
// the filters and their statistics as tc shows them:
//
//	go run ./examples/offload
//
// # The model
//
// The driver is the part a hardware vendor writes. It declares what the
// card runs (offload.Capabilities: classic BPF only, at most 8
// instructions, no scratch memory, chain 0 only) and carries out the
// commands a classifier sends it (offload.Request): Add and Replace
// compile the program for the card and take a table entry (the card has
// 3), Destroy frees it, and Stats reports the hits counted since the last
// Stats. The card also implements offload.HardwareRunner: a skip_sw
// filter runs only on the cards that hold it, on frames that arrived on
// them. Refuse makes the card fail a command, as broken firmware would.
//
// The classifier applies the kernel's decision and error matrix around the
// driver (net/sched/cls_bpf.c cls_bpf_offload_cmd and cls_api.c
// tc_setup_cb_*): a program outside the declared capabilities, a chain
// other than 0, or a device whose hw-tc-offload feature is off is refused
// before the driver sees it; a filter without flags is installed even when
// no card takes it (not_in_hw); a skip_sw filter needs every card of the
// block to take it, and a refusal rolls back what the others took. The
// tour prints each outcome with the kernel's errno and extack text, the
// in_hw/not_in_hw flags of the dump and in_hw_count (which the kernel
// keeps per filter but cls_bpf does not dump). `tc -s filter show` is a
// dump, so the drivers' counters are requested first and added to the
// filter's actions.
//
// # Concurrency
//
// The classifier calls Setup under its writer lock; Run is on the packet
// path, from any number of goroutines: it takes no lock and allocates
// nothing (the table is an immutable map behind an atomic pointer, the
// counters atomics), which the tests prove with testing.AllocsPerRun and
// a benchmark.
//
// # Errors
//
// The driver's refusals wrap the errno the user sees: ENOSPC for a full
// table, EINVAL for a program the classic checker refuses, ENOENT for a
// Destroy or Stats of a filter the card does not hold, and whatever
// Refuse was given. The classifier passes them through for skip_sw
// filters and ignores them for the others.
//
// # Limits
//
// In this library a filter without flags runs in software even when it is
// in hardware, so the cards count only what their skip_sw filters match;
// a real card would also count the frames it handled for the others.
//
// As in the kernel, the actions of a skip_sw filter that a card ran count
// nothing in software: their statistics are the counters the cards report,
// which tc -s prints as "Sent hardware" beside the software share.
//
// # Kernel source
//
// The driver plays a TC_SETUP_CLSBPF callback
// (drivers/net/ethernet/netronome/nfp/bpf/main.c is the kernel's
// example); the rules around it are net/sched/cls_bpf.c and
// net/sched/cls_api.c, and the output is iproute2's tc/f_bpf.c and
// tc/m_action.c. The tests check the exact output, each refusal's errno and
// extack, and that the toy driver meets the offload matrix exactly as the
// reference driver offload/soft does for the same requests.
package main
