#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-subproject.sh SOURCE_ROOT CONSUMER_DIR
# A meson project that finds libcchain with dependency('libcchain') through
# subprojects/ (meson.override_dependency) builds and runs.
set -eu
root=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/subprojects"
ln -s "$root" "$dir/subprojects/libcchain"
cp "$src/meson/meson.build" "$src/consumer.c" "$dir/"
cd "$dir"
meson setup build --wrap-mode=forcefallback >setup.log 2>&1 || { cat setup.log >&2; exit 1; }
ninja -C build >/dev/null
meson test -C build --print-errorlogs -q
./build/consumer
