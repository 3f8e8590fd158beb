# SPDX-License-Identifier: MIT
# Sourced by model/check.sh and model/check-shared.sh.
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
