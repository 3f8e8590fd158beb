#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-tsan.sh SOURCE_ROOT CONSUMER_DIR BUILD_DIR BACKEND
# What doc/integrating.md says about ThreadSanitizer, checked with the consumer,
# whose tasks write shared data that only the chain orders:
# - built with -fsanitize=thread against the uninstrumented library of
#   BUILD_DIR, TSan reports a data race on that data: it cannot see the
#   library's atomics (futex backend only: the condvar backend's mutexes
#   and condition variables are intercepted, so the report depends on
#   timing there);
# - built as a meson project with libcchain as a subproject and
#   -Db_sanitize=thread, so that the library is instrumented too, it runs
#   without a report.
set -eu
root=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
backend=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"

if [ "$backend" = futex ]; then
	${CC:-cc} -fsanitize=thread -g -O1 -pthread -I"$root/include" -I"$build/include" \
		-o "$dir/consumer-uninstrumented" "$src/consumer.c" -L"$build" -lcchain
	status=0
	LD_LIBRARY_PATH=$build "$dir/consumer-uninstrumented" >"$dir/out" 2>&1 || status=$?
	if [ $status -ne 66 ] || ! grep -q 'ThreadSanitizer: data race' "$dir/out"; then
		cat "$dir/out" >&2
		echo "TSan did not report the race it reports against an uninstrumented libcchain" >&2
		exit 1
	fi
	echo "uninstrumented libcchain: TSan reports a data race on data the chain orders (as doc/integrating.md says)"
fi

# The subproject's own library, not the one meson test points
# LD_LIBRARY_PATH at.
unset LD_LIBRARY_PATH
mkdir -p "$dir/p/subprojects"
ln -s "$root" "$dir/p/subprojects/libcchain"
cp "$src/meson/meson.build" "$src/consumer.c" "$dir/p/"
cd "$dir/p"
meson setup build --wrap-mode=forcefallback -Db_sanitize=thread -Db_lundef=false \
	-Dlibcchain:wait_backend="$backend" >setup.log 2>&1 || { cat setup.log >&2; exit 1; }
ninja -C build >/dev/null
# The library itself must be instrumented, not only the consumer.
grep -q 'fsanitize=thread' build/compile_commands.json
grep 'subprojects/libcchain/src/compl_chain.c' -B3 -A3 build/compile_commands.json |
	grep -q 'fsanitize=thread' ||
	{ echo "the libcchain subproject was not built with -fsanitize=thread" >&2; exit 1; }
ldd ./build/consumer >ldd.out
grep -q "/subprojects/libcchain/libcchain.so" ldd.out ||
	{ cat ldd.out >&2; echo "the consumer does not load the subproject's library" >&2; exit 1; }
./build/consumer
echo "libcchain as a subproject with -Db_sanitize=thread: no report"
