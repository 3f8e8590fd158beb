#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-usdt.sh LIBRARY USDT_TARGET
# The library carries every documented USDT probe (readelf -n), and gdb
# stops at one, wait_end, reading arguments that match what USDT_TARGET
# did: its second entry waited on its chain, slept, for about 50 ms.
set -eu
lib=$1
target=$2

want="add async_run async_run_end async_schedule cancel complete defer_run turn wait_begin wait_end"
have=$(readelf -n "$lib" | awk '/Provider: cchain/ { getline; print $2 }' | sort -u | tr '\n' ' ')
if [ "$have" != "$want " ]; then
	echo "USDT probes in $lib: '$have', expected '$want '" >&2
	exit 1
fi
echo "probes: $have"

if ! command -v gdb >/dev/null; then
	echo "gdb is required for the rest of this test (Debian: gdb)" >&2
	exit 77
fi
out=$(gdb -batch -nx -q -ex 'set breakpoint pending on' \
	-ex 'break -probe-stap cchain:wait_end' -ex run \
	-ex 'printf "probe argc=%d chain=%p entry=%p slept=%d ns=%lu ret=%d\n", $_probe_argc, $_probe_arg0, $_probe_arg1, $_probe_arg2, $_probe_arg3, $_probe_arg4' \
	-ex kill "$target" 2>&1) || true
addrs=$(printf '%s\n' "$out" | grep '^chain=' || true)
probe=$(printf '%s\n' "$out" | grep '^probe ' || true)
if [ -z "$addrs" ] || [ -z "$probe" ]; then
	echo "gdb did not stop at cchain:wait_end:" >&2
	printf '%s\n' "$out" >&2
	exit 1
fi
echo "target: $addrs"
echo "gdb:    $probe"
chain=$(printf '%s\n' "$addrs" | sed 's/.*chain=\([^ ]*\).*/\1/')
second=$(printf '%s\n' "$addrs" | sed 's/.*second=\([^ ]*\).*/\1/')
ns=$(printf '%s\n' "$probe" | sed 's/.* ns=\([0-9]*\).*/\1/')
case $probe in
"probe argc=5 chain=$chain entry=$second slept=1 ns="*" ret=0") ;;
*)
	echo "unexpected arguments (expected argc=5 chain=$chain entry=$second slept=1 ret=0)" >&2
	exit 1
	;;
esac
# The target's head completes after 50 ms; gdb raised the semaphore, so
# the wait was timed.
if [ "$ns" -lt 40000000 ]; then
	echo "wait_end reports $ns ns; the wait lasted about 50 ms" >&2
	exit 1
fi
