#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-syscalls.sh PROGRAM
# Fails if PROGRAM makes any system call between its two getppid() markers.
set -eu
prog=$1
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
strace -f -qq -o "$trace" "$prog"
awk '
	/getppid\(/ { markers++; next }
	markers == 1 { n++; print "unexpected system call: " $0 > "/dev/stderr" }
	END {
		if (markers != 2) { print "markers not found (" markers ")" > "/dev/stderr"; exit 1 }
		printf "%d system calls on the uncontended path\n", n
		exit n != 0
	}' "$trace"
