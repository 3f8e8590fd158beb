#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-subproject.sh SOURCE_ROOT CONSUMER_SOURCE
# A meson project that finds libcchain with dependency('libcchain') through
# subprojects/ (meson.override_dependency) builds and runs.
set -eu
root=$(cd "$1" && pwd)
src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/subprojects"
ln -s "$root" "$dir/subprojects/libcchain"
cp "$src" "$dir/consumer.c"
cat >"$dir/meson.build" <<'EOF2'
project('consumer', 'c', meson_version: '>= 1.0.0')
dep = dependency('libcchain', fallback: ['libcchain'])
test('consumer', executable('consumer', 'consumer.c', dependencies: dep))
EOF2
cd "$dir"
meson setup build --wrap-mode=forcefallback >setup.log 2>&1 || { cat setup.log >&2; exit 1; }
ninja -C build >/dev/null
meson test -C build --print-errorlogs -q
./build/consumer
