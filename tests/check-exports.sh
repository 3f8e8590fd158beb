#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-exports.sh LIBRARY EXPECTED_LIST
# The shared library exports exactly the public API, nothing else.
set -eu
lib=$1
expected=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ { print $3 }' | sort)
want=$(grep -v '^#' "$expected" | sort)
if [ "$actual" != "$want" ]; then
	echo "exported symbols differ from $expected (- expected, + actual):" >&2
	diff -u /dev/fd/3 /dev/fd/4 3<<EOF3 4<<EOF4 >&2 || true
$want
EOF3
$actual
EOF4
	exit 1
fi
echo "$(echo "$actual" | wc -l) symbols exported, as intended"
