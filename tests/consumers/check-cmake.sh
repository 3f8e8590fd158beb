#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-cmake.sh BUILD_DIR CONSUMER_DIR
# Installs the build into a scratch DESTDIR; a CMake project finds it with
# pkg_check_modules(... IMPORTED_TARGET libcchain), builds and runs.
set -eu
build=$1
src=$(cd "$2" && pwd)
. "$(dirname "$0")/../install-destdir.sh"
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
cmake -S "$src/cmake" -B "$dest/build" >"$dest/cmake.log" 2>&1 || { cat "$dest/cmake.log"; exit 1; }
cmake --build "$dest/build" >"$dest/build.log" 2>&1 || { cat "$dest/build.log"; exit 1; }
LD_LIBRARY_PATH="$(dirname "$(find "$dest" -name 'libcchain.so' | head -n 1)")" "$dest/build/consumer"
