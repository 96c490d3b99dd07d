package ebpf

import "syscall"

var errInval error = syscall.EINVAL
