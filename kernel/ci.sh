#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: kernel/ci.sh STEP...   (STEP: series checkpatch kunit module all)
#
# The kernel side of libcchain, checked against Debian's linux-source-6.1
# (installed by scripts/deps.sh kernel):
#
#   series      unpack the kernel tree (once), turn kernel/ into a patch
#               series with kernel/mkpatches.sh and apply it to the tree
#   checkpatch  scripts/checkpatch.pl --strict on every patch, and
#               scripts/kernel-doc on the chain's files: nothing reported
#   kunit       the KUnit cases in User Mode Linux (kunit.py run, with
#               kernel/compl_chain.kunitconfig); every compl_chain case passes
#   module      lib/compl_chain.c as an out-of-tree module against the newest
#               /usr/src/linux-headers-*-amd64, W=1, no warning
#
# checkpatch and kunit need series first.  The unpacked tree, the UML build
# directory and the series are kept in $CCHAIN_KERNEL_CACHE (default
# build-ci/kernel) and reused while linux-source-6.1 keeps its version; the
# tree is put back to its unpacked state before each series is applied.
# UML keeps its memory in a file under $TMPDIR, which is pointed into the
# cache: a small tmpfs there kills it with a bus error.  Builds run under
# nice -n 19 with 2 jobs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CCHAIN_KERNEL_CACHE:-$here/../build-ci/kernel}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
tree=$cache/linux-source-6.1
series=$cache/series
pristine=$cache/pristine # unpacked copies of the files a series modifies
touched=$cache/touched.list # what the applied series touched
jobs=2
# git apply acts as a plain patch(1) in the tree, not as part of a repository
# the cache may lie in.
export GIT_CEILING_DIRECTORIES=$cache

die() {
	echo "kernel/ci.sh: $*" >&2
	exit 1
}

# Unpack the tree unless the cached one is of the installed version.
ensure_tree() {
	local version
	[ -f "$tarball" ] || die "$tarball missing: run scripts/deps.sh kernel"
	version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	if [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ] && [ -d "$tree" ]; then
		return
	fi
	echo "unpacking linux-source-6.1 $version"
	rm -rf "$tree" "$pristine" "$touched" "$cache/uml" "$cache/version"
	nice -n 19 tar -xf "$tarball" -C "$cache"
	echo "$version" >"$cache/version"
}

# Put back the files the last applied series touched.
reset_tree() {
	local f
	[ -f "$touched" ] || return 0
	while IFS= read -r f; do
		if [ -f "$pristine/$f" ]; then
			cp -p "$pristine/$f" "$tree/$f"
		else
			rm -f "$tree/$f"
		fi
	done <"$touched"
	rm -f "$touched"
}

step_series() {
	local patches=() p f
	ensure_tree
	reset_tree
	bash "$here/mkpatches.sh" -o "$series" "$tree"
	for p in "$series"/0*.patch; do
		[[ $p == */0000-cover-letter.patch ]] || patches+=("$p")
	done
	(cd "$tree" && git apply --numstat "${patches[@]}") |
		cut -f3 | sort -u >"$touched.new"
	while IFS= read -r f; do
		if [ -f "$tree/$f" ] && [ ! -f "$pristine/$f" ]; then
			mkdir -p "$pristine/$(dirname "$f")"
			cp -p "$tree/$f" "$pristine/$f"
		fi
	done <"$touched.new"
	mv "$touched.new" "$touched"
	for p in "${patches[@]}"; do
		(cd "$tree" && git apply --check "$p" && git apply "$p") ||
			die "$(basename "$p") does not apply to linux-source-6.1"
	done
	echo "applied ${#patches[@]} patches to $tree"
}

step_checkpatch() {
	local p out bad=0
	for p in "$series"/0*.patch; do
		[[ $p == */0000-cover-letter.patch ]] && continue
		out=$(cd "$tree" && ./scripts/checkpatch.pl --strict "$p") || true
		echo "$(basename "$p"): $(grep "^total:" <<<"$out")"
		if ! grep -q '^total: 0 errors, 0 warnings, 0 checks' <<<"$out"; then
			echo "$out"
			bad=1
		fi
	done
	# And the kernel-doc of the chain's files, which W=1 checks only in .c
	out=$(cd "$tree" && ./scripts/kernel-doc -none include/linux/compl_chain.h \
		lib/compl_chain.c 2>&1)
	if [ -n "$out" ]; then
		echo "$out"
		bad=1
	fi
	return "$bad"
}

kernel_reports='BUG:|Oops|Kernel panic|possible (recursive|circular) locking|inconsistent lock state|non-static key|locking correctness validator|DEBUG_LOCKS_WARN_ON|list_(add|del) corruption|sleeping function called|scheduling while atomic'

step_kunit() {
	local json=$cache/kunit.json ret=0 expected
	mkdir -p "$cache/tmp"
	expected=$(grep -c '^	KUNIT_CASE(' "$here/lib/compl_chain_kunit.c")
	(cd "$tree" && TMPDIR=$cache/tmp nice -n 19 ./tools/testing/kunit/kunit.py run \
		--build_dir="$cache/uml" --kunitconfig="$here/compl_chain.kunitconfig" \
		--jobs=$jobs --timeout=300 --json="$json") || ret=$?
	# kunit.py fails on a failed case; also insist that every case ran.
	python3 - "$json" "$expected" <<'EOF' || ret=1
import json, sys
path, expected = sys.argv[1], int(sys.argv[2])
try:
    doc = json.load(open(path))
except (OSError, ValueError) as e:
    sys.exit(f"kernel/ci.sh: no KUnit results ({e})")
cases = [c for s in doc.get("sub_groups", []) if s["name"] == "compl_chain"
         for c in s.get("test_cases", [])]
passed = [c["name"] for c in cases if c["status"] == "PASS"]
for c in cases:
    if c["status"] != "PASS":
        print(f"kunit: {c['name']}: {c['status']}")
print(f"kunit: compl_chain: {len(passed)} of {expected} cases passed")
sys.exit(0 if len(passed) == expected == len(cases) else 1)
EOF
	# Reports that fail no case but are failures: lockdep (which turns
	# itself off after its first report), list debugging, oopses.  The
	# WARN_ON_ONCE splats of the misuse cases are expected.
	if grep -E "$kernel_reports" "$cache/uml/test.log"; then
		echo "kernel/ci.sh: the kernel log of the KUnit run has the reports above"
		ret=1
	fi
	return "$ret"
}

step_module() {
	local hdrs dir=$cache/module log
	hdrs=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
	[ -n "$hdrs" ] || die "no /usr/src/linux-headers-*-amd64: run scripts/deps.sh kernel"
	rm -rf "$dir"
	mkdir -p "$dir/include/linux"
	cp "$here/include/linux/compl_chain.h" "$dir/include/linux/"
	cp "$here/lib/compl_chain.c" "$dir/"
	cp "$here/Kbuild.module" "$dir/Kbuild"
	echo "building against $hdrs"
	log=$(nice -n 19 make -C "$hdrs" M="$dir" W=1 -j$jobs modules 2>&1) || {
		echo "$log"
		return 1
	}
	echo "$log" | tail -n 3
	if grep -i 'warning' <<<"$log"; then
		echo "kernel/ci.sh: the W=1 module build warns"
		return 1
	fi
	[ -f "$dir/compl_chain.ko" ] || die "no compl_chain.ko"
	modinfo "$dir/compl_chain.ko" | grep -E '^(license|vermagic)'
}

[ $# -gt 0 ] || die "usage: kernel/ci.sh series|checkpatch|kunit|module|all..."
for step in "$@"; do
	case $step in
	series | checkpatch | kunit | module) "step_$step" ;;
	all) step_series && step_checkpatch && step_kunit && step_module ;;
	*) die "unknown step '$step'" ;;
	esac
done
