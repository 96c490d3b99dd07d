// Package tcx is the kernel's tcx attachment (Linux 6.6+): per device and
// direction an ordered list of tc programs, attached, detached and
// queried with the multi-program attach semantics of bpf_mprog, run
// before the clsact cls_bpf chain of the same hook.
//
// # Model
//
// A List is one device's list for one direction (struct bpf_mprog_entry
// with its revision). Attach (BPF_PROG_ATTACH), AttachLink
// (BPF_LINK_CREATE), Detach (BPF_PROG_DETACH), Link.Detach, Link.Update
// (BPF_LINK_UPDATE) and Query (BPF_PROG_QUERY) follow kernel/bpf/mprog.c
// and kernel/bpf/tcx.c: FlagBefore and FlagAfter relative to a program
// or a link (by id; there are no file descriptors here), or first and
// last without one; FlagReplace; ExpectedRevision (ESTALE when stale);
// at most MaxPrograms programs (ERANGE). The revision starts at 1, grows
// by one with each change and starts over once the list empties, when
// the kernel frees the entry.
//
// Run is tcx_run: programs in order while they return TCX_NEXT; TCX_PASS
// copies tc_classid into tc_index; values other than the four verdicts
// end the list and read as TCX_NEXT. Hook puts the list before a
// clsact chain as sch_handle_ingress and sch_handle_egress
// (net/core/dev.c) do: the chain runs only when tcx ends in TCX_NEXT.
//
// # Concurrency
//
// Changes to a List are serialised by its lock (the kernel's rtnl lock)
// and publish a new slice; Run reads the current slice without a lock
// and allocates nothing, so packets may run while programs are attached.
//
// # Errors
//
// Every error wraps the kernel's errno for the same call: EEXIST for a
// program already in the list, ENOENT for a relative program or link
// that is not in it (or does not exist), EINVAL for a relative without
// FlagBefore or FlagAfter or unknown flags, ERANGE for positions that
// disagree or a full list, EBUSY for detaching a link's program as a
// program, ESTALE for a stale revision.
//
// # Limits
//
// Programs and links are named by id only, so fd-related errors (EBADF)
// do not arise; List.Known tells existing program ids from unknown
// ones. netkit is in netkit.go.
package tcx
