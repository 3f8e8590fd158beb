#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kernel/bench/experiments/trace_report.py on a made-up trace: each admin
command's legs from its own events (matched by command id, I/O queue
commands left out), the task's switch back in, and the CPU per work
function and idle.

Usage: test_kernel_bench_trace_report.py [CASE...]
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
REPORT = os.path.join(ROOT, "kernel", "bench", "experiments", "trace_report.py")
sys.path.insert(0, os.path.dirname(REPORT))
import trace_report  # noqa: E402


def ev(comm, pid, t, name, rest):
    return f"{comm}-{pid:<5d} [000] d.... {t:.6f}: {name}: {rest}"


def switch(t, prev_comm, prev, nxt_comm, nxt):
    return ev(prev_comm, prev, t, "sched_switch",
              f"prev_comm={prev_comm} prev_pid={prev} prev_prio=120 prev_state=S ==> "
              f"next_comm={nxt_comm} next_pid={nxt} next_prio=120")


LINES = [
    "# tracer: nop",
    ev("kworker/u4:1", 20, 1.000000, "workqueue_execute_start",
       "work struct 00000000a1b2c3d4: function async_run_entry_fn"),
    ev("kworker/u4:1", 20, 1.000100, "nvme_setup_cmd",
       "nvme0: qid=0, cmdid=7, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=8)"),
    ev("kworker/u4:1", 20, 1.000200, "nvme_setup_cmd",
       "nvme0: disk=nvme0c0n1, qid=1, cmdid=7, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_cmd_read)"),
    switch(1.000300, "kworker/u4:1", 20, "swapper/0", 0),
    switch(1.001200, "swapper/0", 0, "kworker/0:1H", 30),
    ev("kworker/0:1H", 30, 1.001250, "workqueue_execute_start",
       "work struct 00000000a1b2c3d5: function nvmet_tcp_io_work"),
    ev("kworker/0:1H", 30, 1.001300, "nvmet_req_init",
       "nvmet1: qid=0, cmdid=7, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_admin_identify, cns=8)"),
    ev("kworker/0:1H", 30, 1.001310, "nvmet_req_complete",
       "nvmet1: qid=0, cmdid=7, res=0x0, status=0x0"),
    switch(1.001400, "kworker/0:1H", 30, "swapper/0", 0),
    switch(1.002400, "swapper/0", 0, "kworker/0:1H", 30),
    ev("kworker/0:1H", 30, 1.002450, "workqueue_execute_start",
       "work struct 00000000a1b2c3d6: function nvme_tcp_io_work"),
    ev("kworker/0:1H", 30, 1.002500, "nvme_complete_rq",
       "nvme0: qid=0, cmdid=7, res=0x0, retries=0, flags=0x0, status=0x0"),
    switch(1.002600, "kworker/0:1H", 30, "bash", 1),
    switch(1.003100, "bash", 1, "kworker/u4:1", 20),
    ev("kworker/u4:1", 20, 1.003150, "nvme_setup_cmd",
       "nvme0: qid=0, cmdid=9, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=3)"),
    switch(1.003200, "kworker/u4:1", 20, "swapper/0", 0),
    switch(1.004100, "swapper/0", 0, "kworker/0:1H", 30),
    ev("kworker/0:1H", 30, 1.004200, "nvmet_req_init",
       "nvmet1: qid=0, cmdid=9, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_admin_identify, cns=3)"),
    ev("kworker/0:1H", 30, 1.004210, "nvmet_req_complete",
       "nvmet1: qid=0, cmdid=9, res=0x0, status=0x0"),
    ev("kworker/0:1H", 30, 1.005300, "nvme_complete_rq",
       "nvme0: qid=0, cmdid=9, res=0x0, retries=0, flags=0x0, status=0x0"),
    switch(1.005400, "kworker/0:1H", 30, "swapper/0", 0),
]


def write(lines):
    fd, path = tempfile.mkstemp(suffix=".trace")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_legs():
    path = write(LINES)
    try:
        cmds = trace_report.commands(trace_report.parse(path))
    finally:
        os.unlink(path)
    assert len(cmds) == 2, cmds      # the I/O queue's read is not an admin command
    first, second = sorted(cmds, key=lambda c: c["t0"])
    assert first["pid"] == 20 and abs(first["t1"] - first["t0"] - 0.0012) < 1e-9, first
    assert abs(first["t3"] - first["t2"] - 0.00119) < 1e-9, first
    # The task ran again at its next switch in after the completion, and
    # issued its next command 0.05 ms later.
    assert abs(first["t4"] - 1.003100) < 1e-9 and abs(first["next"] - 1.003150) < 1e-9, first
    assert second["next"] is None and second["t4"] is None, second


def test_cpu_use_and_output():
    path = write(LINES)
    try:
        events = trace_report.parse(path)
        use = trace_report.cpu_use(events, 1.000100, 1.005300)
        out = subprocess.run([sys.executable, REPORT, path], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.unlink(path)
    ms = {k: round(v * 1e3, 3) for k, v in use.items()}
    # From the first switch on: each stretch to the task (or its work
    # function) that ran it, the last one cut at the window's end.
    assert ms == {"idle": 2.8, "nvmet_tcp_io_work": 0.2, "nvme_tcp_io_work": 1.4,
                  "bash": 0.5, "async_run_entry_fn": 0.1}, ms
    assert "2 admin commands over 5.2 ms" in out, out
    assert "round trip" in out and "idle 2.8" in out, out


def test_usage_and_empty():
    p = subprocess.run([sys.executable, REPORT], capture_output=True, text=True)
    assert p.returncode != 0 and "TRACE" in p.stderr, p
    path = write(["# tracer: nop"])
    try:
        p = subprocess.run([sys.executable, REPORT, path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    assert p.returncode == 1 and "no admin command" in p.stdout, p
    p = subprocess.run([sys.executable, REPORT, "/nonexistent/x.trace"], capture_output=True,
                       text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p
    assert "/nonexistent/x.trace" in p.stderr and "Traceback" not in p.stderr, p


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[1:]))
