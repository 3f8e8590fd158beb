#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: examples/pgz/bench.sh PGZ [INPUT] [REPETITIONS]
# pgz against pigz on the same input, level and thread count (online CPUs,
# each tool's default), in interleaved pairs (the order alternates, so drift
# hits both alike), at the default scheduling priority: never real-time
# priority, which hides threads that wait on each other.  For each load
# (idle: nothing else runs; busy: one competing CPU-bound process) and each
# level: compression by both, then decompression of pgz's output by pgz -d,
# pigz -d and gzip -d (gzip reported only).  Medians of the wall times.
# Without INPUT, builds a 120 MB mix of the machine's documentation and
# libraries (compressible and less compressible data, as a real archive
# would be).  Targets: pgz >= 0.95 x pigz's throughput in every row,
# compressed size within 1 %; exits non-zero when one is missed.  A row
# whose ratio misses after REPETITIONS pairs is measured again with twice
# as many more, once, and judged on the median of all its pairs (the row
# says so): a burst of load from outside shifts a few pairs, a slower pgz
# shifts them all.
# Environment: PGZ_LEVELS (default "1 6 9"), PGZ_LOADS (default
# "idle busy"), PGZ_MIN_RATIO (default 0.95; the CI smoke run, on a machine
# whose load it does not control, uses a looser one as an alarm for
# regressions).
set -euo pipefail
min_ratio=${PGZ_MIN_RATIO:-0.95}
levels=${PGZ_LEVELS:-1 6 9}
loads=${PGZ_LOADS:-idle busy}
usage() { echo "usage: bench.sh PGZ [INPUT] [REPETITIONS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage
pgz=$1
input=${2:-}
reps=${3:-5}
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: repetitions must be a positive number: $reps" >&2; exit 2; }
for l in $levels; do
	[[ $l =~ ^[1-9]$ ]] || { echo "bench.sh: PGZ_LEVELS: not a level 1..9: $l" >&2; exit 2; }
done
for l in $loads; do
	case $l in idle | busy) ;; *) echo "bench.sh: PGZ_LOADS: not idle or busy: $l" >&2; exit 2 ;; esac
done
[ -x "$pgz" ] || { echo "bench.sh: not an executable: $pgz" >&2; exit 2; }
command -v pigz >/dev/null || { echo "bench.sh: pigz is not installed (apt-get install pigz)" >&2; exit 1; }
work=$(mktemp -d)
hog=
cleanup() {
	[ -z "$hog" ] || kill "$hog" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$input" ]; then
	input=$work/input
	find /usr/share/doc /usr/lib/x86_64-linux-gnu /usr/share/man -type f 2>/dev/null |
		LC_ALL=C sort | xargs cat 2>/dev/null | head -c 120000000 >"$input" || true
fi
[ -r "$input" ] || { echo "bench.sh: cannot read $input" >&2; exit 2; }
bytes=$(stat -c %s "$input")
threads=$(nproc)
cat "$input" >/dev/null # warm the page cache

time_c() { # CMD... -> seconds on stdout; output in $work/out
	local t0 t1
	t0=$(date +%s.%N)
	"$@" <"$input" >"$work/out"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
time_d() { # CMD... -> seconds; the output must be the input
	local t0 t1
	t0=$(date +%s.%N)
	"$@" <"$work/in.gz" >"$work/out"
	t1=$(date +%s.%N)
	cmp -s "$work/out" "$input" || { echo "bench.sh: $* decompressed wrongly" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rows=() fail=0
ratio_met() { # PIGZ PGZ -> status: pgz's throughput ratio meets the target
	awk -v a="$1" -v p="$2" -v m="$min_ratio" 'BEGIN { exit !(a / p >= m + 0) }'
}
row() { # LOAD LEVEL OPERATION PIGZ PGZ GZIP SIZE-RATIO NOTE
	local r ok
	r=$(awk -v a="$4" -v p="$5" 'BEGIN { printf "%.3f", a / p }')
	if ratio_met "$4" "$5"; then ok=met; else ok=MISSED fail=1; fi
	rows+=("$(printf '%-5s %-3s %-11s %8.3f %8.3f %8s %8.3f  %-6s %-10s %s' "$1" "-$2" "$3" "$4" "$5" "$6" "$r" "$ok" "$7" "$8")")
}
compress_pairs() { # LEVEL N: N more pairs, appended to pigz_t and pgz_t
	local i
	for ((i = 0; i < $2; i++)); do
		if ((${#pgz_t[@]} % 2)); then
			pgz_t+=("$(time_c "$pgz" "-$1" -p "$threads" -c)"); pgz_size=$(stat -c %s "$work/out")
			pigz_t+=("$(time_c pigz "-$1" -p "$threads" -c)"); pigz_size=$(stat -c %s "$work/out")
		else
			pigz_t+=("$(time_c pigz "-$1" -p "$threads" -c)"); pigz_size=$(stat -c %s "$work/out")
			pgz_t+=("$(time_c "$pgz" "-$1" -p "$threads" -c)"); pgz_size=$(stat -c %s "$work/out")
		fi
	done
}
decompress_triples() { # N: N more runs of each decompressor
	local i
	for ((i = 0; i < $1; i++)); do
		# Rotate the order, so that drift hits all three alike.
		case $((${#dpgz[@]} % 3)) in
		0) dpgz+=("$(time_d "$pgz" -d -c)"); dpigz+=("$(time_d pigz -d -c)"); dgzip+=("$(time_d gzip -d -c)") ;;
		1) dpigz+=("$(time_d pigz -d -c)"); dgzip+=("$(time_d gzip -d -c)"); dpgz+=("$(time_d "$pgz" -d -c)") ;;
		2) dgzip+=("$(time_d gzip -d -c)"); dpgz+=("$(time_d "$pgz" -d -c)"); dpigz+=("$(time_d pigz -d -c)") ;;
		esac
	done
}

echo "bench.sh: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $threads CPUs; input $((bytes / 1000000)) MB; $reps interleaved pairs per row; levels $levels; loads $loads" >&2
for load in $loads; do
	if [ "$load" = busy ]; then
		(while :; do :; done) &
		hog=$!
	fi
	for level in $levels; do
		pigz_t=() pgz_t=() note=
		compress_pairs "$level" "$reps"
		if ! ratio_met "$(median "${pigz_t[@]}")" "$(median "${pgz_t[@]}")"; then
			compress_pairs "$level" $((2 * reps))
			note="re-measured: median of ${#pgz_t[@]} pairs"
		fi
		size=$(awk -v a="$pigz_size" -v p="$pgz_size" 'BEGIN { printf "%.4f", p / a }')
		awk -v s="$size" 'BEGIN { exit !(s <= 1.01 && s >= 0.99) }' || { fail=1; size="$size MISSED"; }
		row "$load" "$level" compress "$(median "${pigz_t[@]}")" "$(median "${pgz_t[@]}")" "" "size $size" "$note"

		"$pgz" "-$level" -p "$threads" -c <"$input" >"$work/in.gz"
		gzip -t "$work/in.gz"
		dpgz=() dpigz=() dgzip=() note=
		decompress_triples "$reps"
		if ! ratio_met "$(median "${dpigz[@]}")" "$(median "${dpgz[@]}")"; then
			decompress_triples $((2 * reps))
			note="re-measured: median of ${#dpgz[@]} runs"
		fi
		row "$load" "$level" decompress "$(median "${dpigz[@]}")" "$(median "${dpgz[@]}")" \
			"$(awk -v g="$(median "${dgzip[@]}")" 'BEGIN { printf "%.3f", g }')" "" "$note"
		echo "${rows[-2]}" >&2
		echo "${rows[-1]}" >&2
	done
	if [ -n "$hog" ]; then
		kill "$hog"
		wait "$hog" 2>/dev/null || true
		hog=
	fi
done

echo "pgz against pigz: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $threads CPUs, input $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $threads threads each, default priority, medians of $reps interleaved pairs (seconds)"
echo "busy: one competing CPU-bound process runs throughout the row"
printf '%-5s %-3s %-11s %8s %8s %8s %8s  %-6s %-10s %s\n' load lvl operation pigz pgz gzip pgz/pigz ">=$min_ratio" size note
printf '%s\n' "${rows[@]}"
exit "$fail"
