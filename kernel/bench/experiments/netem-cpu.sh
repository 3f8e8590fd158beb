#!/bin/bash
# SPDX-License-Identifier: MIT
# PID 1 of a User Mode Linux boot (kernel/bench/experiments/run netem-cpu):
# what netem's delay costs the one CPU.  For each delay (none, 100us, 1ms
# per direction) and each preload (1, 14 pings in flight), a ping flood of
# 4000 pings on lo, with /proc/stat's busy and idle ticks (USER_HZ) before
# and after.  Prints "netem-cpu: DELAY PRELOAD BUSY_TICKS IDLE_TICKS
# START END PINGS" lines (START, END: seconds), then powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
echo 1 >/proc/sys/kernel/sysrq
ip link set lo up
ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
for d in 0 100us 1ms; do
	tc qdisc del dev lo root 2>/dev/null
	[ "$d" = 0 ] || tc qdisc add dev lo root netem delay "$d"
	for l in 1 14; do
		read -r b0 i0 < <(ticks)
		t0=$(date +%s.%N)
		ping -q -f -l "$l" -c 4000 127.0.0.1 >/dev/null 2>&1
		t1=$(date +%s.%N)
		read -r b1 i1 < <(ticks)
		echo "netem-cpu: $d $l $((b1 - b0)) $((i1 - i0)) $t0 $t1 4000" >/dev/console
	done
done
echo o >/proc/sysrq-trigger
sleep 10
