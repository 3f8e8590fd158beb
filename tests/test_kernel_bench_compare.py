#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kernel/bench/compare without a kernel: on a made-up measurement, its
prediction is nvme_sim's at each point's ping round trip, its error and
order verdicts follow from the numbers, two measurements merge, and bad
input gets one line.

Usage: test_kernel_bench_compare.py NVME_SIM [CASE...]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SIM = os.path.abspath(sys.argv[1])
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COMPARE = os.path.join(ROOT, "kernel", "bench", "compare")
MODES = ("sync", "async", "chain")


def nvme_sim(n, rtt_ms):
    p = subprocess.run([SIM, "--profile", "uml-loopback", "--namespaces", str(n), "--rtt",
                        f"{rtt_ms:.6f}ms", "--format", "json", "--mode", "sync", "--mode",
                        "async", "--mode", "chain"], capture_output=True, text=True, check=True)
    return {r["mode"]: r["elapsed_ms"] for r in json.loads(p.stdout)["runs"]}


def row(n, delay, mode, ms, ping, reps=2, spread=0.1):
    return {"namespaces": n, "delay": delay, "mode": mode, "multipath": True,
            "ping_ms": [ping, ping, ping], "median_ms": ms, "min_ms": ms * (1 - spread),
            "max_ms": ms * (1 + spread), "reps": reps, "in_order": reps, "errors": [],
            "reports": [], "scans": []}


def measurement(rows):
    return {"date": "2026-12-06", "host": "test", "cpu": "test CPU", "nproc": 2,
            "reps": 2, "nvme": rows, "scsi": []}


def compare(out, *inputs, expect=0):
    args = [COMPARE, "--results", out, "--nvme-sim", SIM]
    for i, doc in enumerate(inputs):
        path = os.path.join(out, f"in{i}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        args += ["--input", path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == expect, (p.returncode, p.stderr)
    return p


def test_prediction_and_verdicts():
    """Exact predictions at the ping round trip; a point 10% off is within
    15%, one 30% off is not; an order swapped against nvme_sim's is flagged."""
    pred = nvme_sim(20, 2.5)
    meas = {"sync": pred["sync"] * 1.10, "async": pred["async"] * 0.70,
            "chain": pred["chain"]}
    with tempfile.TemporaryDirectory() as out:
        compare(out, measurement([row(20, "1ms", m, meas[m], 2.5) for m in MODES]))
        res = json.load(open(os.path.join(out, "compare.json")))
        pts = {p["mode"]: p for p in res["points"]}
        for m in MODES:
            assert abs(pts[m]["sim_ms"] - pred[m]) < 1e-6, (m, pts[m], pred)
            assert abs(pts[m]["rtt_ms"] - 2.5) < 1e-9
        assert pts["sync"]["within"] and pts["chain"]["within"]
        assert not pts["async"]["within"]
        assert abs(pts["async"]["error_pct"] - (1 / 0.7 - 1) * 100) < 0.01
        sim_order = sorted(MODES, key=lambda m: -pred[m])
        meas_order = sorted(MODES, key=lambda m: -meas[m])
        assert pts["sync"]["order_sim"] == sim_order
        assert pts["sync"]["same_order"] == (sim_order == meas_order)
        with open(os.path.join(out, "compare.csv")) as f:
            assert len(list(csv.DictReader(f))) == 3
        md = open(os.path.join(out, "compare.md")).read()
        assert "Within 15 %: 2/3 points" in md, md
        assert os.path.getsize(os.path.join(out, "compare.svg")) > 1000


def test_swapped_order_flagged():
    """The measured async slower than the chain where nvme_sim has it faster
    (or the other way round), their scans apart: the point's order differs,
    and says so.  With scans that overlap, the measurement does not order
    the two: the order differs only within the spread."""
    pred = nvme_sim(500, 2.5)
    meas = dict(pred)
    meas["async"], meas["chain"] = pred["chain"], pred["async"]
    assert abs(meas["async"] / meas["chain"] - 1) > 0.1, meas
    for spread, resolved in ((0.01, False), (0.2, True)):
        with tempfile.TemporaryDirectory() as out:
            compare(out, measurement([row(500, "1ms", m, meas[m], 2.5, spread=spread)
                                      for m in MODES]))
            pts = json.load(open(os.path.join(out, "compare.json")))["points"]
            assert not any(p["same_order"] for p in pts), pts
            assert all(p["same_resolved_order"] == resolved for p in pts), pts
            md = open(os.path.join(out, "compare.md")).read()
            assert "same order: 0/1;" in md, md
            if resolved:
                assert "differs within the spread" in md and "**differs**" not in md, md
                assert "resolves (modes whose scans do not overlap): 1/1" in md, md
            else:
                assert "**differs**" in md and "**no**" in md, md
                assert "resolves (modes whose scans do not overlap): 0/1" in md, md


def test_no_delay_no_netem_cost():
    """At a delay of 0 there is no netem qdisc: the prediction is nvme_sim's
    with --net-cpu 0s; at any other delay, the profile's."""
    with tempfile.TemporaryDirectory() as out:
        rows = [row(100, d, m, 10.0, 0.05) for d in ("0", "0.1ms") for m in MODES]
        compare(out, measurement(rows))
        pts = json.load(open(os.path.join(out, "compare.json")))["points"]
    for d, extra in (("0", ["--net-cpu", "0s"]), ("0.1ms", [])):
        p = subprocess.run([SIM, "--profile", "uml-loopback", "--namespaces", "100", "--rtt",
                            "0.050000ms", "--format", "json", "--mode", "async", *extra],
                           capture_output=True, text=True, check=True)
        want = json.loads(p.stdout)["runs"][0]["elapsed_ms"]
        got = [x["sim_ms"] for x in pts if x["delay"] == d and x["mode"] == "async"]
        assert got == [want], (d, got, want)
    assert len({x["sim_ms"] for x in pts if x["mode"] == "async"}) == 2, pts


def test_merge_takes_more_scans():
    """Of a point measured twice, the measurement with more scans counts."""
    pred = nvme_sim(20, 0.4)
    few = measurement([row(20, "0.1ms", m, pred[m] * 2, 0.4, reps=1) for m in MODES])
    many = measurement([row(20, "0.1ms", m, pred[m], 0.4, reps=5) for m in MODES])
    many["date"] = "2026-12-07"
    with tempfile.TemporaryDirectory() as out:
        compare(out, few, many)
        pts = json.load(open(os.path.join(out, "compare.json")))["points"]
        assert len(pts) == 3 and all(p["reps"] == 5 and p["within"] for p in pts), pts
        # Both measurements' dates are named, the host once.
        head = open(os.path.join(out, "compare.md")).read().split("\n", 1)[0]
        assert "on test CPU, test, 2026-12-06 and 2026-12-07:" in head, head
        compare(out, many, few)
        pts = json.load(open(os.path.join(out, "compare.json")))["points"]
        assert all(p["reps"] == 5 for p in pts), pts


def test_ping_median():
    """A point's round trip is the median of its boots' average pings: one
    boot's stray ping does not move it."""
    pings = {"sync": 0.34, "async": 0.32, "chain": 1.36}
    pred = nvme_sim(100, 0.34)
    with tempfile.TemporaryDirectory() as out:
        compare(out, measurement([row(100, "0.1ms", m, pred[m], pings[m]) for m in MODES]))
        pts = json.load(open(os.path.join(out, "compare.json")))["points"]
        assert all(abs(p["rtt_ms"] - 0.34) < 1e-9 for p in pts), pts
        assert all(abs(p["sim_ms"] - pred[p["mode"]]) < 1e-6 for p in pts), (pts, pred)


def test_summary_and_partial():
    """compare.md opens with one line per (N, delay) that carries the three
    modes' figures and the verdicts; a run cut short says so."""
    pred = nvme_sim(20, 2.5)
    meas = {"sync": pred["sync"], "async": pred["async"] * 0.5, "chain": pred["chain"]}
    doc = measurement([row(20, "1ms", m, meas[m], 2.5) for m in MODES])
    doc["partial"] = True
    with tempfile.TemporaryDirectory() as out:
        compare(out, doc)
        md = open(os.path.join(out, "compare.md")).read()
        assert md.startswith("A run cut short: "), md
        line = [ln for ln in md.splitlines() if ln.startswith("| 20 | 1ms (2.50 ms) |")]
        assert len(line) == 1, md
        cells = [c.strip() for c in line[0].split("|")[1:-1]]
        fmt = lambda ms: f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}"  # noqa: E731
        assert cells[2] == " / ".join(fmt(meas[m]) for m in MODES), cells
        assert cells[3] == " / ".join(fmt(pred[m]) for m in MODES), cells
        assert cells[4] == "+100 % (async) **miss**", cells


def test_committed_sweep_is_todays():
    """kernel/bench/results/sweep/compare.json is what today's nvme_sim
    predicts from the committed measurements (the sweep, and its low-delay
    points again with more scans), and README quotes its summary."""
    results = os.path.join(ROOT, "kernel", "bench", "results")
    sweep = os.path.join(results, "sweep")
    old = json.load(open(os.path.join(sweep, "compare.json")))
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([COMPARE, "--results", out, "--nvme-sim", SIM,
                            "--input", os.path.join(sweep, "results.json"),
                            "--input", os.path.join(results, "sweep-cpu", "results.json")],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        new = json.load(open(os.path.join(out, "compare.json")))
        md = open(os.path.join(out, "compare.md")).read()
    for a, b in zip(old["points"], new["points"], strict=True):
        assert (a["namespaces"], a["delay"], a["mode"]) == \
            (b["namespaces"], b["delay"], b["mode"])
        assert abs(a["sim_ms"] - b["sim_ms"]) <= 1e-6 * max(1.0, b["sim_ms"]), (a, b)
    summary = md.split("\n\n")[1]
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert summary in readme, "README's comparison table is not compare.md's summary"


def test_bad_input():
    with tempfile.TemporaryDirectory() as out:
        p = compare(out, expect=1)  # no results.json in --results
        assert len(p.stderr.strip().splitlines()) == 1 and "cannot read" in p.stderr
        p = compare(out, measurement([]), expect=1)
        assert "no NVMe scans" in p.stderr, p.stderr


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
