#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: model/check.sh [SPIN_WORK_DIR]
# Exhaustively verifies model/compl_chain.pml in each configuration, then
# makes sure that every mutant (a known bug put back) is caught.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
	work=$1
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
cd "$work"
cp "$here/compl_chain.pml" .

# verify NAME DEFINES... : prints pan's verdict; exit status 0 if no error.
verify() {
	name=$1
	shift
	rm -f pan pan.* ./*.trail
	spin -a "$@" compl_chain.pml >spin.log 2>&1 || { cat spin.log; return 2; }
	cc -O2 -DSAFETY -DNOFAIR -DVECTORSZ=2048 -o pan pan.c 2>cc.log || { cat cc.log; return 2; }
	./pan -m1000000 >pan.log 2>&1 || true
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log | head -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | head -n 1)
	if grep -q "max search depth too small" pan.log; then
		echo "$name: search depth too small" >&2
		return 2
	fi
	[ -n "$errors" ] || { echo "$name: pan gave no verdict" >&2; cat pan.log >&2; return 2; }
	echo "$name: $states states, $errors errors"
	[ "$errors" = 0 ] || return 1
}

status=0

# The correspondence table in README.md: every C fragment must still exist.
root=$(dirname "$here")
sed -n 's/^| .* | \(src\/[^ |]*\|tests\/[^ |]*\) | `\(.*\)` |$/\1\t\2/p' "$here/README.md" >map.tsv
[ -s map.tsv ] || { echo "no correspondence table found in model/README.md" >&2; exit 1; }
while IFS=$(printf '\t') read -r file frag; do
	frag=$(printf '%s' "$frag" | sed 's/\\|/|/g') # markdown's escaped pipes
	if ! grep -qF -- "$frag" "$root/$file"; then
		echo "model/README.md is stale: '$frag' not in $file" >&2
		status=1
	fi
done <map.tsv
echo "correspondence: $(wc -l <map.tsv) C statements found"

for cfg in ALL REUSE FLUSH DEFER DEFER2; do
	verify "config $cfg" -DCONFIG_$cfg || { status=1; grep -E "assert|invalid end|pan:" pan.log | head -5; }
done
for bug in BUG_NO_WAKING BUG_NO_SETTLE BUG_LINK_BEFORE_CAS BUG_TAIL_BEFORE_LINK BUG_NO_SLEEP_MARK BUG_NO_WAIT_IN_COMPLETE BUG_NO_BUSY; do
	for cfg in ALL REUSE DEFER; do
		rc=0
		verify "mutant $bug ($cfg)" -D$bug -DCONFIG_$cfg >/dev/null || rc=$?
		[ "$rc" -ne 2 ] || { status=1; continue 2; }
		[ "$rc" -eq 1 ] || continue
		echo "mutant $bug ($cfg): caught: $(grep -m1 -E 'assertion violated|invalid end state' pan.log)"
		continue 2
	done
	echo "mutant $bug: NOT caught" >&2
	status=1
done
exit $status
