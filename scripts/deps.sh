#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/deps.sh [main|test]
# Installs the Debian 12 packages that the main job or the test suite needs,
# when any is missing (always in CI).  Needs root or sudo.
set -euo pipefail

main_pkgs=(gcc ninja-build meson pkg-config liburcu-dev zlib1g-dev)
test_pkgs=("${main_pkgs[@]}" g++ clang libclang-rt-14-dev libcmocka-dev python3
	valgrind strace binutils spin zlib1g-dev gzip pigz cmake pandoc libbenchmark-dev
	libuv1-dev liburing-dev redis-server redis-tools python3-redis)

case "${1:-test}" in
main) pkgs=("${main_pkgs[@]}") ;;
test) pkgs=("${test_pkgs[@]}") ;;
*) echo "deps.sh: unknown set '$1' (main or test)" >&2; exit 2 ;;
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
