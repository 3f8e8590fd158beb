#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: kernel/mkpatches.sh [-o OUTDIR] KERNEL_TREE
#
# Turns kernel/ into a patch series for KERNEL_TREE (a kernel source tree,
# read only): git format-patch output with a cover letter, in OUTDIR
# (default: ./compl_chain-patches, emptied first).
#
#   0000-cover-letter.patch  the semantics table of doc/kernel.md ("Porting
#                            to the kernel"), and how the series was tested
#   0001  lib: add ordered completion chains (compl_chain)
#         include/linux/compl_chain.h, lib/compl_chain.c, Kconfig, Makefile,
#         MAINTAINERS
#   0002  lib: compl_chain: add KUnit tests
#         lib/compl_chain_kunit.c, Kconfig.debug, Makefile, MAINTAINERS
#   0003  nvme-core: register namespaces in order during async scan
#         kernel/drivers/nvme-host-ordered-scan.patch
#   0004  scsi: scan: order asynchronous host scans with a completion chain
#         kernel/drivers/scsi-scan-compl-chain.patch
#
# A patch of kernel/drivers/ is its commit message, a line "---", and a
# diff against linux-source-6.12, applied with git apply.
# The patches carry the author and Signed-off-by of the git identity of this
# repository, as git commit -s would.  Only the
# files the series modifies are copied from KERNEL_TREE, into a scratch git
# repository; the context of the diffs is therefore KERNEL_TREE's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=compl_chain-patches

die() {
	echo "mkpatches.sh: $*" >&2
	exit 1
}

while getopts o: opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) die "usage: mkpatches.sh [-o OUTDIR] KERNEL_TREE" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || die "usage: mkpatches.sh [-o OUTDIR] KERNEL_TREE"
tree=$1
drivers=("$here/drivers/nvme-host-ordered-scan.patch"
	"$here/drivers/scsi-scan-compl-chain.patch")
modified=(MAINTAINERS lib/Kconfig lib/Kconfig.debug lib/Makefile)
for p in "${drivers[@]}"; do
	mapfile -t -O "${#modified[@]}" modified < <(sed -n 's|^diff --git a/\([^ ]*\) .*|\1|p' "$p")
done
for f in "${modified[@]}"; do
	[ -f "$tree/$f" ] || die "$tree is not a kernel source tree (no $f)"
done

# The configured identity, else the author of the last commit (a fresh CI
# clone has no identity of its own).
if git -C "$top" config user.name >/dev/null; then
	ident=$(git -C "$top" var GIT_AUTHOR_IDENT)
else
	ident=$(git -C "$top" log -1 --format='%an <%ae>')
fi
[ -n "$ident" ] || die "no git identity: set user.name and user.email"
name=${ident%% <*}
email=${ident#* <}
email=${email%%>*}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
g() {
	git -C "$scratch" -c user.name="$name" -c user.email="$email" \
		-c core.autocrlf=false "$@"
}

g init -q
for f in "${modified[@]}"; do
	mkdir -p "$scratch/$(dirname "$f")"
	cp "$tree/$f" "$scratch/$f"
done
g add -A
g commit -q -m base

# insert_after FILE ANCHOR TEXT: TEXT after the first line equal to ANCHOR.
insert_after() {
	local file=$scratch/$1
	grep -qxF -- "$2" "$file" || die "$1: no line '$2' to insert after"
	awk -v anchor="$2" -v text="$3" \
		'{ print } !done && $0 == anchor { print text; done = 1 }' \
		"$file" >"$file.new"
	mv "$file.new" "$file"
}

# insert_before FILE ANCHOR TEXT
insert_before() {
	local file=$scratch/$1
	grep -qxF -- "$2" "$file" || die "$1: no line '$2' to insert before"
	awk -v anchor="$2" -v text="$3" \
		'!done && $0 == anchor { print text; done = 1 } { print }' \
		"$file" >"$file.new"
	mv "$file.new" "$file"
}

# ---- Patch 1: the chain --------------------------------------------------
mkdir -p "$scratch/include/linux" "$scratch/lib"
cp "$here/include/linux/compl_chain.h" "$scratch/include/linux/"
cp "$here/lib/compl_chain.c" "$scratch/lib/"
printf '\nconfig COMPL_CHAIN\n\ttristate\n' >>"$scratch/lib/Kconfig"
insert_after lib/Makefile 'obj-$(CONFIG_POLYNOMIAL) += polynomial.o' \
	'obj-$(CONFIG_COMPL_CHAIN) += compl_chain.o'
insert_before MAINTAINERS 'COMPUTE EXPRESS LINK (CXL)' "COMPLETION CHAINS
M:	$name <$email>
S:	Maintained
F:	include/linux/compl_chain.h
F:	lib/compl_chain.c
"
g add -A
g commit -q -s -F - <<'EOF'
lib: add ordered completion chains (compl_chain)

Asynchronous work often has one step that must happen in submission
order: the NVMe namespace scan allocates namespace heads, and so fixes
the /dev/nvmeXnY instance numbers, in completion order once the scan is
asynchronous, and SCSI hosts scanned asynchronously must add their
devices in the order they started.

A completion chain orders that one step and nothing else.  Each task
embeds a struct compl_chain_entry, adds it to the chain in submission
order, and calls compl_chain_wait() before its ordered step and
compl_chain_complete() after it; compl_chain_complete() waits for the
turn first, so a task that releases the chain early still leaves it in
order.  compl_chain_pending() tells an epilogue whether an early exit
left the entry in the chain, and compl_chain_flush() waits for every
entry added before it.

Besides these, a task that failed before its ordered step withdraws
with compl_chain_cancel(); compl_chain_try_wait(),
compl_chain_wait_timeout() and compl_chain_wait_killable() poll or wait
with a limit, returning 0, -ETIMEDOUT or -EINTR; and compl_chain_defer()
hands the ordered step over as a function that runs in the context that
passes the turn, so that a task need not block for its turn.  Runs of
deferred entries are taken in a loop, never recursively.  Misuse, such
as completing an entry twice, triggers WARN_ON_ONCE() and does nothing.
EOF

# ---- Patch 2: the KUnit tests --------------------------------------------
cp "$here/lib/compl_chain_kunit.c" "$scratch/lib/"
insert_after lib/Makefile 'obj-$(CONFIG_LIST_KUNIT_TEST) += list-test.o' \
	'obj-$(CONFIG_COMPL_CHAIN_KUNIT_TEST) += compl_chain_kunit.o'
insert_before lib/Kconfig.debug 'config LIST_KUNIT_TEST' \
	"config COMPL_CHAIN_KUNIT_TEST
	tristate \"KUnit tests for ordered completion chains\" if !KUNIT_ALL_TESTS
	depends on KUNIT
	select COMPL_CHAIN
	default KUNIT_ALL_TESTS
	help
	  This builds the KUnit tests of ordered completion chains
	  (compl_chain): FIFO order across kthreads and async workers,
	  early release, cancel, flush, timed and killable waits racing
	  the turn, deferred functions, and misuse warnings.

	  If unsure, say N.
"
insert_after MAINTAINERS 'F:	lib/compl_chain.c' 'F:	lib/compl_chain_kunit.c'
g add -A
g commit -q -s -F - <<'EOF'
lib: compl_chain: add KUnit tests

The cases check, one by one, the promises of the userspace prototype's
test suites: FIFO order across kthreads and on async workers with each
task freed right after its complete, the early-release path and the
pending epilogue, cancel of the head and of the middle, flush with
entries before and after it, timed and killable waits racing the turn,
deferred functions run by the completing context (order, exactly once,
long runs without recursion, freeing and re-adding from the function),
and the misuse that each call rejects with a warning.

Run them with:

  ./tools/testing/kunit/kunit.py run --kconfig_add CONFIG_KUNIT=y \
	--kconfig_add CONFIG_COMPL_CHAIN_KUNIT_TEST=y 'compl_chain'
EOF

# ---- Patches 3 and 4: the users ------------------------------------------
for p in "${drivers[@]}"; do
	sed '1,/^---$/d' "$p" | g apply --whitespace=error - ||
		die "$(basename "$p") does not apply to $tree"
	g add -A
	sed '/^---$/,$d' "$p" | g commit -q -s -F -
done

# ---- The series and its cover letter -------------------------------------
rm -rf "$out"
mkdir -p "$out"
g format-patch -q --cover-letter -o "$(cd "$out" && pwd)" "HEAD~$((2 + ${#drivers[@]}))"

# The first table after the page's title.
table=$(awk '/^# Porting to the kernel/ { on = 1; next }
	on && /^#/ { exit }
	on && /^\|/ { print; intable = 1; next }
	intable { exit }' "$top/doc/kernel.md")
[ -n "$table" ] || die "doc/kernel.md: no table under \"# Porting to the kernel\""
blurb=$(
	cat <<'EOF'
This series adds ordered completion chains: tasks run concurrently, and
one step of each runs in the order the tasks were added to a chain.  It
carries the calls of the compl_chain helper posted with the NVMe
ordered-namespace-scan series (compl_chain_init, COMPL_CHAIN_INIT,
DEFINE_COMPL_CHAIN, compl_chain_add, compl_chain_wait,
compl_chain_complete, compl_chain_pending, compl_chain_flush) with the
same semantics, and adds cancel, try-wait, timed and killable waits and
deferred ordered steps, prototyped and tested in userspace first
(libcchain).

How each call relates to the userspace prototype (userspace: kernel
[same, different, kernel only or userspace only]):

EOF
	printf '%s\n' "$table"
	cat <<'EOF'

Patch 1 adds the chain, patch 2 its KUnit tests, which check case by
case what the prototype's test suites check.  Patch 3 makes the
asynchronous NVMe namespace scan name the namespaces in NSID order
again, and patch 4 replaces the open-coded chain that orders the
asynchronous SCSI host scans.

Tested with the KUnit cases in User Mode Linux (lockdep and list
debugging enabled), as an out-of-tree module built with W=1, and in
User Mode Linux against an NVMe/TCP target on loopback (null_blk
namespaces behind a netem delay) and scsi_debug hosts: with patch 3
the namespaces get their names in NSID order in every scan, and the
scan takes no longer than the fully asynchronous one.
EOF
)
cover=$out/0000-cover-letter.patch
python3 - "$cover" "$blurb" <<'EOF'
import sys, textwrap
path, blurb = sys.argv[1], sys.argv[2]


def row(line):
    return [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]


# doc/kernel.md's markdown table as plain text: one wrapped item per call.
lines, items = blurb.split("\n"), []
rows = [i for i, l in enumerate(lines) if l.startswith("|")]
for i in rows[2:]:
    user, kernel, port = row(lines[i])
    items.append(textwrap.fill(f"{user}: {kernel} [{port}]", 72,
                               initial_indent="- ", subsequent_indent="  "))
lines[rows[0]:rows[-1] + 1] = items
blurb = "\n".join(lines)
text = open(path).read()
text = text.replace("*** SUBJECT HERE ***",
                    "lib: ordered completion chains (compl_chain)")
text = text.replace("*** BLURB HERE ***", blurb)
open(path, "w").write(text)
EOF
ls "$out"/*.patch
