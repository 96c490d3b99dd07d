#!/bin/sh
# Records what libbpf makes of the test objects: each program's
# instructions after libbpf's CO-RE relocation against the shipped target
# (libbpf-shipped.golden) and against this machine's kernel BTF
# (libbpf-vmlinux.golden). Needs root, clang and libbpf-dev; the golden
# files are committed so the tests need neither. Run through go generate.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CLANG" -O2 -o "$tmp/libbpfdump" libbpfdump.c -lbpf
libbpf=$(dpkg-query -W -f '${Version}' libbpf-dev 2>/dev/null || echo unknown)
for target in shipped vmlinux; do
	out=libbpf-$target.golden
	{
		echo "# libbpf $libbpf, Linux $(uname -r), target $target"
		for obj in kinds.o matches.o parse.o; do
			echo "object $obj"
			if [ "$target" = shipped ]; then
				"$tmp/libbpfdump" "$obj" ../../btftarget/target.btf
			else
				"$tmp/libbpfdump" "$obj"
			fi
		done
	} > "$out"
done
