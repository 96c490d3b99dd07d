#!/bin/sh
# Builds the CO-RE test objects from their C sources against this
# machine's vmlinux.h. Run through go generate in internal/core; needs
# bpftool and clang >= 15 (for bpf_core_type_matches), with libbpf's
# headers in /usr/include/bpf. The objects are committed, so tests need
# neither.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
	for c in clang-19 clang-18 clang-17 clang-16 clang-15 clang; do
		if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
	done
fi
STRIP=${STRIP:-llvm-strip}
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
for src in kinds.c matches.c parse.c; do
	obj=${src%.c}.o
	"$CLANG" -O2 -g -target bpf -c "$src" -o "$obj"
	# Keep .BTF and .BTF.ext, drop DWARF.
	"$STRIP" -g "$obj"
done
