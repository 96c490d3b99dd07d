// Command classify runs tc filters over the frames of a capture and prints
// what each filter matched and which class each frame landed in: the
// README's main job.
//
// With no flags it classifies an embedded sample capture (sample.pcap,
// written by gen.go through `go generate`) with a default set of classic
// BPF filters, each the output of `tcpdump -ddd` for a familiar
// expression, and one eBPF filter, testdata/arp.o, compiled with clang
// from testdata/arp.c by testdata/build.sh and embedded:
//
//	go run ./examples/classify
//
// Filters are written as for `tc filter add dev DEV ingress`, everything
// after the parent (the kind "bpf" may be left out):
//
//	go run ./examples/classify -pcap trace.pcapng \
//	    -filter 'pref 1 bpf bytecode "4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0" classid 1:1' \
//	    -filter 'pref 2 bpf bytecode-file arp.bpf classid 1:2 action drop' \
//	    -filter 'pref 3 bpf da obj prog.o sec classifier classid 1:'
//
// or one per line in a file given with -filters (lines starting with # are
// comments; the comment right above a filter describes it in the output).
// Specs are parsed by classifier/tcsyntax exactly as tc parses them
// (keyword prefixes, defaults and error texts included): protocol, pref,
// handle, chain 0, bytecode, bytecode-file, object-file (obj) with
// section (sec), classid (flowid), da, skip_hw,
// skip_sw, the legacy police, and action lists of gact, mirred, skbedit,
// police, vlan, csum and bpf actions. mirred sends to the devices eth0
// (the capture's, ifindex 2), raw0 (3), eth1 (4) and eth2 (5), which
// count what they get. An object file is read relative to the directory
// of the -filters file that names it, else to the working directory; it
// is loaded as tc loads it (the section's program, its maps) and listed
// as tc lists it, "prog.o:[classifier] ... id N name F tag T", with ids
// numbered 1, 2, ... in the order the filters are added. Pinned programs
// are refused with EOPNOTSUPP.
//
// # The model
//
// Each frame is handed to the filters as the kernel hands a received frame
// to clsact ingress on an Ethernet device (ifindex 2, address
// 02:00:00:00:00:01, packet.Receive): an 802.1Q tag is moved out of the
// frame into the packet's metadata first. Frames of raw-IP captures arrive
// as on an L3 device such as TUN (ifindex 3, packet.ReceiveL3). With
// -hook egress frames pass tc egress as the host sends them instead, tags
// staying in the frame.
//
// The filters live in a classifier.Block (the kernel's tcf_block): chain 0
// holds one cls_bpf instance per preference and protocol (tcf_proto).
// Filters run by preference, and within a preference newest first, exactly
// as tc runs them; a filter without
// pref gets tc's automatic one: 49152, or one below the lowest preference
// above 32768 in use, so among such filters the newest runs first. The
// first filter that decides wins. In classid mode (no "da") a
// program's return value 0 is no match, -1 selects the filter's classid
// and any other value is the classid itself (so unchanged tcpdump bytecode,
// which returns 262144, selects class 4:), and the filter's gact actions,
// if any, give the verdict. Dropped frames reach no class.
//
// # Output
//
// The filters as `tc -s filter show` prints them, each with its
// description, its actions and their statistics, and the frames and bytes
// it matched; then the frames per verdict, and the frames and bytes per
// class, in handle order, with the frames no filter took last, and what
// mirred sent to each device. -v adds one line per frame.
//
// # Errors
//
// A bad filter spec is a *SpecError naming the spec, the token and why; a
// broken capture is a *CaptureError naming the frame. Both wrap an errno
// (EINVAL, ENOENT, EOPNOTSUPP, EPROTONOSUPPORT, or the kernel's errno for a
// filter the classifier refuses). The exit status is 1 for those and 2 for
// bad flags. A frame the kernel would drop before tc (shorter than an
// Ethernet header, or tagged and shorter than 20 bytes) is counted as
// dropped, not an error.
//
// # Concurrency and limits
//
// The command classifies on one goroutine, which its report relies on to
// name the filter that decided; the per-frame path (receive into a reused
// packet, classify) allocates nothing. Captures are read whole into
// memory. Filters go to chain 0 only ("goto chain" is refused).
//
// # Kernel sources
//
// Filter order and automatic preferences follow net/sched/cls_api.c
// (tcf_classify, tcf_auto_prio, tc_new_tfilter); classification
// net/sched/cls_bpf.c; actions net/sched/act_*.c; the option syntax
// iproute2's tc/tc_filter.c, tc/f_bpf.c and tc/m_*.c (through
// classifier/tcsyntax). The tests feed the
// default specs to the real tc and compare the kernel's results with the
// report: frame by frame at clsact ingress (the tc_index each frame gets)
// and class by class under HTB at egress.
package main
