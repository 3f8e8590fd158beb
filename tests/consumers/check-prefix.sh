#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-prefix.sh SOURCE_ROOT CONSUMER_SOURCE
# doc/integrating.md's "Installing to a prefix", step by step: libcchain
# installed with --prefix into a scratch directory; with the variables it
# sets (PKG_CONFIG_PATH and LD_LIBRARY_PATH in the multiarch libdir,
# MANPATH with its final ':'), a consumer builds with pkg-config and runs,
# and `man 3 compl_chain_add` shows the installed page.
set -eu
root=$(cd "$1" && pwd)
src=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cd "$prefix"
meson setup build "$root" --prefix="$prefix/p" -Dtests=disabled -Dexamples=false \
	-Dbench=disabled -Dmodel_check=disabled -Dfuzz=disabled -Dman=enabled \
	>setup.log 2>&1 || { cat setup.log >&2; exit 1; }
ninja -C build >/dev/null
meson install -C build --quiet >/dev/null
triplet=$(gcc -print-multiarch)
[ -f "$prefix/p/lib/$triplet/pkgconfig/libcchain.pc" ] ||
	{ echo "libcchain.pc is not in lib/$triplet/pkgconfig:" $(find "$prefix/p" -name '*.pc') >&2; exit 1; }
export PKG_CONFIG_PATH="$prefix/p/lib/$triplet/pkgconfig"
export MANPATH="$prefix/p/share/man:"
export LD_LIBRARY_PATH="$prefix/p/lib/$triplet"
# shellcheck disable=SC2046
cc -o consumer "$src" $(pkg-config --cflags --libs libcchain)
./consumer
ldd ./consumer | grep -q "$prefix/p/lib/$triplet/libcchain.so.0" ||
	{ echo "consumer does not use the prefix's libcchain.so.0" >&2; exit 1; }
[ "$(man -w 3 compl_chain_add)" = "$prefix/p/share/man/man3/compl_chain_add.3" ] ||
	{ echo "man 3 compl_chain_add: $(man -w 3 compl_chain_add 2>&1)" >&2; exit 1; }
# doc/integrating.md's "With valgrind": the suppression file, where it says.
[ -f "$prefix/p/share/libcchain/valgrind/libcchain.supp" ] ||
	{ echo "libcchain.supp is not in share/libcchain/valgrind" >&2; exit 1; }
# The final ':' keeps the system's pages.
manpath 2>/dev/null | tr ':' '\n' | grep -qx /usr/share/man ||
	{ echo "MANPATH hides the system's pages: $(manpath 2>&1)" >&2; exit 1; }
echo "prefix install: pkg-config, ld.so and man find libcchain in $prefix/p"
