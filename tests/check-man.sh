#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-man.sh BUILD_DIR LIBRARY
# After meson install, `man 3 <symbol>` works for every symbol the library
# exports, `man 7 cchain` too, and groff renders every page without warnings.
set -eu
build=$1
lib=$2
. "$(dirname "$0")/install-destdir.sh"
mandir=$(dirname "$(find "$dest" -path '*/man7/cchain.7' | head -n 1)")
[ -n "$mandir" ] && [ "$mandir" != . ] || { echo "cchain.7 was not installed" >&2; exit 1; }
mandir=$(dirname "$mandir")
status=0
n=0
for sym in $(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ { print $3 }'); do
	if ! MANPATH=$mandir man -w 3 "$sym" >/dev/null 2>&1; then
		echo "no manual page for exported symbol $sym" >&2
		status=1
	fi
	n=$((n + 1))
done
MANPATH=$mandir man -w 7 cchain >/dev/null || { echo "man 7 cchain fails" >&2; status=1; }
for page in "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
	# All warnings but line breaking/adjusting, which tables trigger.
	if [ -n "$(groff -man -Tutf8 -ww -Wbreak -z "$page" 2>&1)" ]; then
		groff -man -Tutf8 -ww -Wbreak -z "$page" >&2
		echo "groff warns about $page" >&2
		status=1
	fi
done
MANPATH=$mandir MANWIDTH=80 man 3 compl_chain_add 2>/dev/null | grep -q "compl_chain_add - append an entry" ||
	{ echo "man 3 compl_chain_add does not show its page" >&2; status=1; }
[ $status -ne 0 ] || echo "$n exported symbols, each with a manual page; cchain(7) present"
exit $status
