# SPDX-License-Identifier: MIT
# Sourced by model/check.sh, model/check-shared.sh and model/check-window.sh.
#
# verify NAME DEFINES... : runs spin on $model (a .pml in the current
# directory) with DEFINES, compiles pan with $OPT (default $opt_default),
# searches exhaustively; prints pan's verdict.  Exit status: 0 no error,
# 1 an error (pan.log holds it), 2 the verification could not be run.
verify() {
	name=$1
	shift
	rm -f pan pan.* ./*.trail
	spin -a "$@" "$model" >spin.log 2>&1 || { cat spin.log; return 2; }
	cc "${OPT:-$opt_default}" -DSAFETY -DNOFAIR -DVECTORSZ=2048 -o pan pan.c 2>cc.log ||
		{ cat cc.log; return 2; }
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

# enter_workdir [DIR] : makes DIR (or, without it, a temporary directory
# removed on exit) the current directory, as $work.
enter_workdir() {
	if [ $# -gt 0 ]; then
		work=$1
	else
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
	fi
	mkdir -p "$work"
	cd "$work"
}

# catch_mutant BUG NAME... : verifies $model with -DBUG in the
# configurations NAME (each expanded by the caller's `defines NAME`) until
# spin finds a violation, and says which.  Exit status: 0 caught, 1 not
# caught (said on standard error), 2 a verification could not be run.
catch_mutant() {
	bug=$1
	shift
	for cname in "$@"; do
		rc=0
		# shellcheck disable=SC2046 # word splitting of the defines is wanted
		OPT=-O0 verify "mutant $bug ($cname)" -D"$bug" $(defines "$cname") >/dev/null || rc=$?
		[ "$rc" -ne 2 ] || return 2
		[ "$rc" -eq 1 ] || continue
		echo "mutant $bug ($cname): caught: $(grep -m1 -E 'assertion violated|invalid end state' pan.log)"
		return 0
	done
	echo "mutant $bug: NOT caught" >&2
	return 1
}
