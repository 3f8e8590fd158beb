#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: kernel/ci.sh STEP...   (STEP: series checkpatch kunit smoke module all)
#
# The kernel side of libcchain, checked against Debian's linux-source-6.12
# (installed by scripts/deps.sh kernel):
#
#   series      unpack the kernel tree (once), turn kernel/ into a patch
#               series with kernel/mkpatches.sh, and check that the series
#               applies with git am to the tree's own copies of the files
#               it touches
#   checkpatch  scripts/checkpatch.pl --strict on every patch, and
#               scripts/kernel-doc on the chain's files: nothing reported
#   kunit       build the CI kernel (User Mode Linux: the series, the
#               bench patch, kernel/uml/uml.config and
#               kernel/compl_chain.kunitconfig) and run the compl_chain
#               KUnit suite in it; every case passes, no lockdep, list
#               corruption, BUG or WARN report
#   smoke       boot the CI kernel against an NVMe/TCP target of 20
#               namespaces at 0 and 5 ms per direction, and with 4
#               scsi_debug hosts, 3 scans each (kernel/uml/scan.py): every
#               scan names every device in order, the kernel reports nothing
#   module      lib/compl_chain.c as an out-of-tree module against the newest
#               /usr/src/linux-headers-*-amd64, W=1, no warning
#
# checkpatch, kunit and smoke need series first.  The tree, the builds and
# the series are kept in $CCHAIN_KERNEL_CACHE (kernel/uml/common.sh); the
# kernel binary is rebuilt only when its inputs change.
set -euo pipefail
. "$(dirname "$0")/uml/common.sh"
here=$kernel_dir

step_series() {
	local scratch f
	ensure_tree
	reset_tree
	bash "$here/mkpatches.sh" -o "$series" "$tree" >/dev/null
	# git am, as a maintainer would apply the series, on the tree's own
	# copies of the files it touches.
	scratch=$(mktemp -d)
	(cd "$tree" && git apply --numstat $(series_patches)) | cut -f3 |
		while IFS= read -r f; do
			[ -f "$tree/$f" ] || continue
			mkdir -p "$scratch/$(dirname "$f")"
			cp "$tree/$f" "$scratch/$f"
		done
	git -C "$scratch" init -q
	git -C "$scratch" add -A
	git -C "$scratch" -c user.name=ci -c user.email=ci@localhost commit -q -m base
	if ! git -C "$scratch" -c user.name=ci -c user.email=ci@localhost am -q \
		$(series_patches); then
		rm -rf "$scratch"
		die "the series does not apply with git am to $source_pkg"
	fi
	rm -rf "$scratch"
	echo "$(series_patches | wc -l) patches apply with git am to $source_pkg $(source_version):"
	series_patches | xargs -n1 basename
}

# The CI kernel: the whole series, the bench patch, KUnit and lock debugging.
ci_kernel() {
	bash "$here/uml/build.sh" ci -c "$here/uml/uml.config" \
		-c "$here/compl_chain.kunitconfig" $(series_patches) "$here/bench/bench.patch"
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
	out=$("$tree/scripts/kernel-doc" -none "$here/include/linux/compl_chain.h" \
		"$here/lib/compl_chain.c" 2>&1)
	if [ -n "$out" ]; then
		echo "$out"
		bad=1
	fi
	return "$bad"
}

kernel_reports='BUG:|Oops|Kernel panic|possible (recursive|circular) locking|inconsistent lock state|non-static key|locking correctness validator|DEBUG_LOCKS_WARN_ON|list_(add|del) corruption|sleeping function called|scheduling while atomic'

step_kunit() {
	local json=$cache/kunit.json log=$cache/kunit.log ret=0 expected kernel
	kernel=$(ci_kernel) || return 1
	mkdir -p "$cache/tmp"
	expected=$(grep -c '^	KUNIT_CASE(' "$here/lib/compl_chain_kunit.c")
	# The suite runs at boot, before init; kunit_shutdown halts after it.
	rm -f "$json"
	TMPDIR=$cache/tmp timeout 600 "$kernel" mem=1G console=tty kunit.enable=1 \
		kunit.filter_glob=compl_chain kunit_shutdown=halt </dev/null >"$log" 2>&1 ||
		ret=$?
	"$tree/tools/testing/kunit/kunit.py" parse --json="$json" "$log" >/dev/null || true
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
	if grep -E "$kernel_reports" "$log"; then
		echo "kernel/ci.sh: the kernel log of the KUnit run ($log) has the reports above"
		ret=1
	fi
	return "$ret"
}

# smoke NAME SCAN_ARGS...: one boot of the CI kernel (kernel/uml/scan.py);
# every scan names every device in order, the kernel reports nothing.
smoke() {
	local name=$1 kernel out=$cache/smoke-$1.json
	shift
	kernel=${CCHAIN_SMOKE_KERNEL:-$(ci_kernel)} || return 1
	python3 "$here/uml/scan.py" "$kernel" --log "$cache/smoke-$name.log" "$@" >"$out" || true
	python3 "$here/uml/check.py" "$name" "$out"
}

step_smoke() {
	local ret=0
	smoke nvme-0ms --nvme 20 --delay 0 --scans 3 || ret=1
	smoke nvme-5ms --nvme 20 --delay 5ms --scans 3 || ret=1
	smoke scsi --nvme 0 --scsi-hosts 4 --scsi-luns 8 --scsi-delay-us 1000 --scans 3 || ret=1
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

[ $# -gt 0 ] || die "usage: kernel/ci.sh series|checkpatch|kunit|smoke|module|all..."
for step in "$@"; do
	case $step in
	series | checkpatch | kunit | smoke | module) "step_$step" ;;
	all) step_series && step_checkpatch && step_kunit && step_smoke && step_module ;;
	*) die "unknown step '$step'" ;;
	esac
done
