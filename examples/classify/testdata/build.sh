#!/bin/sh
# Builds arp.o, the eBPF object of the default filter set, from arp.c
# (clang -target bpf; the object is committed and embedded).
set -e
cd "$(dirname "$0")"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c arp.c -o arp.o
