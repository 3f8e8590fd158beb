#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nvme_sim's sweep: the series match single runs, the CSV and JSON agree,
and the chart is a valid SVG with one line per mode and the measurements.

Usage: test_nvme_sim_sweep.py NVME_SIM [CASE...]
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SIM = os.path.abspath(sys.argv[1])
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "nvme_sim")
SWEEP = os.path.join(HERE, "sweep.py")
CHART = os.path.join(HERE, "chart.py")
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


def test_chart_styles_and_title():
    """Each mode its own line style and marker, so that async and nsid, which
    coincide, both show; a title that names the swept parameter."""
    sys.path.insert(0, HERE)
    import chart
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rtt")
        sweep(out, "--param", "rtt", "--values", "200us,10ms,150ms", "--no-chart")
        with open(out + ".json") as f:
            doc = json.load(f)
    assert doc["series"]["async"] == doc["series"]["nsid"]  # the lines coincide
    fig = chart.figure(doc)
    ax = fig.axes[0]
    lines = {ln.get_gid()[len("series-"):]: ln for ln in ax.get_lines()
             if (ln.get_gid() or "").startswith("series-")}
    assert sorted(lines) == sorted(MODES), sorted(lines)
    styles = {m: (ln.get_linestyle(), ln.get_marker()) for m, ln in lines.items()}
    assert len({s for s, _ in styles.values()}) == len(MODES), styles
    assert len({mk for _, mk in styles.values()}) == len(MODES), styles
    title = ax.get_title()
    assert "admin command round trip" in title and "--rtt" in title, title
    assert "200us" in title and "150ms" in title and "tcp-0.2ms" in title, title
    # The SVG draws async and nsid apart: other dashes.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rtt.svg")
        chart.render(doc, path)
        root = ET.parse(path).getroot()
    groups = {g.get("id"): g for g in root.iter(SVG + "g") if g.get("id")}
    dashes = {m: next(groups[f"series-{m}"].iter(SVG + "path")).get("style") for m in MODES}
    assert len(set(dashes.values())) == len(MODES), dashes


def hide_matplotlib(d):
    """An environment in which 'import matplotlib' fails."""
    with open(os.path.join(d, "matplotlib.py"), "w") as f:
        f.write("raise ImportError('No module named matplotlib (hidden by the test)')\n")
    return dict(os.environ, PYTHONPATH=d)


def test_no_matplotlib_one_line():
    with tempfile.TemporaryDirectory() as d:
        env = hide_matplotlib(d)
        out = os.path.join(d, "x")
        p = subprocess.run([sys.executable, SWEEP, "--nvme-sim", SIM, "--out", out, "--param",
                            "rtt", "--values", "1ms"], capture_output=True, text=True, env=env,
                           timeout=60)
        lines = p.stderr.splitlines()
        assert p.returncode != 0 and len(lines) == 1, (p.returncode, p.stderr)
        assert lines[0].startswith("sweep.py: ") and "python3-matplotlib" in lines[0], lines
        assert "/usr/bin/python3" in lines[0] and "--no-chart" in lines[0], lines
        # Said before the sweep, not after it: nothing written.
        assert sorted(os.listdir(d)) == ["matplotlib.py"], os.listdir(d)
        p = subprocess.run([sys.executable, CHART, out + ".json", out + ".svg"],
                           capture_output=True, text=True, env=env, timeout=60)
        lines = p.stderr.splitlines()
        assert p.returncode != 0 and len(lines) == 1, (p.returncode, p.stderr)
        assert lines[0].startswith("chart.py: ") and "python3-matplotlib" in lines[0], lines
        # CSV and JSON need no matplotlib.
        p = subprocess.run([sys.executable, SWEEP, "--nvme-sim", SIM, "--out", out, "--param",
                            "rtt", "--values", "1ms", "--no-chart"], capture_output=True,
                           text=True, env=env, timeout=60)
        assert p.returncode == 0 and os.path.exists(out + ".json"), p.stderr


def test_finds_nvme_sim_from_any_cwd():
    """Without --nvme-sim, the build beside the script, wherever it is run from."""
    for build in ("build-main", "build"):
        with tempfile.TemporaryDirectory() as d:
            tree = os.path.join(d, "tree", "examples", "nvme_sim")
            os.makedirs(tree)
            for f in (SWEEP, CHART):
                shutil.copy(f, tree)
            exe = os.path.join(d, "tree", build, "examples", "nvme_sim")
            os.makedirs(exe)
            os.symlink(SIM, os.path.join(exe, "nvme_sim"))
            elsewhere = os.path.join(d, "elsewhere")
            os.mkdir(elsewhere)
            p = subprocess.run([sys.executable, os.path.join(tree, "sweep.py"), "--param", "rtt",
                                "--values", "1ms", "--modes", "chain", "--no-chart"],
                               capture_output=True, text=True, cwd=elsewhere, timeout=60)
            assert p.returncode == 0, (build, p.stderr)
            with open(os.path.join(elsewhere, "sweep.json")) as f:
                doc = json.load(f)
            assert doc["series"]["chain"] == [single("--rtt", "1ms", "--mode", "chain")["chain"]]


if __name__ == "__main__":
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        # Not a skip: the chart is what this test checks.
        print("python3-matplotlib is not installed (scripts/deps.sh test installs it)")
        sys.exit(1)
    sys.exit(run_tests(globals(), sys.argv[2:]))
