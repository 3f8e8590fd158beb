#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where an admin command's round trip goes in a traced NVMe scan
(kernel/uml/scan.py --trace-dir), and what the one CPU did meanwhile.

Usage: trace_report.py TRACE...

For each admin command (queue 0), matched by its command id: from the
host's nvme_setup_cmd to the target's nvmet_req_init (the capsule's way,
netem's delay and the target's io_work getting the CPU), to
nvmet_req_complete, to the host's nvme_complete_rq (the response's way and
the host's io_work), to the issuing task running again (sched_switch), and
from there to its next command.  Then, over the scan's admin commands,
the CPU time of each work function (workqueue_execute_start) or task, and
the idle time.  Times in ms, from the kernel's mono clock.
"""
import bisect
import collections
import re
import statistics
import sys

LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+): (.*)$")
LEGS = (("capsule to the target", "t0", "t1"), ("target", "t1", "t2"),
        ("response to the host", "t2", "t3"), ("the task runs again", "t3", "t4"),
        ("round trip", "t0", "t3"))


def field(rest, name):
    m = re.search(name + r"=(\d+)", rest)
    return int(m.group(1)) if m else None


def parse(path):
    events = []
    try:
        f = open(path, errors="replace")
    except OSError as e:
        sys.exit(f"trace_report.py: {path}: {e.strerror}")
    with f:
        for line in f:
            m = LINE.match(line)
            if m:
                events.append((float(m.group(3)), m.group(1), int(m.group(2)), m.group(4),
                               m.group(5)))
    return events


def commands(events):
    """The admin commands, each {pid, t0, t1, t2, t3, t4, next}."""
    open_cmds, done, by_pid, runs_in = {}, [], collections.defaultdict(list), {}
    stage = {"nvmet_req_init": "t1", "nvmet_req_complete": "t2", "nvme_complete_rq": "t3"}
    for t, _, pid, ev, rest in events:
        if ev == "sched_switch":
            runs_in.setdefault(field(rest, "next_pid"), []).append(t)
        if ev not in stage and ev != "nvme_setup_cmd":
            continue
        if field(rest, "qid") != 0:
            continue
        cid = field(rest, "cmdid")
        if ev == "nvme_setup_cmd":
            c = {"pid": pid, "t0": t}
            open_cmds[cid] = c
            by_pid[pid].append(c)
        elif cid in open_cmds:
            open_cmds[cid][stage[ev]] = t
            if ev == "nvme_complete_rq":
                done.append(open_cmds.pop(cid))
    for c in done:
        ins = runs_in.get(c["pid"], [])
        i = bisect.bisect_left(ins, c["t3"])
        c["t4"] = ins[i] if i < len(ins) else None
        mine = by_pid[c["pid"]]
        j = mine.index(c)
        c["next"] = mine[j + 1]["t0"] if j + 1 < len(mine) else None
    return done


def cpu_use(events, t0, t1):
    """CPU time per work function (or task name) and idle, within [t0, t1]."""
    work, use, last = {}, collections.Counter(), None
    for t, _, pid, ev, rest in events:
        if ev == "workqueue_execute_start":
            work[pid] = rest.rsplit("function ", 1)[-1]
        elif ev == "sched_switch":
            prev = field(rest, "prev_pid")
            if last is not None and t > t0 and last < t1:
                name = "idle" if prev == 0 else work.get(prev) or re.search(
                    r"prev_comm=(.*?) prev_pid", rest).group(1)
                use[name] += min(t, t1) - max(last, t0)
            last = t
    return use


def line(name, vals):
    vals = [v * 1e3 for v in vals if v is not None]
    if not vals:
        return f"  {name:26s} -"
    q = statistics.quantiles(vals, n=10) if len(vals) > 1 else vals * 9
    return (f"  {name:26s} mean {statistics.mean(vals):7.3f}  median "
            f"{statistics.median(vals):7.3f}  p90 {q[-1]:7.3f}  ({len(vals)})")


def report(path):
    events = parse(path)
    done = [c for c in commands(events) if "t1" in c and "t2" in c]
    if not done:
        print(f"{path}: no admin command with the target's events")
        return 1
    t0, t1 = min(c["t0"] for c in done), max(c["t3"] for c in done)
    print(f"{path}: {len(done)} admin commands over {(t1 - t0) * 1e3:.1f} ms")
    for name, a, b in LEGS:
        print(line(name, [c[b] - c[a] if c.get(b) else None for c in done]))
    print(line("task's CPU to its next", [c["next"] - c["t4"] if c["next"] and c["t4"]
                                          and c["next"] > c["t4"] else None for c in done]))
    use = cpu_use(events, t0, t1)
    total = sum(use.values())
    print("  CPU over those ms: " + ", ".join(
        f"{k} {v * 1e3:.1f}" for k, v in use.most_common(10)) +
        f" (of {total * 1e3:.1f})")
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().split("\n\n")[1])
    return max(report(p) for p in sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
