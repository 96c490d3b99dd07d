#!/bin/sh
# Rebuilds context.o from context.c (go generate runs it): clang 14 or
# later and libbpf's headers, as Debian's clang and libbpf-dev install them.
set -e
cd "$(dirname "$0")"
clang -O2 -g -target bpf -mcpu=v3 -I"/usr/include/$(uname -m)-linux-gnu" -c context.c -o context.o
