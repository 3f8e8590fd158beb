#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-pkgconfig.sh BUILD_DIR CONSUMER_SOURCE
# Installs the build into a scratch DESTDIR and builds a consumer with
# nothing but `cc prog.c $(pkg-config --cflags --libs libcchain)`.
set -eu
build=$1
src=$2
. "$(dirname "$0")/../install-destdir.sh"
for h in cchain.h compl_chain.h async.h notify.h version.h; do
	[ -n "$(find "$dest" -path "*/include/cchain/$h")" ] ||
		{ echo "include/cchain/$h was not installed" >&2; exit 1; }
done
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
flags=$(pkg-config --cflags --libs libcchain)
echo "pkg-config --cflags --libs libcchain: $flags"
# shellcheck disable=SC2086
${CC:-cc} -o "$dest/consumer" "$src" $flags
libdir=$(dirname "$(find "$dest" -name 'libcchain.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$dest/consumer"

# The static archive, with the private dependencies from --static.
find "$dest" -name 'libcchain.so*' -delete
flags=$(pkg-config --static --cflags --libs libcchain)
echo "pkg-config --static --cflags --libs libcchain: $flags"
# shellcheck disable=SC2086
${CC:-cc} -o "$dest/consumer-static" "$src" $flags
if ldd "$dest/consumer-static" | grep -q libcchain; then
	echo "consumer-static is linked against a shared libcchain" >&2
	exit 1
fi
"$dest/consumer-static"
