#!/bin/bash
# `make -j2` on a small C project, in a fresh copy in a temporary folder (removed at the
# end); prints the same lines in any run: the build products' checksums and the program's
# output.
set -e
src=$(dirname "$(readlink -f "$0")")/makeproj
work=$(mktemp -d "${TMPDIR:-/tmp}/stasis-make-XXXXXX")
cp "$src"/*.c "$src"/Makefile "$work"/
cd "$work"
echo "building"
make -j2 -s
echo "built"
sha256sum *.o | sort -k2
./prog
cd /
rm -rf "$work"
