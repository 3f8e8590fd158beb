#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: examples/pgz/bench.sh PGZ [INPUT] [REPETITIONS]
# pgz against pigz on the same input, level and thread count (-6, 2 threads),
# interleaved in one run; medians of the wall times.  Then decompression of
# the same gzip data by pgz -d, pigz -d and gzip -d (reported; pgz's inflate
# is single-threaded, as pigz's is).  Without INPUT, builds
# a 120 MB mix of the machine's documentation and libraries (compressible
# and less compressible data, as a real archive would be).
# Targets: compression throughput >= 0.95 x pigz, output size within 1 %;
# exits non-zero when one is missed.  PGZ_MIN_RATIO overrides the throughput
# bound (the CI smoke run, on a machine whose load it does not control, uses
# a looser one as an alarm for regressions).
set -euo pipefail
min_ratio=${PGZ_MIN_RATIO:-0.95}
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
"$pgz" -6 -p 2 -c <"$input" >"$work/in.gz"
gzip -t "$work/in.gz"
gzbytes=$(stat -c %s "$work/in.gz")

time_d() { # CMD... -> seconds; the output must be the input
	local t0 t1
	t0=$(date +%s.%N)
	"$@" <"$work/in.gz" >"$work/out"
	t1=$(date +%s.%N)
	cmp -s "$work/out" "$input" || { echo "bench.sh: $* decompressed wrongly" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
dpgz=() dpigz=() dgzip=()
for ((i = 0; i < reps; i++)); do
	# Rotate the order, so that drift hits all three alike.
	case $((i % 3)) in
	0) dpgz+=("$(time_d "$pgz" -d -c)"); dpigz+=("$(time_d pigz -d -c)"); dgzip+=("$(time_d gzip -d -c)") ;;
	1) dpigz+=("$(time_d pigz -d -c)"); dgzip+=("$(time_d gzip -d -c)"); dpgz+=("$(time_d "$pgz" -d -c)") ;;
	2) dgzip+=("$(time_d gzip -d -c)"); dpgz+=("$(time_d "$pgz" -d -c)"); dpigz+=("$(time_d pigz -d -c)") ;;
	esac
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mpigz=$(median "${pigz_t[@]}")
mpgz=$(median "${pgz_t[@]}")
awk -v b="$bytes" -v g="$gzbytes" -v p="$(median "${dpgz[@]}")" -v a="$(median "${dpigz[@]}")" \
	-v z="$(median "${dgzip[@]}")" -v n="$reps" 'BEGIN {
	printf "decompression of %.1f MB of gzip data (%.1f MB out), median of %d runs each\n", g / 1e6, b / 1e6, n
	printf "gzip -d  %6.3f s  %7.1f MB/s out\n", z, b / z / 1e6
	printf "pigz -d  %6.3f s  %7.1f MB/s out\n", a, b / a / 1e6
	printf "pgz -d   %6.3f s  %7.1f MB/s out\n", p, b / p / 1e6
	printf "decompression pgz/pigz %.3f, pgz/gzip %.3f (reported, no target)\n", a / p, z / p
}'
awk -v m="$min_ratio" -v b="$bytes" -v a="$mpigz" -v p="$mpgz" -v sa="$pigz_size" -v sp="$pgz_size" -v n="$reps" 'BEGIN {
	printf "input %.1f MB, -6, 2 threads, median of %d runs each\n", b / 1e6, n
	printf "pigz  %6.3f s  %7.1f MB/s  %d bytes\n", a, b / a / 1e6, sa
	printf "pgz   %6.3f s  %7.1f MB/s  %d bytes\n", p, b / p / 1e6, sp
	t = a / p; s = sp / sa
	printf "throughput pgz/pigz %.3f (target >= %s), size pgz/pigz %.4f (target within 1%%)\n", t, m, s
	exit !(t >= m + 0 && s <= 1.01 && s >= 0.99)
}'
