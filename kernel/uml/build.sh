#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: kernel/uml/build.sh NAME [-o BUILD] [-c CONFIG]... [PATCH]...
#
# Builds a User Mode Linux kernel of linux-source-6.12 with PATCHes applied
# in order (git apply; a mail's preamble is skipped) and the CONFIG
# fragments merged over the Kconfig defaults by olddefconfig, as kunit.py
# does: every option a fragment sets must be in the final .config.  Prints
# the path of the kernel binary.
#
# The binary is kept as $CCHAIN_KERNEL_CACHE/bin/linux-NAME-KEY, where KEY
# hashes the source package's version, the fragments and the patches
# (without their mail headers' dates); a binary of the same key is reused
# without building.  The build directory, build-BUILD (default build-NAME),
# is kept for incremental builds: kernels that differ by a patch or two
# share one.
# Builds run under nice -n 19 with $CCHAIN_KERNEL_JOBS (default 2) jobs.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# -ge 1 ] || die "usage: build.sh NAME [-o BUILD] [-c CONFIG]... [PATCH]..."
name=$1
builddir=$1
shift
configs=()
patches=()
while [ $# -gt 0 ]; do
	case $1 in
	-c) configs+=("$(realpath "$2")"); shift 2 ;;
	-o) builddir=$2; shift 2 ;;
	*) patches+=("$(realpath "$1")"); shift ;;
	esac
done
[ "${#configs[@]}" -gt 0 ] || die "no -c CONFIG fragment"

ensure_tree
key=$( {
	source_version
	cat "${configs[@]}"
	for p in "${patches[@]}"; do
		grep -v -e '^From [0-9a-f]\{40\} ' -e '^Date: ' "$p"
	done
} | sha256sum | cut -c1-16)
bin=$cache/bin/linux-$name-$key
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

apply_patches "${patches[@]}"
build=$cache/build-$builddir
mkdir -p "$build" "$cache/bin"
cat "${configs[@]}" >"$build/.config"
make -C "$tree" ARCH=um O="$build" olddefconfig >/dev/null
# Every option a fragment sets survives olddefconfig.
missing=$(grep -h '^CONFIG_\|^# CONFIG_.* is not set' "${configs[@]}" | sort -u |
	grep -vxF -f "$build/.config" || true)
[ -z "$missing" ] || die "options dropped by olddefconfig: $(echo $missing)"
echo "building $name ($key) in $build" >&2
nice -n 19 make -C "$tree" ARCH=um O="$build" -j"$jobs" linux >"$build/make.log" 2>&1 ||
	{ tail -n 40 "$build/make.log" >&2; die "build of $name failed ($build/make.log)"; }
rm -f "$cache/bin/linux-$name-"*
cp "$build/linux" "$bin.new"
mv "$bin.new" "$bin"
echo "$bin"
