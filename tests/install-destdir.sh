# SPDX-License-Identifier: MIT
# Sourced by the installation checks: installs $build into a scratch
# DESTDIR, removed on exit, and sets $dest to it and $pc to the installed
# libcchain.pc.
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
pc=$(find "$dest" -name libcchain.pc | head -n 1)
[ -n "$pc" ] || { echo "libcchain.pc was not installed" >&2; exit 1; }
