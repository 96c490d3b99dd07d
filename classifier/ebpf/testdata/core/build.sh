#!/bin/sh
# Rebuilds the CO-RE test objects (go generate runs it): each is compiled
# with clang-16 against the vmlinux.h of the running kernel, generated
# here by bpftool from /sys/kernel/btf/vmlinux, as tc programs written
# on libbpf's conventions are.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$tmp/vmlinux.h"
for f in *.c; do
	clang-16 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$tmp" -c "$f" -o "${f%.c}.o"
done
