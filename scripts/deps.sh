#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/deps.sh [main|test|deb|kernel]
# Installs the Debian 12 packages that the main job, the test suite, the
# Debian package checks (scripts/deb-check.sh) or the kernel checks
# (kernel/ci.sh and kernel/bench/run: linux-source-6.12, User Mode Linux
# KUnit and NVMe/TCP and scsi_debug scans with nvme-cli, tc and ping, an
# out-of-tree module build against linux-headers-amd64) need, when any is
# missing (always in CI).  Needs root or sudo.
set -euo pipefail

main_pkgs=(gcc ninja-build meson pkg-config liburcu-dev zlib1g-dev systemtap-sdt-dev)
test_pkgs=("${main_pkgs[@]}" g++ clang libclang-rt-14-dev libcmocka-dev python3
	valgrind strace binutils spin zlib1g-dev gzip pigz cmake pandoc libbenchmark-dev
	python3-matplotlib time abigail-tools man-db gdb
	libuv1-dev liburing-dev redis-server redis-tools python3-redis iproute2)
# Building and checking the Debian packages (scripts/deb-check.sh): the
# build dependencies in debian/control, debhelper, lintian.
deb_pkgs=(build-essential dpkg-dev debhelper lintian meson ninja-build pkg-config
	liburcu-dev zlib1g-dev systemtap-sdt-dev pandoc python3 man-db gzip)
kernel_pkgs=(linux-source-6.12 linux-headers-amd64 gcc make bc bison flex libelf-dev
	python3 xz-utils git kmod nvme-cli iproute2 iputils-ping util-linux)

case "${1:-test}" in
main) pkgs=("${main_pkgs[@]}") ;;
test) pkgs=("${test_pkgs[@]}") ;;
deb) pkgs=("${deb_pkgs[@]}") ;;
kernel) pkgs=("${kernel_pkgs[@]}") ;;
*) echo "deps.sh: unknown set '$1' (main, test, deb or kernel)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ] && [ -z "${CI:-}" ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
