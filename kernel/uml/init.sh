#!/bin/bash
# SPDX-License-Identifier: MIT
# PID 1 of a User Mode Linux boot of kernel/uml/scan.py, run from the host's
# root (hostfs, read only).  Its parameters come from the kernel command
# line, as environment variables:
#
#   cchain_nvme=N        an nvmet subsystem of N null_blk namespaces on an
#                        NVMe/TCP port of 127.0.0.1 (0: no NVMe part)
#   cchain_delay=D       netem delay per direction on lo (tc syntax: 5ms,
#                        100us; 0: none)
#   cchain_scans=R       scans after the first one (which warms up)
#   cchain_sync=1        nvme_core.scan_sync: the one-at-a-time scan
#   cchain_inflight=S    during each NVMe scan, every S seconds, the bytes
#                        the host has written on each NVMe/TCP connection
#                        and not yet seen acknowledged (scan.py --inflight)
#   cchain_trace=EVENTS  with cchain_trace_dir=DIR (a host directory): the
#                        tracefs events EVENTS (comma separated) from
#                        before nvme connect to each NVMe scan's end, into
#                        DIR/nvme-scan-I.trace (scan.py --trace-dir)
#   cchain_scsi_hosts=K  scsi_debug hosts added at once per SCSI scan (0:
#                        no SCSI part); scsi_debug's own parameters
#                        (max_luns, ndelay) and scsi_mod.scan are boot
#                        parameters of their own
#
# It prints, on the console, lines that start with "cchain: ":
#   cchain: ping RTT_MIN RTT_AVG RTT_MAX          (ms, 10 pings on lo)
#   cchain: nvme scan I names NAME:NSID...        (I = 0 is the warm-up)
#   cchain: scsi scan I names sgN:H:C:T:L...
#   cchain: inflight UPTIME INODE:BYTES...        (cchain_inflight)
#   cchain: error TEXT
#   cchain: done
# and the kernel prints each scan's "cchain-bench: scan" line (the bench
# patch).  Then it powers the machine off.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "cchain: $*" >/dev/console; }
fail() {
	say "error $*"
	off
}
off() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 10
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t configfs configfs /sys/kernel/config
echo 1 >/proc/sys/kernel/sysrq
ip link set lo up || fail "ip link set lo up"

# wait_for COMMAND...: COMMAND succeeds within 600 s, polled every 20 ms.
# Only where nothing is timed: a poll starts processes, which take the one
# CPU from the scan.
wait_for() {
	local i
	for ((i = 0; i < 30000; i++)); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

# The kernel log from now on, with no process started while a scan runs:
# kmsg_open starts a reader of /dev/kmsg (which hands it each record as it
# is written) and skips what was logged before; kmsg_wait_start ERE COUNT,
# before the scan, starts the process that waits for COUNT more lines
# matching ERE (at most 600 s), and kmsg_wait waits for it to end; then
# kmsg_close ends the reader.  The waiting is grep's, with init asleep in
# wait: bash's own read loop on the reader's pipe kept UML's one CPU busy
# through the scan (about half its CPU in a traced scan), which slowed the
# largest scans by a tenth.
kmsg_marks=0
kmsg_open() {
	local mark="cchain: mark $((++kmsg_marks))" line
	# grep, not bash, reads the log: bash reads a pipe a byte at a time,
	# a system call each, and a scan of a few hundred devices logs
	# thousands of lines (tens of seconds of UML).  Every line this reads
	# has "cchain" in it: the marks and the bench patch's timings.
	coproc KMSG { exec grep --line-buffered -F cchain /dev/kmsg; }
	# Bash unsets KMSG and closes its pipe once it reaps the reader: keep a
	# descriptor and the pid of our own.
	exec {kmsg_fd}<&"${KMSG[0]}"
	kmsg_pid=$KMSG_PID
	echo "$mark" >/dev/kmsg
	while IFS= read -r -t 60 -u "$kmsg_fd" line; do
		[[ $line == *"$mark" ]] && return 0
	done
	return 1
}
# Not grep -q: -q exits at the first match whatever -m says, and the SCSI
# scan went on to list the devices when the first of its hosts was done.
# grep writes the lines it matched to a file, which kmsg_wait counts.
kmsg_wait_start() {
	kmsg_want=$2
	timeout 600 grep -m "$2" -E -e "$1" <&"$kmsg_fd" >/tmp/kmsg.wait &
	kmsg_waiter=$!
}
kmsg_wait() {
	local got
	wait "$kmsg_waiter" || return 1
	mapfile -t got </tmp/kmsg.wait
	[ "${#got[@]}" -eq "$kmsg_want" ]
}
kmsg_close() {
	kill "$kmsg_pid" 2>/dev/null
	exec {kmsg_fd}<&-
	wait "$kmsg_pid" 2>/dev/null
	return 0
}

nvme_devices() { ls /sys/block | grep -E '^nvme[0-9]+n[0-9]+$'; }
no_nvme() { [ -z "$(nvme_devices)" ]; }

nqn=nqn.2026-12.org.libcchain:scan
hostnqn=nqn.2014-08.org.nvmexpress:uuid:6c1f2f3e-1d4c-4a8e-9c5b-0a1b2c3d4e5f
hostid=6c1f2f3e-1d4c-4a8e-9c5b-0a1b2c3d4e5f

nvme_target() {
	local cfg=/sys/kernel/config/nvmet i dirs=()
	mkdir "$cfg/subsystems/$nqn" || fail "nvmet configfs"
	echo 1 >"$cfg/subsystems/$nqn/attr_allow_any_host"
	# One mkdir for every namespace: a process costs UML milliseconds.
	for ((i = 1; i <= cchain_nvme; i++)); do
		dirs+=("$cfg/subsystems/$nqn/namespaces/$i")
	done
	mkdir "${dirs[@]}" || fail "nvmet namespaces"
	for ((i = 1; i <= cchain_nvme; i++)); do
		echo "/dev/nullb$((i - 1))" >"$cfg/subsystems/$nqn/namespaces/$i/device_path"
		echo 1 >"$cfg/subsystems/$nqn/namespaces/$i/enable" ||
			fail "enabling namespace $i"
	done
	mkdir "$cfg/ports/1"
	echo tcp >"$cfg/ports/1/addr_trtype"
	echo ipv4 >"$cfg/ports/1/addr_adrfam"
	echo 127.0.0.1 >"$cfg/ports/1/addr_traddr"
	echo 4420 >"$cfg/ports/1/addr_trsvcid"
	ln -s "$cfg/subsystems/$nqn" "$cfg/ports/1/subsystems/$nqn" || fail "nvmet port"
}

# inflight_start, inflight_stop: the sampler of cchain_inflight.  The host's
# side of each connection is the socket whose remote port is 4420 (1144
# hex); /proc/net/tcp's tx_queue is what is written and not acknowledged.
inflight_pid=
inflight_start() {
	[ -n "${cchain_inflight:-}" ] || return 0
	(
		# read -t on a FIFO that nobody writes: a pause without starting
		# a process (a process costs UML a millisecond).
		[ -p /tmp/inflight.pause ] || mkfifo /tmp/inflight.pause
		exec 9<>/tmp/inflight.pause
		while :; do
			read -r up _ </proc/uptime
			out=
			while read -r _ _ rem _ txrx _ _ _ _ inode _; do
				[[ $rem == *:1144 ]] && out+=" $inode:$((16#${txrx%%:*}))"
			done </proc/net/tcp
			echo "cchain: inflight $up$out"
			read -r -t "$cchain_inflight" -u 9
		done >/dev/console
	) &
	inflight_pid=$!
}
inflight_stop() {
	[ -n "$inflight_pid" ] || return 0
	kill "$inflight_pid" 2>/dev/null
	wait "$inflight_pid" 2>/dev/null
	inflight_pid=
}

# trace_setup, trace_on, trace_save I: cchain_trace's events, into a
# buffer large enough for a scan of 500 namespaces, saved to the host.
tracing=/sys/kernel/tracing
trace_setup() {
	local e
	[ -n "${cchain_trace:-}" ] || return 0
	mount -t tracefs tracefs $tracing || fail "no tracefs (a kernel without CONFIG_FTRACE?)"
	mkdir -p /tmp/trace-out
	mount -t hostfs hostfs /tmp/trace-out -o "$cchain_trace_dir" ||
		fail "mounting $cchain_trace_dir"
	echo 65536 >$tracing/buffer_size_kb
	echo mono >$tracing/trace_clock || fail "trace_clock mono"
	for e in ${cchain_trace//,/ }; do
		echo 1 >"$tracing/events/$e/enable" || fail "no trace event $e"
	done
	echo 0 >$tracing/tracing_on
}
trace_on() {
	[ -n "${cchain_trace:-}" ] || return 0
	echo >$tracing/trace
	echo 1 >$tracing/tracing_on
}
trace_save() {
	[ -n "${cchain_trace:-}" ] || return 0
	echo 0 >$tracing/tracing_on
	cp $tracing/trace "/tmp/trace-out/nvme-scan-$1.trace" || fail "saving the trace of scan $1"
}

nvme_scan() {
	local i=$1 d nsid names=()
	kmsg_open || fail "reading /dev/kmsg (scan $i)"
	kmsg_wait_start "cchain-bench: scan" 1
	trace_on
	inflight_start
	nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$nqn" --hostnqn="$hostnqn" \
		--hostid="$hostid" >/dev/null || fail "nvme connect (scan $i)"
	kmsg_wait || fail "no scan $i"
	trace_save "$i"
	inflight_stop
	kmsg_close
	for d in $(nvme_devices); do
		read -r nsid <"/sys/block/$d/nsid"
		names+=("$d:$nsid")
	done
	say "nvme scan $i names ${names[*]}"
	nvme disconnect -n "$nqn" >/dev/null || fail "nvme disconnect (scan $i)"
	wait_for no_nvme || fail "namespaces left after disconnect (scan $i)"
}

sg_devices() { ls /sys/class/scsi_generic 2>/dev/null; }
no_sg() { [ -z "$(sg_devices)" ]; }

scsi_scan() {
	local i=$1 d addr names=() add=/sys/bus/pseudo/drivers/scsi_debug/add_host
	kmsg_open || fail "reading /dev/kmsg (SCSI scan $i)"
	kmsg_wait_start "scsi host.*cchain-bench: scan" "$cchain_scsi_hosts"
	echo "$cchain_scsi_hosts" >"$add" || fail "scsi_debug add_host (scan $i)"
	kmsg_wait ||
		fail "no SCSI scan $i"
	kmsg_close
	# Globs, not readlink and basename: two processes per device cost UML
	# seconds for a few hundred LUNs.
	for d in /sys/bus/scsi/devices/*:*:*:*/scsi_generic/sg*; do
		[ -e "$d" ] || continue
		addr=${d#/sys/bus/scsi/devices/}
		names+=("${d##*/}:${addr%%/*}")
	done
	say "scsi scan $i names ${names[*]}"
	echo "-$cchain_scsi_hosts" >"$add"
	wait_for no_sg || fail "SCSI devices left after removal (scan $i)"
}

delay=${cchain_delay:-0}
if [ "$delay" != 0 ]; then
	tc qdisc add dev lo root netem delay "$delay" || fail "tc netem delay $delay"
fi
rtt=$(ping -q -c 10 -i 0.2 127.0.0.1 | sed -n 's|.* = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/.*|\1 \2 \3|p')
say "ping ${rtt:-none}"

if [ "${cchain_sync:-0}" = 1 ]; then
	echo 1 >/sys/module/nvme_core/parameters/scan_sync || fail "scan_sync"
fi
if [ "${cchain_nvme:-0}" -gt 0 ]; then
	trace_setup
	nvme_target
	for ((s = 0; s <= ${cchain_scans:-3}; s++)); do
		nvme_scan "$s"
	done
fi
if [ "${cchain_scsi_hosts:-0}" -gt 0 ]; then
	for ((s = 0; s <= ${cchain_scans:-3}; s++)); do
		scsi_scan "$s"
	done
fi
say done
off
