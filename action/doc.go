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
package action
