#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kernel/bench/run's arguments and kernel/bench/report.py's files, without a
kernel: a SCSI-only measurement writes only the SCSI files, added kernel
parameters are named in the table, and a request to measure nothing is
refused in one line.

Usage: test_kernel_bench_report.py [CASE...]
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BENCH = os.path.join(ROOT, "kernel", "bench")


def scsi_row(delay_us, mode, ms):
    scans = [{"scan": i, "us": ms * 1000, "in_order": True, "warmup": i == 0}
             for i in range(3)]
    return {"hosts": 4, "luns": 32, "delay_us": delay_us, "mode": mode, "errors": [],
            "reports": [], "median_ms": ms, "min_ms": ms, "max_ms": ms, "warmup_ms": ms,
            "reps": 2, "in_order": 2, "scans": scans}


def report(doc, out):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f)
    p = subprocess.run([sys.executable, os.path.join(BENCH, "report.py"), out],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_scsi_only():
    doc = {"date": "2026-12-06", "host": "test", "cpu": "test CPU", "nproc": 2,
           "namespaces": [], "reps": 2, "append": ["sysctl.net.ipv4.tcp_autocorking=0"],
           "nvme": [], "scsi": [scsi_row(0, "sync", 120.0), scsi_row(0, "async", 40.0)]}
    with tempfile.TemporaryDirectory() as out:
        text = report(doc, out)
        assert sorted(os.listdir(out)) == ["results.json", "scsi.csv", "table.md"], \
            os.listdir(out)
        assert "added to every boot: sysctl.net.ipv4.tcp_autocorking=0" in text, text
        assert "| 4 x 32 | 0 | async | 40.0 | 40.0-40.0 | 40.0 | in order 2/2 |" in text, text
        with open(os.path.join(out, "scsi.csv")) as f:
            assert len(f.read().splitlines()) == 1 + 2 * 3


def test_nothing_to_measure():
    p = subprocess.run([sys.executable, os.path.join(BENCH, "run"), "--no-nvme",
                        "--no-scsi"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.strip().splitlines()[-1] == \
        "run: error: --no-nvme with --no-scsi leaves nothing to measure", p.stderr


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[1:]))
