#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install what is needed, build libcchain and its examples,
# and run the NVMe namespace-scan comparison on its default profile
# (nvme_sim --profile tcp-0.2ms --mode all).  Arguments replace the
# default ones, e.g. scripts/main.sh --profile tcp-150ms --time-scale 0.05
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh main
if [ ! -f build-main/build.ninja ]; then
	meson setup build-main --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C build-main >/dev/null
if [ "$#" -eq 0 ]; then
	set -- --profile tcp-0.2ms --mode all
fi
exec build-main/examples/nvme_sim/nvme_sim "$@"
