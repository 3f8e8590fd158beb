#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test, as CI runs them: both wait backends (gcc), the unit suite
# under valgrind, and clang ASan+UBSan and TSan builds of both backends.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test || exit 1

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

passed=0
failed=0
failures=()

# run NAME COMMAND...: one step of the matrix.
run() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

# config DIR MESON_ARGS...: a fresh build directory.
config() {
	local dir=build-ci/$1
	shift
	rm -rf "$dir"
	meson setup "$dir" "$@" >"build-ci/$(basename "$dir").setup.log" 2>&1 &&
		ninja -C "$dir" >/dev/null ||
		{ cat "build-ci/$(basename "$dir").setup.log"; return 1; }
}

# suite DIR MESON_TEST_ARGS...
suite() {
	local dir=build-ci/$1
	shift
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
}

mkdir -p build-ci
for b in futex condvar; do
	run "gcc $b: build" config "gcc-$b" -Dwait_backend=$b -Dwerror=true
	run "gcc $b: meson test" suite "gcc-$b"
	run "gcc $b: valgrind (unit suite)" suite "gcc-$b" --setup valgrind --suite unit
	CC=clang run "clang $b asan+ubsan: build" config "asan-$b" -Dwait_backend=$b \
		-Db_sanitize=address,undefined -Db_lundef=false
	run "clang $b asan+ubsan: meson test" suite "asan-$b"
	CC=clang run "clang $b tsan: build" config "tsan-$b" -Dwait_backend=$b \
		-Db_sanitize=thread -Db_lundef=false
	run "clang $b tsan: meson test" suite "tsan-$b"
done

echo
for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
