// Package offload is the hardware offload interface of the tc cls_bpf
// classifier: what a driver implements to run filters on a device, what a
// classifier sends it, and the devices a block of filters is bound to.
//
// # Model
//
// A driver implements Offloader: it declares Capabilities (program kinds,
// instruction classes, helpers, map types, program size, chains other than
// 0) and carries out Requests: Add, Replace and Destroy a filter's program,
// and report Stats. A Request names the filter (FilterID: block, chain,
// priority, protocol, handle) and carries its Program in an engine-neutral
// form (raw classic instructions, or raw eBPF instructions with the
// helpers and map types they use), its classid, direct-action flag,
// actions and generic flags (SkipHW, SkipSW).
//
// A Device is a network device as offload sees it: a name, an ifindex,
// the HW_TC feature (NETIF_F_HW_TC) and its driver, or none for a device
// that cannot offload (a veth). A Block is the set of devices a block of
// filters is bound to (the kernel's flow_block callbacks plus the count of
// devices without a hook). Device.Setup applies the checks every driver
// makes before its own: HW_TC, chain 0, the device a program is bound to,
// and the declared capabilities, so a program the device cannot run is
// refused early with the kernel's errno.
//
// The decision and error matrix (which command goes out for skip_sw,
// skip_hw and plain filters, err_stop, rollback, in_hw_count and the
// IN_HW/NOT_IN_HW flags, re-offload when a device binds or unbinds) is
// applied by package classifier, which owns the filters; this package
// defines the contract drivers see.
//
// Faulty wraps a driver and fails chosen commands or the Nth call, for
// tests of drivers and of code that uses them. Package soft is a reference
// driver that runs the programs it holds in software and hosts their maps.
//
// # Concurrency
//
// Drivers' Setup is called by one writer at a time (the classifier's
// writer lock, the RTNL stand-in). Block.Run, the packet path that lets a
// HardwareRunner execute SKIP_SW filters, takes no lock and allocates
// nothing: the device list is an immutable slice behind an atomic pointer.
//
// # Errors
//
// Refusals are *Error values wrapping the kernel's errno (EOPNOTSUPP for a
// device that cannot or will not offload, EINVAL for a program bound to
// another device) and carrying the kernel's extack text where it sends one
// ("TC offload is disabled on net device", "Driver supports only offload
// of chain 0"). A driver error that wraps no errno counts as EOPNOTSUPP.
//
// # Limits
//
// Maps of offloaded programs belong to the driver: a Program lists them
// (Map), the capability check refuses types the device does not host, and
// a driver that hosts them implements MapOffloader, through which the
// embedding program reads and writes them. The kernel's bpf offload
// verifier, which checks a device-bound program against the device when
// it is loaded, is modelled by Capabilities.Check at attach time.
//
// # Kernel source
//
// include/net/pkt_cls.h (struct tc_cls_bpf_offload, tc_cls_common_offload,
// tc_cls_can_offload_and_chain0), net/sched/cls_api.c (tc_setup_cb_add,
// tc_setup_cb_replace, tc_setup_cb_destroy, tc_setup_cb_reoffload,
// tcf_block_offload_bind) and net/sched/cls_bpf.c (cls_bpf_offload_cmd,
// cls_bpf_offload, cls_bpf_reoffload, cls_bpf_offload_update_stats).
package offload
