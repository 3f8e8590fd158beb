# SPDX-License-Identifier: MIT
# Sourced by kernel/ci.sh, kernel/uml/build.sh and kernel/bench/run's
# helpers: where the kernel tree and the builds are kept, and how a patch
# set is put on the tree and taken off again.
#
# $CCHAIN_KERNEL_CACHE (default /var/cache/libcchain/kernel) holds
#   linux-source-6.12/  the unpacked tree, while linux-source-6.12 keeps
#                       the version in version
#   pristine/, touched  the tree's own copies of the files the applied
#                       patches modify, and the list of those files
#   series/             kernel/mkpatches.sh's output
#   build-NAME/         one build directory per kernel (O=)
#   bin/linux-NAME-KEY  the kernel built from the inputs hashed into KEY
#   tmp/                UML's memory files (a small tmpfs /tmp kills UML
#                       with a bus error)

uml_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel_dir=$(cd "$uml_here/.." && pwd)
cache=${CCHAIN_KERNEL_CACHE:-/var/cache/libcchain/kernel}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
source_pkg=linux-source-6.12
tarball=/usr/src/$source_pkg.tar.xz
tree=$cache/$source_pkg
series=$cache/series
pristine=$cache/pristine
touched=$cache/touched.list
jobs=${CCHAIN_KERNEL_JOBS:-2}
# git apply acts as a plain patch(1) in the tree, not as part of a repository
# the cache may lie in.
export GIT_CEILING_DIRECTORIES=$cache

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

source_version() {
	dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null
}

# Unpack the tree unless the cached one is of the installed version.
ensure_tree() {
	local version
	[ -f "$tarball" ] || die "$tarball missing: run scripts/deps.sh kernel"
	version=$(source_version)
	if [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ] && [ -d "$tree" ]; then
		return
	fi
	echo "unpacking $source_pkg $version" >&2
	rm -rf "$tree" "$pristine" "$touched" "$cache"/build-* "$cache/version"
	nice -n 19 tar -xf "$tarball" -C "$cache"
	echo "$version" >"$cache/version"
}

# Put back the files the last applied patch set touched.  They get a new
# modification time, so that make rebuilds what depends on them.
reset_tree() {
	local f
	[ -f "$touched" ] || return 0
	while IFS= read -r f; do
		if [ -f "$pristine/$f" ]; then
			cp "$pristine/$f" "$tree/$f"
		else
			rm -f "$tree/$f"
		fi
	done <"$touched"
	rm -f "$touched"
}

# apply_patches PATCH...: reset the tree, then apply PATCHes in order.
apply_patches() {
	local p f
	reset_tree
	(cd "$tree" && git apply --numstat "$@") | cut -f3 | sort -u >"$touched.new"
	while IFS= read -r f; do
		if [ -f "$tree/$f" ] && [ ! -f "$pristine/$f" ]; then
			mkdir -p "$pristine/$(dirname "$f")"
			cp -p "$tree/$f" "$pristine/$f"
		fi
	done <"$touched.new"
	mv "$touched.new" "$touched"
	for p in "$@"; do
		(cd "$tree" && git apply --check "$p" && git apply "$p") ||
			die "$(basename "$p") does not apply to $source_pkg"
	done
}

# series_patches [SKIP...]: the series' patches in order, less those whose
# number (0003, ...) is among SKIP.
series_patches() {
	local p n s keep
	for p in "$series"/0*.patch; do
		n=$(basename "$p")
		n=${n%%-*}
		[ "$n" = 0000 ] && continue
		keep=1
		for s in "$@"; do
			[ "$s" = "$n" ] && keep=0
		done
		[ "$keep" = 1 ] && echo "$p"
	done
}
