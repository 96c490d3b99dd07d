#!/bin/sh
# Rebuilds the test objects from their C sources (go generate runs it).
set -e
cd "$(dirname "$0")"
for f in *.c; do
	clang -O2 -g -target bpf -mcpu=v3 -I"/usr/include/$(uname -m)-linux-gnu" -c "$f" -o "${f%.c}.o"
done
