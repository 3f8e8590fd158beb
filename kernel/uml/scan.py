#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot a User Mode Linux kernel of kernel/uml/build.sh against NVMe/TCP on
loopback and scsi_debug hosts (kernel/uml/init.sh), and read what it
printed: each scan's own duration (the bench patch's "cchain-bench: scan"
lines), the names each scan gave, whether they were in order, the round
trip that ping measured, and any report of the kernel (WARN, BUG, lockdep,
list corruption).

Used by kernel/ci.sh smoke and kernel/bench/run; as a command, it prints the
result as JSON.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INIT = os.path.join(HERE, "init.sh")

# Kernel reports that are failures wherever they appear.
REPORTS = re.compile(
    r"BUG:|Oops|Kernel panic|WARNING:|cut here|possible (recursive|circular) "
    r"locking|inconsistent lock state|non-static key|locking correctness "
    r"validator|DEBUG_LOCKS_WARN_ON|list_(add|del) corruption|sleeping function "
    r"called|scheduling while atomic|hung_task|blocked for more than")
NVME_TIME = re.compile(r"nvme nvme\d+: cchain-bench: scan (sync|async) (\d+) us")
SCSI_TIME = re.compile(
    r"scsi host(\d+): cchain-bench: scan (sync|async) (\d+) to (\d+) us")
SAY = re.compile(r"cchain: (\w+) ?(.*)")
# An NVMe/TCP command capsule with no data in it (Identify, Read): an
# 8-byte PDU header and the 64-byte command.
CAPSULE = 72


def inflight_sample(rest):
    """`cchain: inflight T INODE:TXBYTES...` (init.sh, --inflight): the time
    and the commands the host has written and not yet seen acknowledged, on
    the admin queue (the first connection made: the lower inode) and the I/O
    queues."""
    socks = sorted((int(i), int(b)) for i, b in (x.split(":") for x in rest[1:]))
    cmds = [b // CAPSULE for _, b in socks]
    return [float(rest[0]), cmds[0] if cmds else 0, sum(cmds[1:])]


def nvme_in_order(names):
    """Sorted by instance (nvme0nY's Y), the NSIDs increase."""
    pairs = []
    for item in names:
        dev, nsid = item.rsplit(":", 1)
        pairs.append((int(dev.rsplit("n", 1)[1]), int(nsid)))
    nsids = [n for _, n in sorted(pairs)]
    return nsids == sorted(nsids) and len(set(nsids)) == len(nsids)


def scsi_in_order(names):
    """Sorted by sg index, the H:C:T:L addresses increase."""
    pairs = []
    for item in names:
        dev, addr = item.split(":", 1)
        pairs.append((int(dev[2:]), tuple(int(x) for x in addr.split(":"))))
    addrs = [a for _, a in sorted(pairs)]
    return addrs == sorted(addrs)


def parse(lines):
    """The result of one boot from its console lines."""
    res = {"ping_ms": None, "nvme": [], "scsi": [], "reports": [],
           "errors": [], "done": False}
    nvme_times, scsi_times, inflight = [], [], []
    for line in lines:
        if REPORTS.search(line):
            res["reports"].append(line)
        m = NVME_TIME.search(line)
        if m:
            nvme_times.append((m.group(1), int(m.group(2))))
            continue
        m = SCSI_TIME.search(line)
        if m:
            scsi_times.append((m.group(2), int(m.group(3)), int(m.group(4))))
            continue
        m = SAY.search(line)
        if not m or not line.lstrip().startswith("cchain:"):
            continue
        what, rest = m.group(1), m.group(2).split()
        if what == "inflight" and len(rest) >= 1:
            inflight.append(inflight_sample(rest))
        elif what == "ping":
            res["ping_ms"] = ([float(x) for x in rest] if len(rest) == 3
                              else None)
        elif what in ("nvme", "scsi") and len(rest) >= 3 and rest[0] == "scan":
            index, names = int(rest[1]), rest[3:]
            scan = {"scan": index, "warmup": index == 0, "names": names}
            if what == "nvme":
                scan["count"] = len(names)
                scan["in_order"] = nvme_in_order(names)
                scan["mode"] = nvme_times[0][0] if nvme_times else None
                scan["us"] = nvme_times[0][1] if nvme_times else None
                scan["timings"] = len(nvme_times)
                if inflight:
                    scan["inflight"] = inflight
                nvme_times, inflight = [], []
            else:
                scan["count"] = len(names)
                scan["in_order"] = scsi_in_order(names)
                scan["mode"] = scsi_times[0][0] if scsi_times else None
                scan["us"] = (max(t[2] for t in scsi_times) -
                              min(t[1] for t in scsi_times)) if scsi_times else None
                scan["timings"] = len(scsi_times)
                scsi_times = []
            res[what].append(scan)
        elif what == "error":
            res["errors"].append(" ".join(rest))
        elif what == "done":
            res["done"] = True
    return res


TRACE_EVENTS = ("nvme/nvme_setup_cmd,nvme/nvme_complete_rq,nvmet/nvmet_req_init,"
                "nvmet/nvmet_req_complete,sched/sched_switch,"
                "workqueue/workqueue_execute_start")


def command_line(kernel, args):
    cmd = [kernel, f"mem={args.mem}M", "rootfstype=hostfs", "rootflags=/", "ro",
           f"init={INIT}", "con0=fd:0,fd:1", "con=null", "kunit.enable=0",
           f"nvme_core.multipath={'Y' if args.multipath else 'N'}",
           f"cchain_nvme={args.nvme}", f"cchain_delay={args.delay}",
           f"cchain_scans={args.scans}", f"cchain_sync={int(args.sync)}",
           f"cchain_scsi_hosts={args.scsi_hosts}"]
    if getattr(args, "inflight", 0):
        cmd.append(f"cchain_inflight={args.inflight:g}")
    if getattr(args, "trace_dir", None):
        cmd += [f"cchain_trace_dir={os.path.abspath(args.trace_dir)}",
                f"cchain_trace={args.trace_events}"]
    if args.nvme:
        cmd += [f"null_blk.nr_devices={args.nvme}", "null_blk.gb=1"]
    cmd += [f"scsi_mod.scan={'sync' if args.scsi_sync else 'async'}",
            "scsi_debug.add_host=0", f"scsi_debug.max_luns={args.scsi_luns}",
            # delay= is in jiffies and 1 by default (10 ms at UML's HZ=100);
            # ndelay= replaces it when not 0
            "scsi_debug.delay=0", f"scsi_debug.ndelay={args.scsi_delay_us * 1000}",
            "scsi_debug.dev_size_mb=1"]
    return cmd + (args.append or [])


def boot(kernel, args, log=None):
    """Boot KERNEL once; returns (result, console lines)."""
    tmp = args.tmpdir or os.path.join(
        os.environ.get("CCHAIN_KERNEL_CACHE", "/var/cache/libcchain/kernel"), "tmp")
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, TMPDIR=tmp)
    cmd = command_line(kernel, args)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, text=True,
                            errors="replace", start_new_session=True)
    lines = []
    deadline = time.monotonic() + args.timeout
    timed_out = False
    try:
        for line in proc.stdout:
            line = line.rstrip("\r\n")
            lines.append(line)
            if log:
                log.write(line + "\n")
            if time.monotonic() > deadline:
                timed_out = True
                break
    finally:
        if proc.poll() is None:
            try:
                proc.wait(timeout=0 if timed_out else 30)
            except subprocess.TimeoutExpired:
                timed_out = True
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    res = parse(lines)
    res["command"] = cmd
    if timed_out:
        res["errors"].append(f"timed out after {args.timeout} s")
    if not res["done"] and not res["errors"]:
        res["errors"].append("the boot ended before init said done")
    return res, lines


def options(parser):
    parser.add_argument("--nvme", type=int, default=20, metavar="N",
                        help="namespaces (0: none; default 20)")
    parser.add_argument("--delay", default="0",
                        help="netem delay per direction, tc syntax (default 0)")
    parser.add_argument("--scans", type=int, default=3,
                        help="scans after the warm-up (default 3)")
    parser.add_argument("--sync", action="store_true",
                        help="nvme_core.scan_sync=1: one namespace at a time")
    parser.add_argument("--multipath", action=argparse.BooleanOptionalAction,
                        default=True, help="nvme_core.multipath (default on)")
    parser.add_argument("--scsi-hosts", type=int, default=0, metavar="K",
                        help="scsi_debug hosts per SCSI scan (0: none)")
    parser.add_argument("--scsi-luns", type=int, default=8, metavar="L")
    parser.add_argument("--scsi-delay-us", type=int, default=0, metavar="US",
                        help="scsi_debug per-command delay (ndelay)")
    parser.add_argument("--scsi-sync", action="store_true",
                        help="scsi_mod.scan=sync")
    parser.add_argument("--append", action="append", metavar="PARAM",
                        help="one more kernel parameter, e.g. "
                             "sysctl.net.ipv4.tcp_autocorking=0 (repeatable)")
    parser.add_argument("--inflight", type=float, default=0, metavar="S",
                        help="sample the NVMe/TCP connections every S seconds during "
                             "each scan: the commands in flight on the admin queue "
                             "and on the I/O queues (each scan's \"inflight\": "
                             "[seconds since boot, admin, I/O]; the sampler takes "
                             "CPU from the scan)")
    parser.add_argument("--trace-dir", metavar="DIR",
                        help="a kernel with event tracing (CONFIG_FTRACE, "
                             "kernel/bench/experiments/trace.config) records "
                             "--trace-events during each NVMe scan, from before "
                             "nvme connect to the scan's end, into "
                             "DIR/nvme-scan-I.trace (I = 0 is the warm-up; the "
                             "kernel's clock, mono)")
    parser.add_argument("--trace-events", default=TRACE_EVENTS, metavar="LIST",
                        help="tracefs events, comma separated (default: "
                             f"{TRACE_EVENTS})")
    parser.add_argument("--mem", type=int, default=512, help="MiB")
    parser.add_argument("--timeout", type=float, default=900, help="s")
    parser.add_argument("--tmpdir", help="UML's memory files")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kernel")
    parser.add_argument("--log", help="write the console here")
    options(parser)
    args = parser.parse_args()
    if not os.access(args.kernel, os.X_OK):
        sys.exit(f"scan.py: {args.kernel}: not an executable kernel")
    log = open(args.log, "w") if args.log else None
    if args.trace_dir:
        os.makedirs(args.trace_dir, exist_ok=True)
    res, _ = boot(args.kernel, args, log)
    json.dump(res, sys.stdout, indent=1)
    print()
    return 0 if res["done"] and not res["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
