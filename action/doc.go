// Package action holds tc actions and their verdicts: the TC_ACT_* control
// values that classifiers, direct-action programs and actions return, and
// the actions a filter runs on a match (net/sched/act_api.c and the act_*
// modules).
//
// # Model
//
// A Verdict is the kernel's signed 32-bit control value. Plain verdicts are
// 0 to 8 (OK, Reclassify, Shot, Pipe, Stolen, Queued, Repeat, Redirect,
// Trap) and -1 (Unspec, "continue"). An extended verdict keeps an opcode in
// its top nibble and a 28-bit value below it: "jump N" (ExtJump) resumes
// the filter's action list at the action with index N, counted from the
// first action; "goto chain N" (ExtGotoChain) continues classification in
// chain N of the same block.
//
// Verdicts print and parse as iproute2's tc does (String, ParseVerdict),
// and Valid/Validate apply the kernel's check of a configured control value
// (tcf_action_check_ctrlact).
//
// # Concurrency
//
// Verdicts are plain values, safe to copy and share.
//
// # Errors
//
// Validate returns a *ControlError that matches syscall.EINVAL through
// errors.Is and carries the kernel's extack text ("invalid control
// action"). Jump and GotoChain refuse values beyond 28 bits with an error
// wrapping syscall.EINVAL. ParseVerdict returns a *ParseVerdictError, a
// user input error with no errno (the kernel never sees the string).
//
// # Limits
//
// TC_ACT_VALUE_MAX is 8 (Trap), as in Linux 6.18; a kernel carrying
// TC_ACT_ERRQUEUE (9) would accept one more plain value. The kernel-internal
// TC_ACT_CONSUMED (9) is not a Verdict users configure.
//
// # Kernel sources
//
// include/uapi/linux/pkt_cls.h (the values), net/sched/act_api.c
// (tcf_action_check_ctrlact, tcf_action_exec), iproute2 tc/tc_util.c
// (action_n2a, action_a2n, parse_action_control).
//
// # Actions
//
// An Action is one instance of an action kind living in a Table under an
// index: gact (Gact), mirred (Mirred), skbedit (Skbedit), police (Police),
// vlan (Vlan), csum (Csum) and bpf (Bpf), each following its
// net/sched/act_*.c module. A Table is the namespace's set of actions
// (tcf_idrinfo per kind): index 0 in a spec takes the lowest free index,
// a filter naming an existing index binds to that action without changing
// its parameters, and actions shared by index share their counters.
//
// A Chain is the list of at most 32 actions a filter runs (tcf_exts).
// Table.ParseChain builds it from the TCA_BPF_ACT payload exactly as
// tcf_exts_validate does (the list nest numbered 1..32, the first missing
// number ending it, 33 refused; every kind looked up before any is
// created; the per-action TCA_ACT_* attributes; the kind's own
// validation; the offload-flag rule cls_bpf imposes), Table.ParsePolice
// from a legacy TCA_BPF_POLICE, and Table.NewChain from Go specs, which
// it encodes into that payload and parses, so both forms fail alike.
// Table.AddAttrs and Table.Add create standalone actions as `tc actions
// add` does. Chain.Run executes the chain as tcf_action_exec; Chain.Dump,
// Table.DumpAction and Table.DumpKind write the kernel's dump attributes
// in the kernel's order (a filter dump, `tc actions get`, `tc actions
// list`); Chain.String and Table.Format print as `tc -s` does.
//
// The embedding program supplies what the kernel would find around an
// action through Config: a Clock (time for statistics and police), a Rand
// (gact's netrand), a Forwarder (mirred's devices), an Estimator (police
// avrate) and a ProgramResolver (act_bpf eBPF programs; classic programs
// load through classifier/cbpf).
//
// # Actions: concurrency
//
// Chain.Run and every Act take no lock and allocate nothing; counters are
// atomics and parameters are swapped atomically on replace, so runs on
// several execution slots proceed in parallel. Two exceptions mirror the
// kernel: police keeps its token bucket under a spin on an atomic flag
// held for a few integer operations (the kernel's tcfp_lock), and mirred's
// nesting limit uses one counter per execution slot (pkt.Slot modulo
// 1024), the stand-in for the kernel's per-CPU counter. Control
// operations on a Table are serialized by its mutex.
//
// # Actions: errors
//
// A refused configuration is an *Error carrying the action's position and
// kind, the kernel's extack text where the kernel sets one, and the errno
// the kernel returns (errors.Is(err, syscall.EINVAL), ERANGE for netlink
// policy violations, ENOENT for an unknown kind, ENODEV for a missing
// mirred device, ENOMEM for police's bad rate tables, EEXIST, EPERM,
// EOPNOTSUPP, EPROTONOSUPPORT, EBADF). A refused request changes nothing
// in the Table. Faults on the packet path are verdicts (usually Shot with a
// drop counted), never errors or panics.
//
// # Actions: limits and differences from the kernel
//
// Hardware offload is absent: in_hw_count is always 0, a standalone action
// that skips software is refused (EINVAL, or EOPNOTSUPP when no driver
// could run it), and once listed an action reports the used hardware
// statistics type as valid and zero, as the kernel does when no driver
// answers. Rate estimators are not modelled: police avrate
// reads the Estimator, and is accepted only with FilterContext.RateEstimator.
// Two new actions with the same explicit index in one request fail with
// EAGAIN; a kernel filter request replays such a request forever. Replacing
// a standalone action applies its new parameters only when the whole
// request succeeds (the kernel applies each as it goes). mirred hands
// packets to the Forwarder instead of cloning them, skbedit's queue
// mapping reads the device's transmit queues from the Forwarder (one when
// unknown) and uses the packet's Hash as skb_get_hash, and GSO packets are
// not re-segmented for police's MTU test.
//
// # Actions: kernel sources
//
// net/sched/act_api.c (tcf_action_init, tcf_action_init_1,
// tcf_action_exec, tcf_action_dump_1, tcf_idr_check_alloc),
// net/sched/cls_api.c (tcf_exts_validate_ex), net/sched/act_gact.c,
// act_mirred.c, act_skbedit.c, act_police.c, act_vlan.c, act_csum.c,
// act_bpf.c, net/sched/sch_generic.c (psched_ratecfg_precompute),
// include/net/sch_generic.h (psched_l2t_ns), net/core/skbuff.c
// (skb_vlan_push, skb_vlan_pop, skb_eth_push, skb_eth_pop), iproute2
// tc/m_*.c (the printed forms).
package action
