#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/deb-check.sh build|lintian|install [OUTDIR]
#
# The Debian packages, as CI checks them (OUTDIR: build-deb by default).
#   build    dpkg-buildpackage -us -uc -b on a copy of the tracked tree;
#            the .debs land in OUTDIR
#   lintian  lintian on them: fails on any error, prints the rest
#   install  installs them with apt-get (dpkg plus their dependencies),
#            then, with nothing but what the packages put in /usr: builds
#            tests/consumers/consumer.c with plain pkg-config, shared and
#            static, runs it, opens man pages, runs nvme_sim and pgz;
#            purges the packages again, also on failure, so that later
#            steps do not find a libcchain in /usr
# Needs root (or sudo) for install.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: deb-check.sh build|lintian|install [OUTDIR]}
out=${2:-build-deb}
pkgs=(libcchain0 libcchain-dev cchain-tools)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

build() {
	local deb_version meson_version
	# The package version is the project's (a native package).
	deb_version=$(dpkg-parsechangelog -S Version)
	meson_version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build)
	if [ "$deb_version" != "$meson_version" ]; then
		echo "deb-check: debian/changelog is at $deb_version, meson.build at" \
			"$meson_version: add a debian/changelog entry for $meson_version" >&2
		return 1
	fi
	rm -rf "$out"
	mkdir -p "$out/src"
	# The tree as committed, plus files not yet committed but not ignored.
	git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C "$out/src"
	if ! (cd "$out/src" && dpkg-buildpackage -us -uc -b -j2) >"$out/build.log" 2>&1; then
		tail -n 60 "$out/build.log"
		echo "deb-check: dpkg-buildpackage failed (log: $out/build.log)" >&2
		return 1
	fi
	ls "$out"/*.deb
}

lint() {
	# -I: informational tags too, so that the log shows everything.
	lintian --fail-on error -I "$out"/*.changes
}

purge() {
	"${sudo[@]}" apt-get purge -y -q "${pkgs[@]}" >/dev/null 2>&1 || true
}

tmp=
install() {
	local debs=() p
	for p in "${pkgs[@]}"; do
		debs+=("./$(cd "$out" && ls "${p}"_*.deb)")
	done
	trap purge EXIT
	(cd "$out" && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" \
		apt-get install -y -q --no-install-recommends "${debs[@]}")
	dpkg -s "${pkgs[@]}" | grep -E '^(Package|Status|Version):'

	tmp=$(mktemp -d)
	trap 'rm -rf "${tmp:?}"; purge' EXIT
	# Plain pkg-config: no PKG_CONFIG_PATH, the multiarch default.
	(
		unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
		echo "pkg-config: $(pkg-config --modversion libcchain)," \
			"$(pkg-config --variable=libdir libcchain)"
		# shellcheck disable=SC2046
		cc -o "$tmp/consumer" tests/consumers/consumer.c $(pkg-config --cflags --libs libcchain)
		ldd "$tmp/consumer" | grep -qE "=> (/usr)?/lib/[^ ]*/libcchain\.so\.0 " ||
			{ echo "consumer is not linked against the packaged libcchain.so.0" >&2; exit 1; }
		"$tmp/consumer"
		# shellcheck disable=SC2046
		cc -static -o "$tmp/consumer-static" tests/consumers/consumer.c \
			$(pkg-config --static --cflags --libs libcchain)
		! ldd "$tmp/consumer-static" 2>/dev/null | grep -q libcchain ||
			{ echo "consumer-static is linked against the shared libcchain" >&2; exit 1; }
		"$tmp/consumer-static"
	)
	# The manual, from the default MANPATH (unless dpkg is told to drop
	# manual pages, as in minimal container images).
	if grep -rqs 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
		echo "man pages: not checked, dpkg excludes /usr/share/man here"
	else for page in "3 compl_chain_add" "3 COMPL_CHAIN_INIT" "3 async_domain" "7 cchain" \
		"1 nvme_sim" "1 pgz"; do
		# shellcheck disable=SC2086
		man -w $page | grep -q '^/usr/share/man/' ||
			{ echo "man $page: not installed" >&2; return 1; }
	done
	echo "man pages: $(dpkg -L libcchain-dev | grep -c '/man[37]/')"
	fi
	# The tools.
	nvme_sim --namespaces 8 --rtt 200us --time-scale 0.1 --mode chain | tail -n 3
	head -c 1000000 /dev/urandom >"$tmp/data"
	pgz -k -p 2 "$tmp/data"
	gzip -dc "$tmp/data.gz" | cmp - "$tmp/data"
	echo "pgz: round trip through gzip -d ok"
}

case "$what" in
build) build ;;
lintian) lint ;;
install) install ;;
*) echo "deb-check.sh: unknown step '$what' (build, lintian or install)" >&2; exit 2 ;;
esac
