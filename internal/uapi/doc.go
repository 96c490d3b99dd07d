// Package uapi holds the Linux kernel constants clsbpf mirrors, each defined
// once and spelled as the kernel spells it (TC_ACT_SHOT, TC_H_ROOT,
// TCA_BPF_FLAGS_GEN, BPF_LD, ...), so a grep for the kernel name finds the
// Go value. Public packages give the same values Go names (action.Shot,
// handle.Root) and refer here.
//
// # Model
//
// One file per uapi area: tc.go for verdicts, handles, classifier flags and
// tc limits (include/uapi/linux/pkt_cls.h, pkt_sched.h, rtnetlink.h and the
// limits net/sched/cls_api.c and cls_bpf.c apply); further files hold
// attribute numbers and BPF opcodes. Constants are untyped so that each user
// gives them its own type.
//
// # Errors
//
// The kernel reports failures as negated errno values; clsbpf wraps the
// corresponding syscall.Errno (EINVAL, ENOSPC, EEXIST, ...) so that callers
// test them with errors.Is. This package defines no errno constants of its
// own: syscall's are the kernel's numbers on Linux.
//
// # Concurrency and limits
//
// Constants only: nothing to synchronise. Values are today's kernel's
// (verified on Linux 6.18); where older kernels differ, the owning package
// says so.
package uapi
