#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kernel/uml/scan.py's reading of a boot's console, without a kernel: each
scan's timing, names and order, and the --inflight samples that came
before its names (the admin queue is the first connection made: the lower
inode; 72 bytes per command), and the kernel parameters that ask for them
and for a trace.

Usage: test_kernel_uml_scan.py [CASE...]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "kernel", "uml"))
import scan  # noqa: E402


def test_inflight_samples():
    lines = [
        "cchain: ping 0.1 0.2 0.3",
        "cchain: inflight 10.01",                        # no connection yet
        "cchain: inflight 10.05 9001:1008 8999:72",       # admin 8999: 1, I/O: 14
        "[   10.2] nvme nvme0: cchain-bench: scan async 150000 us",
        "cchain: nvme scan 0 names nvme0n1:2 nvme0n2:1",
        "cchain: inflight 20.00 700:2016 701:0 702:144",  # admin 28, I/O 0 + 2
        "[   20.3] nvme nvme0: cchain-bench: scan async 90000 us",
        "cchain: nvme scan 1 names nvme0n1:1 nvme0n2:2",
        "[   30.3] nvme nvme0: cchain-bench: scan async 80000 us",
        "cchain: nvme scan 2 names nvme0n1:1 nvme0n2:2",
        "cchain: done",
    ]
    res = scan.parse(lines)
    s0, s1, s2 = res["nvme"]
    assert s0["inflight"] == [[10.01, 0, 0], [10.05, 1, 14]], s0
    assert not s0["in_order"] and s0["us"] == 150000 and s0["warmup"], s0
    assert s1["inflight"] == [[20.0, 28, 2]] and s1["in_order"] and s1["us"] == 90000, s1
    assert "inflight" not in s2, s2
    assert res["done"] and res["ping_ms"] == [0.1, 0.2, 0.3], res


def test_inflight_parameter():
    p = argparse.ArgumentParser()
    scan.options(p)
    assert not any(a.startswith("cchain_inflight=")
                   for a in scan.command_line("k", p.parse_args([])))
    cmd = scan.command_line("k", p.parse_args(["--inflight", "0.05"]))
    assert "cchain_inflight=0.05" in cmd, cmd
    # kernel/bench/run's own arguments have no --inflight: no sampler.
    ns = argparse.Namespace(**{k: v for k, v in vars(p.parse_args([])).items()
                               if k != "inflight"})
    assert not any(a.startswith("cchain_inflight=") for a in scan.command_line("k", ns))


def test_trace_parameters():
    """--trace-dir DIR asks init.sh for the events (the defaults, or
    --trace-events) and names DIR as an absolute host path; without it, or
    from kernel/bench/run's own arguments, nothing is traced."""
    p = argparse.ArgumentParser()
    scan.options(p)
    assert not any(a.startswith("cchain_trace") for a in scan.command_line("k", p.parse_args([])))
    cmd = scan.command_line("k", p.parse_args(["--trace-dir", "t"]))
    assert f"cchain_trace_dir={os.path.abspath('t')}" in cmd, cmd
    assert f"cchain_trace={scan.TRACE_EVENTS}" in cmd, cmd
    assert "nvme/nvme_setup_cmd" in scan.TRACE_EVENTS.split(","), scan.TRACE_EVENTS
    cmd = scan.command_line("k", p.parse_args(["--trace-dir", "/x", "--trace-events",
                                               "sched/sched_switch"]))
    assert "cchain_trace=sched/sched_switch" in cmd and "cchain_trace_dir=/x" in cmd, cmd
    ns = argparse.Namespace(**{k: v for k, v in vars(p.parse_args([])).items()
                               if not k.startswith("trace")})
    assert not any(a.startswith("cchain_trace") for a in scan.command_line("k", ns))


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[1:]))
