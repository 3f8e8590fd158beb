#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-async-exit.sh PROGRAM [ARGS...]
# PROGRAM, which uses the async layer, exits with no leak of any kind that
# valgrind's memcheck reports as an error (definite or possible).
set -eu
if ! command -v valgrind >/dev/null; then
	echo "valgrind is required for this test (Debian: valgrind)" >&2
	exit 77
fi
exec valgrind -q --leak-check=full --error-exitcode=1 "$@"
