#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: examples/pgz/bench.sh PGZ [INPUT] [REPETITIONS]
# pgz against pigz on the same input, level and thread count (-6, 2 threads),
# interleaved in one run; medians of the wall times.  Without INPUT, builds
# a 120 MB mix of the machine's documentation and libraries (compressible
# and less compressible data, as a real archive would be).
# Targets: throughput >= 0.9 x pigz, output size within 1 %.
set -euo pipefail
pgz=$1
input=${2:-}
reps=${3:-5}
command -v pigz >/dev/null || { echo "bench.sh: pigz is not installed (apt-get install pigz)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$input" ]; then
	input=$work/input
	find /usr/share/doc /usr/lib/x86_64-linux-gnu /usr/share/man -type f 2>/dev/null |
		LC_ALL=C sort | xargs cat 2>/dev/null | head -c 120000000 >"$input" || true
fi
bytes=$(stat -c %s "$input")
cat "$input" >/dev/null # warm the page cache

time_one() { # CMD... -> seconds on stdout
	local t0 t1
	t0=$(date +%s.%N)
	"$@" <"$input" >"$work/out"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

pigz_t=() pgz_t=()
for ((i = 0; i < reps; i++)); do
	# Alternate which one goes first, so drift hits both alike.
	if ((i % 2)); then
		pgz_t+=("$(time_one "$pgz" -6 -p 2 -c)"); pgz_size=$(stat -c %s "$work/out")
		pigz_t+=("$(time_one pigz -6 -p 2 -c)"); pigz_size=$(stat -c %s "$work/out")
	else
		pigz_t+=("$(time_one pigz -6 -p 2 -c)"); pigz_size=$(stat -c %s "$work/out")
		pgz_t+=("$(time_one "$pgz" -6 -p 2 -c)"); pgz_size=$(stat -c %s "$work/out")
	fi
done
"$pgz" -6 -p 2 -c <"$input" | gzip -t

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mpigz=$(median "${pigz_t[@]}")
mpgz=$(median "${pgz_t[@]}")
awk -v b="$bytes" -v a="$mpigz" -v p="$mpgz" -v sa="$pigz_size" -v sp="$pgz_size" -v n="$reps" 'BEGIN {
	printf "input %.1f MB, -6, 2 threads, median of %d runs each\n", b / 1e6, n
	printf "pigz  %6.3f s  %7.1f MB/s  %d bytes\n", a, b / a / 1e6, sa
	printf "pgz   %6.3f s  %7.1f MB/s  %d bytes\n", p, b / p / 1e6, sp
	t = a / p; s = sp / sa
	printf "throughput pgz/pigz %.3f (target >= 0.9), size pgz/pigz %.4f (target within 1%%)\n", t, s
	exit !(t >= 0.9 && s <= 1.01 && s >= 0.99)
}'
