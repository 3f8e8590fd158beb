#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/abi-check.sh [--update] [BUILD_DIR]
#
# The ABI guard.  abi/<soname>.abi describes the ABI of the shared library
# (libabigail's abidw: exported functions and the public types they reach,
# as declared in include/cchain/).  This compares it with the library of
# BUILD_DIR (a meson build with debug info; by default build-abi/,
# configured here):
# - an incompatible change (a symbol removed, a type or signature changed:
#   anything but an addition) fails unless the soversion (meson.build) was
#   bumped;
# - a compatible change (a function added) fails until the description is
#   updated, in the same commit;
# - a bumped soversion fails until abi/<new soname>.abi is written.
# --update writes abi/<soname>.abi from BUILD_DIR's library and adds its new
# symbols to debian/<name><soversion>.symbols; commit both.
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
if [ "${1:-}" = --update ]; then
	update=1
	shift
fi
build=${1:-build-abi}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" -Dtests=disabled -Dexamples=false -Dman=disabled \
		-Dbench=disabled -Dmodel_check=disabled -Dfuzz=disabled >/dev/null
fi
ninja -C "$build" >/dev/null
lib=$(find "$build" -maxdepth 1 -name 'libcchain.so.*.*' -type f | head -n 1)
[ -n "$lib" ] || { echo "abi-check: no libcchain.so in $build" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -n "$soname" ] || { echo "abi-check: $lib has no soname" >&2; exit 1; }
ref=abi/$soname.abi

new=$(mktemp)
trap 'rm -f "$new"' EXIT
# Public types only: those declared in the installed headers (the
# generated version.h lives in the build directory).
abidw --no-corpus-path --no-show-locs --drop-private-types \
	--headers-dir include/cchain --headers-dir "$build/include/cchain" \
	--out-file "$new" "$lib"

if [ $update -eq 1 ]; then
	mkdir -p abi
	cat "$new" >"$ref"
	echo "abi-check: wrote $ref; commit it with the change that made it"
	# The Debian symbols file: symbols new in this version get it.
	syms=debian/${soname%%.so.*}${soname##*.so.}.symbols
	version=$(meson introspect --projectinfo "$build" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
	if [ -f "$syms" ]; then
		{
			grep -v '^ ' "$syms"
			{
				grep '^ ' "$syms"
				nm -D --defined-only "$lib" |
					awk -v v="$version" '$2 ~ /^[TDRBVWi]$/ { print " " $3 "@Base " v }'
			} | sort -s -t@ -k1,1 -u
		} >"$syms.new"
		mv "$syms.new" "$syms"
		echo "abi-check: $syms lists every exported symbol; commit it too"
	else
		echo "abi-check: no $syms: a new soname needs a new library package" \
			"in debian/ (Debian policy 8.1), with its symbols file" >&2
	fi
	exit 0
fi
if [ ! -f "$ref" ]; then
	echo "abi-check: no ABI description for $soname (soversion bumped?)" >&2
	echo "abi-check: write it with scripts/abi-check.sh --update and commit it" >&2
	exit 1
fi

set +e
report=$(abidiff --no-show-locs "$ref" "$new")
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage error, 4 the ABI
# changed, 8 the change is incompatible.
if [ $((rc & 3)) -ne 0 ]; then
	echo "$report" >&2
	echo "abi-check: abidiff failed (status $rc)" >&2
	exit 1
fi
# abidiff sets the incompatible bit only for removed symbols; a changed
# signature or type is incompatible too: only additions are not.
changed=$(echo "$report" | grep -E 'changes summary:' |
	grep -vE ' 0 Removed(,| ).* 0 Changed' || true)
if [ $((rc & 8)) -ne 0 ] || [ -n "$changed" ]; then
	echo "$report" >&2
	echo "abi-check: incompatible ABI change against $ref; bump soversion in meson.build" \
		"(and run scripts/abi-check.sh --update), or keep the ABI" >&2
	exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
	echo "$report" >&2
	echo "abi-check: compatible ABI change, but $ref is stale;" \
		"run scripts/abi-check.sh --update and commit $ref with the change" >&2
	exit 1
fi
echo "abi-check: $lib matches $ref"
