#!/bin/sh
# Builds the eBPF objects of the object-line tests (clang -target bpf).
set -e
cd "$(dirname "$0")"
for c in cls pin; do
	clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c $c.c -o $c.o
done
