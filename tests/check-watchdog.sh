#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-watchdog.sh STRESS
# A task that never completes its entry must make the soak's watchdog fail
# the run with a dump of the chain: a stall is reported, never waited out.
set -u
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$1" --threads 4 --seconds 60 --stall-timeout 1 --inject-hang >/dev/null 2>"$out"
rc=$?
cat "$out"
[ "$rc" -eq 3 ] || { echo "expected exit status 3 from the watchdog, got $rc" >&2; exit 1; }
grep -q "no entry completed for 1 s" "$out" || exit 1
grep -q "^compl_chain .*entries, head" "$out" || exit 1
grep -q "#0 entry .*ready" "$out" || { echo "the stuck head is not in the dump" >&2; exit 1; }
