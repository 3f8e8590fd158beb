#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: model/check-shared.sh [SPIN_WORK_DIR]
# Exhaustively verifies model/shared_chain.pml (shared chains, participants
# killed at any step) and model/shared_lock.pml (the chain's lock word) in
# each configuration, then makes sure that every mutant (one protective
# step removed) is caught.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# -O0: compiling pan (large: a death point between any two stores) costs
# more than the search it would speed up
model=shared_chain.pml
opt_default=-O0
# shellcheck source=model/lib.sh
. "$here/lib.sh"
enter_workdir "$@"
cp "$here/shared_chain.pml" "$here/shared_lock.pml" .

# Configurations: what each of the three processes does (0: add, wait,
# complete; 1: add, complete; 2: add, cancel), how many may die, whether
# process 2 may be given the id of process 0 once it died (1), and whether
# it may be given process 0's entry, not pending, once it died (1).
configs="WAIT3:0,0,0,1 MIXED:0,1,2,1 WAIT3x2:0,0,2,2 MIXEDx2:0,1,2,2 ALLDIE:0,0,0,3
REUSE:0,1,0,1,1 REUSEx2:0,2,0,2,1 REENTRY:0,1,0,1,0,1 REENTRYx2:0,2,0,2,1,1"

# defines NAME: the spin -D options for one configuration.
defines() {
	# shellcheck disable=SC2046 # word splitting of the list is wanted
	set -- $(echo "$configs" | tr ' ' '\n' | sed -n "s/^$1://p" | tr , ' ')
	echo "-DKIND0=$1 -DKIND1=$2 -DKIND2=$3 -DMAXDEATH=$4 -DREUSE=${5:-0} -DREUSE_ENTRY=${6:-0}"
}

status=0

# The correspondence table in README.md: every fragment of src/shared_chain.c.
root=$(dirname "$here")
sed -n 's/^| .* | \(src\/shared_chain.c\) | `\(.*\)` |$/\1\t\2/p' "$here/README.md" >map.tsv
[ -s map.tsv ] || { echo "no correspondence table for shared_chain.c in model/README.md" >&2; exit 1; }
while IFS=$(printf '\t') read -r file frag; do
	frag=$(printf '%s' "$frag" | sed 's/\\|/|/g') # markdown's escaped pipes
	if ! grep -qF -- "$frag" "$root/$file"; then
		echo "model/README.md is stale: '$frag' not in $file" >&2
		status=1
	fi
done <map.tsv
echo "correspondence: $(wc -l <map.tsv) C statements found"

for cfg in $configs; do
	# shellcheck disable=SC2046 # word splitting of the defines is wanted
	verify "config ${cfg%%:*}" $(defines "${cfg%%:*}") ||
		{ status=1; grep -E "assert|invalid end|pan:" pan.log | head -5; }
done

# The lock word: three processes, two rounds of lock and unlock each; one
# death, then two.
lock_configs="LOCK:-DMAXDEATH=1 LOCKx2:-DMAXDEATH=2"
model=shared_lock.pml
for cfg in $lock_configs; do
	verify "config ${cfg%%:*}" "${cfg#*:}" ||
		{ status=1; grep -E "assert|invalid end|pan:" pan.log | head -5; }
done

# Every protective step, removed one at a time, with the configurations
# that exercise it: spin must find a violation.
mutants="BUG_NO_REDO:WAIT3,MIXED
BUG_INTENT_AFTER:WAIT3,MIXED
BUG_NO_SEEN:MIXED,WAIT3
BUG_NO_CAS_TURN:WAIT3,MIXED,WAIT3x2
BUG_NO_ORPHAN:WAIT3,MIXED
BUG_NO_CHECK:WAIT3,MIXED
BUG_RELEASE_AFTER_TURN:WAIT3,MIXED
BUG_REAP_PID_ONLY:REUSE
BUG_LOCK_PID_ONLY:REUSE
BUG_REDO_ADD_ALWAYS:REENTRY
BUG_WD_ADD_KEEPS:MIXED
BUG_WD_TURN_FIRST:MIXED
BUG_WD_PASS_SEEN:MIXED
BUG_WD_CANCEL_DROPS:MIXED
BUG_WD_DELTA:WAIT3x2"

lock_mutants="BUG_STEAL_STORE:LOCK
BUG_UNLOCK_STORE:LOCK
BUG_TAKE_NO_WAITERS:LOCK
BUG_WAIT_NO_BIT:LOCK"

nmut=0
for m in $lock_mutants; do
	bug=${m%%:*}
	nmut=$((nmut + 1))
	cfg=$(echo "$lock_configs" | tr ' ' '\n' | grep "^${m#*:}:")
	rc=0
	OPT=-O0 verify "mutant $bug" -D"$bug" "${cfg#*:}" >/dev/null || rc=$?
	if [ "$rc" -eq 1 ]; then
		echo "mutant $bug (${m#*:}): caught: $(grep -m1 -E 'assertion violated|invalid end state' pan.log)"
	else
		echo "mutant $bug: NOT caught" >&2
		status=1
	fi
done
model=shared_chain.pml
for m in $mutants; do
	nmut=$((nmut + 1))
	# shellcheck disable=SC2046 # word splitting of the list is wanted
	catch_mutant "${m%%:*}" $(echo "${m#*:}" | tr , ' ') || status=1
done
echo "$nmut mutants"
exit $status
