#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install what is needed, build libcchain and run the ordered
# pool example (jobs of random length on a thread pool, results published in
# submission order).  Extra arguments go to the example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh main
if [ ! -f build-main/build.ninja ]; then
	meson setup build-main --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C build-main >/dev/null
if [ "$#" -eq 0 ]; then
	set -- --jobs 200 --workers 16 --max-work-us 20000 --quiet
fi
exec build-main/examples/ordered_pool "$@"
