#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: examples/respd/bench.sh RESPD [ROUNDS]
# respd against Debian's redis-server on this machine, in the same run:
#   1. redis-benchmark -t set,get -P 16 -c 50 -n 200000 (requests/s of each
#      test, and respd / redis-server);
#   2. load.py: 50 connections, pipelines of 16, one request in 50 is
#      DEBUG SLEEP 0.001 (redis-server stalls every client on it);
#   3. load.py --multi: 50 connections, each pipeline of 16 SET/GET one
#      MULTI/EXEC transaction.
# Medians over ROUNDS (default 3) rounds, servers alternating within a round.
# RESPD_THREADS (default 8): respd's --threads.  BENCH_N (default 200000):
# redis-benchmark's -n; BENCH_SECONDS (default 5): each load.py run.
set -euo pipefail
respd=$1
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
threads=${RESPD_THREADS:-8}
n=${BENCH_N:-200000}
seconds=${BENCH_SECONDS:-5}

port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 100); do
		redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench.sh: server on port $1 did not start" >&2
	exit 1
}
start() { # start NAME -> sets pid and p
	p=$(port)
	case $1 in
	respd) "$respd" --port "$p" --threads "$threads" 2>/dev/null & ;;
	redis) redis-server --port "$p" --save "" --appendonly no --bind 127.0.0.1 \
		--enable-debug-command yes >/dev/null & ;;
	esac
	pid=$!
	wait_port "$p"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A res
for r in $(seq "$rounds"); do
	for s in redis respd; do
		start $s
		out=$(redis-benchmark -p "$p" -t set,get -P 16 -c 50 -n "$n" --csv)
		res[$s-set]+="$(echo "$out" | awk -F'","' '/^"SET"/ { print $2 }') "
		res[$s-get]+="$(echo "$out" | awk -F'","' '/^"GET"/ { print $2 }') "
		res[$s-sleep]+="$($py "$here/load.py" "$p" --every 50 --seconds "$seconds") "
		res[$s-multi]+="$($py "$here/load.py" "$p" --every 0 --multi --seconds "$seconds") "
		kill "$pid"
		wait "$pid" || true
	done
done
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; respd --threads $threads; medians of $rounds rounds"
printf '%-44s %12s %12s %8s\n' scenario redis-server respd ratio
for t in set get sleep multi; do
	a=$(echo "${res[redis-$t]}" | tr ' ' '\n' | grep . | median)
	b=$(echo "${res[respd-$t]}" | tr ' ' '\n' | grep . | median)
	case $t in
	set) name="SET, redis-benchmark -P 16 -c 50" ;;
	get) name="GET, redis-benchmark -P 16 -c 50" ;;
	sleep) name="SET/GET, 1 in 50 DEBUG SLEEP 0.001 (load.py)" ;;
	multi) name="SET/GET, MULTI/EXEC of 16 (load.py --multi)" ;;
	esac
	printf '%-44s %12.0f %12.0f %7.2fx\n' "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
