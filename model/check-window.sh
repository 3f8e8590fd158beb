#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: model/check-window.sh [SPIN_WORK_DIR]
# Exhaustively verifies model/window.pml (the bounded window's design) in
# each configuration, then makes sure that every mutant (one protective
# step removed) is caught.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
model=window.pml
opt_default=-O2
# shellcheck source=model/lib.sh
. "$here/lib.sh"
enter_workdir "$@"
cp "$here/window.pml" .

status=0
# Configurations (window.pml's init says what each runs):
# NAME:WINDOW[:LOW-WATER MARK[:ROUNDS]].
configs="BLOCK:1 TIMED:1 LOOP:1 DEFER:2 PLAIN:1 LOW:2:0:1 FOUR:2:1:1 LOWLOOP:2:0
DRAIN3:3:1:1 PLAINLOW:2:0"
# defines NAME: the spin -D options of that configuration.
defines() {
	c=$(echo "$configs" | tr ' ' '\n' | grep "^$1:")
	echo "-DCONFIG_$1 -DW=$(echo "$c" | cut -d: -f2)" \
		"$(echo "$c" | cut -s -d: -f3 | sed 's/^./-DL=&/')" \
		"$(echo "$c" | cut -s -d: -f4 | sed 's/^./-DROUNDS=&/')"
}
for cfg in $configs; do
	# shellcheck disable=SC2046 # word splitting of the defines is wanted
	verify "config ${cfg%%:*}" $(defines "${cfg%%:*}") ||
		{ status=1; grep -E "assert|invalid end|pan:" pan.log | head -5; }
done

# Every protective step, removed one at a time, with the configurations
# that exercise it: spin must find a violation.
mutants="BUG_NO_ROOM_WAKE:BLOCK,TIMED
BUG_SLEEP_NO_GEN:BLOCK,TIMED
BUG_TIMEOUT_DROPS_ROOM:TIMED
BUG_COUNT_AT_TAKEOFF:DEFER
BUG_WATCH_NO_RECHECK:LOOP
BUG_WATCH_NOT_FIRED:LOOP
BUG_ADD_NO_CLOSE:LOW,FOUR
BUG_REOPEN_EARLY:LOW,LOWLOOP
BUG_WAKE_ONLY_REOPEN:FOUR"
nmut=0
for m in $mutants; do
	nmut=$((nmut + 1))
	# shellcheck disable=SC2046 # word splitting of the list is wanted
	catch_mutant "${m%%:*}" $(echo "${m#*:}" | tr , ' ') || status=1
done
echo "$(echo $configs | wc -w) configurations, $nmut mutants"
exit $status
