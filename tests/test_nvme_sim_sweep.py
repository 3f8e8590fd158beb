#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nvme_sim's sweep: the series match single runs, the CSV and JSON agree,
and the chart is a valid SVG with one line per mode and the measurements.

Usage: test_nvme_sim_sweep.py NVME_SIM [CASE...]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SIM = sys.argv[1]
SWEEP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "nvme_sim",
                     "sweep.py")
MODES = ["sync", "async", "chain", "nsid"]
SVG = "{http://www.w3.org/2000/svg}"


def sweep(out, *args, expect=0):
    p = subprocess.run([sys.executable, SWEEP, "--nvme-sim", SIM, "--out", out, *args],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == expect, (args, p.returncode, p.stderr)
    return p


def single(*args):
    p = subprocess.run([SIM, "--format", "json", *args], capture_output=True, text=True,
                       check=True)
    return {r["mode"]: r["elapsed_ms"] for r in json.loads(p.stdout)["runs"]}


def test_rtt_sweep_and_chart():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rtt")
        sweep(out, "--param", "rtt", "--values", "200us,10ms,150ms")
        with open(out + ".json") as f:
            doc = json.load(f)
        assert doc["param"] == "rtt" and doc["values"] == [0.2, 10.0, 150.0]
        assert list(doc["series"]) == MODES
        for i, v in enumerate(("200us", "10ms", "150ms")):
            want = single("--rtt", v)
            for m in MODES:
                assert doc["series"][m][i] == want[m], (v, m)
        # The seed's two testbed round trips, three measured modes each.
        seeds = {(p["value"], p["mode"]): p["ms"] for p in doc["seed"]}
        assert seeds[(0.2, "chain")] == 191 and seeds[(150.0, "sync")] == 32375, seeds
        assert len(seeds) == 6
        with open(out + ".csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 3 * len(MODES)
        for r in rows:
            i = doc["values"].index(float(r["value"]))
            assert abs(float(r["elapsed_ms"]) - doc["series"][r["mode"]][i]) < 0.001
        root = ET.parse(out + ".svg").getroot()
        assert root.tag == SVG + "svg"
        groups = {g.get("id"): g for g in root.iter(SVG + "g") if g.get("id")}
        for m in MODES:
            line = groups.get(f"series-{m}")
            assert line is not None, (m, sorted(groups))
            paths = list(line.iter(SVG + "path"))
            assert paths and paths[0].get("d").count("L") >= 2, m  # three points
        for m in ("sync", "async", "chain"):
            assert f"seed-{m}" in groups, (m, sorted(groups))
        assert "seed-nsid" not in groups


def test_other_params_png():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cpu")
        sweep(out, "--param", "ns-cpu", "--values", "1ms,3.05ms", "--modes", "async,chain",
              "--chart-format", "png")
        with open(out + ".png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        with open(out + ".json") as f:
            doc = json.load(f)
        assert doc["values"] == [1.0, 3.05] and list(doc["series"]) == ["async", "chain"]
        # The profile's own CPU cost is the seed's point; the chain gains with less CPU.
        assert {p["value"] for p in doc["seed"]} == {3.05}
        assert doc["series"]["chain"][1] == single("--mode", "chain")["chain"]
        out = os.path.join(d, "ns")
        sweep(out, "--param", "namespaces", "--values", "10,100", "--no-chart")
        assert not os.path.exists(out + ".svg") and os.path.exists(out + ".csv")


def test_bad_input():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "x")
        for args, culprit in ((["--param", "rtt", "--values", "1ms,,2ms"], "empty item"),
                              (["--param", "rtt", "--values", "1ms", "--modes", "fast"], "'fast'"),
                              (["--param", "rtt", "--values", "150"], "'150'"),
                              (["--param", "speed", "--values", "1"], "speed")):
            p = sweep(out, *args, expect=2)
            assert culprit in p.stderr, (args, p.stderr)
        assert os.listdir(d) == []


if __name__ == "__main__":
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        # Not a skip: the chart is what this test checks.
        print("python3-matplotlib is not installed (scripts/deps.sh test installs it)")
        sys.exit(1)
    sys.exit(run_tests(globals(), sys.argv[2:]))
