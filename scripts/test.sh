#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every test, as CI runs them, for both wait backends: gcc builds with the
# whole suite (the spin model, the nvme_sim checks, the stress and a one
# minute soak), valgrind memcheck and DRD, clang ASan+UBSan (with a bounded
# libFuzzer run) and TSan builds, the shared chains' kill storm; then respd
# against Redis's own clients, nvme_sim at 100,000 namespaces, the ABI check,
# the Debian packages, a sample of 40 mutants of the C code (scripts/mutate.py),
# and the kernel code of kernel/ (the patch series and checkpatch, KUnit and
# NVMe and SCSI scans in User Mode Linux, an out-of-tree module).
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

# drd THREADS ITERATIONS BACKEND: the stress program under valgrind's DRD,
# on a build whose atomics are annotated for it.
drd() {
	valgrind --tool=drd -q --error-exitcode=99 "build-ci/drd-$3/tests/stress" \
		--threads "$1" --iterations "$2"
}

# fuzz DIR SECONDS: libFuzzer on a copy of the seed corpus.
fuzz() {
	local corpus=build-ci/$1-corpus
	rm -rf "$corpus"
	mkdir -p "$corpus"
	cp tests/fuzz/corpus/* "$corpus"/
	"build-ci/$1/tests/fuzz_chain" -max_total_time="$2" -print_final_stats=1 \
		"$corpus" 2>&1 | tail -n 4
}

mkdir -p build-ci
for b in futex condvar; do
	model=disabled
	[ "$b" = futex ] && model=enabled # one run of the model covers both backends
	run "gcc $b: build" config "gcc-$b" -Dwait_backend=$b -Dwerror=true \
		-Dmodel_check=$model -Dman=enabled -Dpgz=enabled -Dtests=enabled \
		-Dbench=enabled
	run "gcc $b: meson test" suite "gcc-$b" --no-suite soak --no-suite killstorm \
		--no-suite respd
	run "gcc $b: soak (60 s, watchdog 5 s)" suite "gcc-$b" --suite soak
	run "gcc $b: benchmark smoke run" suite "gcc-$b" --benchmark
	run "gcc $b: valgrind memcheck (unit suite)" suite "gcc-$b" --setup valgrind --suite unit
	run "gcc $b drd: build" config "drd-$b" -Dwait_backend=$b \
		-Dvalgrind_annotations=true -Dexamples=false
	run "gcc $b: valgrind drd stress, 8 threads" drd 8 3000 "$b"
	run "gcc $b: valgrind drd stress, 24 threads" drd 24 600 "$b"
	# Shared chains: workers SIGKILLed thousands of times in a
	# minute, with a watchdog; once, the chain does not use the backend.
	[ "$b" = futex ] && run "gcc $b: shared chain kill storm (60 s, watchdog 5 s)" \
		suite "gcc-$b" --suite killstorm
	CC=clang run "clang $b asan+ubsan: build" config "asan-$b" -Dwait_backend=$b \
		-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=enabled \
		-Dmodel_check=disabled
	run "clang $b asan+ubsan: meson test" suite "asan-$b" --no-suite soak \
		--no-suite killstorm --no-suite respd
	run "clang $b asan+ubsan: libFuzzer, 45 s" fuzz "asan-$b" 45
	CC=clang run "clang $b tsan: build" config "tsan-$b" -Dwait_backend=$b \
		-Db_sanitize=thread -Db_lundef=false -Dmodel_check=disabled
	run "clang $b tsan: meson test" suite "tsan-$b" --no-suite soak \
		--no-suite killstorm --no-suite respd
done

# examples/respd against redis-cli, redis-benchmark, python3-redis and
# redis-server (tests/test_respd.py): the gcc, ASan+UBSan and TSan builds of
# the default backend (the notifier's tests run in every unit suite above).
run "gcc futex: respd" suite gcc-futex --suite respd
run "clang futex asan+ubsan: respd" suite asan-futex --suite respd
run "clang futex tsan: respd" suite tsan-futex --suite respd

# nvme_sim at scale: 100,000 namespaces in each mode within 60 s of wall
# time (memory from /usr/bin/time -v) and a linearity check, once, on the
# gcc futex build (about 45 s).
run "nvme_sim: 100,000 namespaces per mode, linearity" python3 tests/test_nvme_sim.py \
	build-ci/gcc-futex/examples/nvme_sim/nvme_sim --slow

# Mutation testing: a fixed sample of 40 mutants of the library's C code
# (the 40 whose ids hash lowest with seed 21), each rebuilt in a private
# copy of the tree and run against its file's fast tests; a survivor not
# argued in tests/mutation/equivalent.tsv fails the step.  doc/tests.md
# ("Mutation testing") has the full run.  Measured on the 2-core machine
# with other builds running: 2 min 52 s to 5 min (a hanging mutant costs
# its 20 s timeout).
run "mutation: a sample of 40 mutants (seed 21)" python3 scripts/mutate.py \
	--sample 40 --seed 21 --jobs 2 --workdir build-ci/mutation

# Debian packages and the ABI guard: the gcc futex build's library against
# abi/libcchain.so.0.abi; the packages built, linted, installed and used
# with plain pkg-config (deb-check.sh purges them again, so that no later
# step finds a libcchain in /usr).
run "abi: abidiff against abi/libcchain.so.0.abi" bash scripts/abi-check.sh build-ci/gcc-futex
run "deb: packages to build and check them" bash scripts/deps.sh deb
run "deb: dpkg-buildpackage -us -uc -b" bash scripts/deb-check.sh build build-ci/deb
run "deb: lintian" bash scripts/deb-check.sh lintian build-ci/deb
run "deb: install, consumer with plain pkg-config, tools" \
	bash scripts/deb-check.sh install build-ci/deb

# ---- kernel: kernel/ against Debian's linux-source-6.12 (kernel/ci.sh) -----
# The patch series from kernel/mkpatches.sh (the chain, its KUnit tests, the
# ordered NVMe scan, the SCSI scan's chain) applies with git am and
# checkpatch.pl --strict reports nothing; one User Mode Linux kernel (the
# series, kernel/bench/bench.patch, lockdep and list debugging) runs every
# KUnit case, then boots against an NVMe/TCP target of 20 namespaces at 0
# and 5 ms per direction and with 4 scsi_debug hosts, 3 scans each after a
# warm-up: every scan names every device in order and the kernel reports
# nothing; lib/compl_chain.c builds as an out-of-tree module against
# linux-headers-amd64 with W=1 and no warning.  The tree and the kernel are
# cached in /var/cache/libcchain/kernel, the kernel keyed by its inputs
# (kernel/uml/build.sh).
kernel_failed=$failed
run "kernel: packages (deps.sh kernel)" bash scripts/deps.sh kernel
run "kernel: patch series applies to linux-source-6.12 (git am)" bash kernel/ci.sh series
if [ "$failed" -eq "$kernel_failed" ]; then
	run "kernel: checkpatch.pl --strict" bash kernel/ci.sh checkpatch
	run "kernel: KUnit in User Mode Linux" bash kernel/ci.sh kunit
	run "kernel: NVMe/TCP and scsi_debug scans in User Mode Linux" bash kernel/ci.sh smoke
fi
run "kernel: out-of-tree module, W=1" bash kernel/ci.sh module

echo
for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
