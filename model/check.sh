#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: model/check.sh [SPIN_WORK_DIR]
# Exhaustively verifies model/compl_chain.pml in each configuration, then
# makes sure that every mutant (a known bug put back) is caught.  The
# verifications run CHECK_JOBS at a time (default: the online CPUs), each in
# a directory of its own; compiling pan dominates, and it is one job each.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
model=compl_chain.pml
opt_default=-O2
# shellcheck source=model/lib.sh
. "$here/lib.sh"

# defines CONFIG: the spin -D options for one configuration.
# The configurations that exercise compl_chain_add_seq's numbers (cancels,
# re-adds, runs, a flush) also model them (-DNUMBERS).
defines() {
	case $1 in
	*+CONDVAR) echo "-DCONFIG_${1%+CONDVAR} -DCONDVAR" ;;
	ALL | REUSE | FLUSH | DEFER | DUMP) echo "-DCONFIG_$1 -DNUMBERS" ;;
	*) echo "-DCONFIG_$1" ;;
	esac
}

# check.sh --job WORK config NAME | check.sh --job WORK mutant BUG:CONFIGS
# One verification (or one mutant, tried against its configurations in
# turn) in a directory of its own; prints its verdicts and a last line
# "RESULT ok|fail|error WHAT".
if [ "${1:-}" = --job ]; then
	kind=$3
	what=$4
	dir=$2/$kind-$(printf '%s' "$what" | tr ':,+' '___')
	mkdir -p "$dir"
	cd "$dir"
	cp "$here/compl_chain.pml" .
	case $kind in
	config)
		rc=0
		# shellcheck disable=SC2046 # word splitting of the defines is wanted
		verify "config $what" $(defines "$what") || rc=$?
		case $rc in
		0) echo "RESULT ok config $what" ;;
		1) grep -E "assert|invalid end|pan:" pan.log | head -5
		   echo "RESULT fail config $what" ;;
		*) echo "RESULT error config $what" ;;
		esac
		;;
	mutant)
		bug=${what%%:*}
		for cfg in $(echo "${what#*:}" | tr , ' '); do
			rc=0
			# shellcheck disable=SC2046
			# -O0: a mutant's search stops at its first error, so
			# compiling pan dominates
			OPT=-O0 verify "mutant $bug ($cfg)" -D"$bug" $(defines "$cfg") >/dev/null ||
				rc=$?
			[ "$rc" -ne 2 ] || { echo "RESULT error mutant $bug ($cfg)"; exit 0; }
			[ "$rc" -eq 1 ] || continue
			echo "mutant $bug ($cfg): caught: $(grep -m1 -E 'assertion violated|invalid end state' pan.log)"
			echo "RESULT ok mutant $bug"
			exit 0
		done
		echo "mutant $bug: NOT caught"
		echo "RESULT fail mutant $bug"
		;;
	esac
	exit 0
fi

enter_workdir "$@"

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

# Configurations: NAME or NAME+CONDVAR (the condvar backend).
configs="ALL REUSE FLUSH DEFER DEFER2 READD RUNS DUMP EMPTY SLEEPERS NOTIFY NOTIFY2
	ALL+CONDVAR DEFER+CONDVAR SLEEPERS+CONDVAR NOTIFY+CONDVAR"

# Every step that protects something, removed one at a time, with the
# configurations that exercise it: spin must find a violation.
mutants="BUG_WAKE_BEFORE_READY:ALL,SLEEPERS
BUG_TOUCH_AFTER_TURN:ALL,REUSE
BUG_NO_SLEEP_MARK:ALL
BUG_LINK_BEFORE_CAS:ALL,REUSE
BUG_TAIL_BEFORE_LINK:ALL,REUSE,FLUSH
BUG_NO_WAIT_IN_COMPLETE:ALL
BUG_PASS_TO_FIRST:ALL,REUSE,FLUSH
BUG_RELEASE_BEFORE_UNLINK:ALL
BUG_RELEASE_BEFORE_CAS:ALL,REUSE
BUG_NO_BUSY:DEFER,RUNS
BUG_BUSY_AFTER_DETACH:DEFER,DEFER2,RUNS
BUG_RELEASE_RUN_EARLY:RUNS,READD
BUG_BUSY_DEC_BEFORE_RELEASE:EMPTY
BUG_EMPTY_IGNORES_RUN:EMPTY
BUG_NO_PIN:DUMP
BUG_CV_SIGNAL_UNLOCKED:ALL+CONDVAR,SLEEPERS+CONDVAR
BUG_CV_UNLOCKED_CHECK:ALL+CONDVAR
BUG_CV_TIMEOUT_KEEPS_PARKER:ALL+CONDVAR,SLEEPERS+CONDVAR
BUG_NOTIFY_UNLOCKED_CHECK:NOTIFY,NOTIFY2
BUG_NOTIFY_FN_UNLOCKED:NOTIFY
BUG_NOTIFIER_CHECK_BEFORE_PUSH:NOTIFY2,NOTIFY
BUG_NOTIFIER_NO_EXCHANGE:NOTIFY2
BUG_NOTIFIER_NO_RECHECK:NOTIFY2,NOTIFY
BUG_UNNOTIFY_NO_SYNC:NOTIFY,NOTIFY2
BUG_UNNOTIFY_NO_RECHECK:NOTIFY,NOTIFY2
BUG_NUM_AFTER_CAS:ALL,REUSE
BUG_NUM_ABA:REUSE,ALL
BUG_NUM_DETACH_KEEPS:ALL,DEFER
BUG_NUM_DETACH_FREE_KEEPS:ALL,DEFER
BUG_NUM_COMPLETE_KEEPS:ALL,REUSE
BUG_NUM_NO_FLOOR:ALL
BUG_NUM_ADD_IGNORES_FLOOR:ALL"

jobs=${CHECK_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
{
	for cfg in $configs; do echo "config $cfg"; done
	for m in $mutants; do echo "mutant $m"; done
} | xargs -P "$jobs" -n 2 sh "$here/check.sh" --job "$work" >results.log 2>&1 || true
grep -v '^RESULT ' results.log || true
ncfg=$(echo $configs | wc -w)
nmut=$(echo "$mutants" | wc -l)
[ "$(grep -c '^RESULT ok config ' results.log)" -eq "$ncfg" ] ||
	{ echo "not every configuration verified:" >&2; grep '^RESULT [fe]' results.log >&2 || true; status=1; }
[ "$(grep -c '^RESULT ok mutant ' results.log)" -eq "$nmut" ] ||
	{ echo "not every mutant caught:" >&2; grep '^RESULT [fe].* mutant' results.log >&2 || true; status=1; }
echo "$ncfg configurations, $nmut mutants"
exit $status
