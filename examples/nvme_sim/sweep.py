#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run nvme_sim's scan modes over a range of one parameter and write the
series as CSV and JSON, and a chart of them (chart.py).

    sweep.py --param rtt --values 200us,1ms,10ms,50ms,150ms --out rtt
    sweep.py --param namespaces --values 10,100,1000,10000 --profile tcp-150ms
    sweep.py --param qdepth --values 1,4,13,32
    sweep.py --param ns-cpu --values 0.5ms,1ms,3.05ms,6ms

writes OUT.csv (param,value,mode,elapsed_ms), OUT.json and OUT.svg (or
--chart-format png).  Every other parameter is the profile's; the profile's
testbed measurements that fall on the swept axis are carried along (the
seed's: both of its round trips on an rtt sweep, its default value on the
others) and marked on the chart.  Figures are model time, exact: a sweep
gives the same series on any host.

The chart needs Debian's python3 with python3-matplotlib (apt-get install
python3-matplotlib): run sweep.py as it is (its first line names
/usr/bin/python3) or as /usr/bin/python3 sweep.py; another interpreter (a
virtualenv, pyenv) may lack matplotlib, and then sweep.py says so in one
line before sweeping.  --no-chart needs no matplotlib.

nvme_sim is looked for beside this script, in the repository's build
directories (build-main/, which scripts/main.sh makes, then build/), then
on PATH, wherever sweep.py is run from; --nvme-sim names another.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILDS = ("build-main", "build")
MODES = ("sync", "async", "chain", "nsid")
# The swept parameter: nvme_sim option, axis label, unit, value from a run's JSON.
PARAMS = {
    "rtt": ("--rtt", "admin command round trip", "ms", lambda d: d["params"]["rtt_ms"]),
    "namespaces": ("--namespaces", "namespaces", "", lambda d: d["runs"][0]["namespaces"]),
    "qdepth": ("--qdepth", "admin commands in flight", "", lambda d: d["params"]["qdepth"]),
    "ns-cpu": ("--ns-cpu", "host CPU per new namespace", "ms",
               lambda d: d["params"]["ns_cpu_ms"]),
    "cpus": ("--cpus", "host CPUs", "", lambda d: d["params"]["cpus"]),
}
# Profiles of one testbed: only the round trip differs between them.
TESTBEDS = {
    "tcp-0.2ms": ("tcp-0.2ms", "tcp-150ms"), "tcp-150ms": ("tcp-0.2ms", "tcp-150ms"),
    "rfc-0.2ms": ("rfc-0.2ms", "rfc-100ms"), "rfc-100ms": ("rfc-0.2ms", "rfc-100ms"),
}


def find_nvme_sim():
    """The nvme_sim of this script's repository's build, else PATH's; None if neither."""
    for build in BUILDS:
        path = os.path.join(ROOT, build, "examples", "nvme_sim", "nvme_sim")
        if os.access(path, os.X_OK):
            return path
    return shutil.which("nvme_sim")


def nvme_sim(sim, *args):
    p = subprocess.run([sim, "--format", "json", *args], capture_output=True, text=True)
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()
        print(f"sweep.py: nvme_sim {' '.join(args)}: {msg[-1] if msg else p.returncode}",
              file=sys.stderr)
        sys.exit(2)
    return json.loads(p.stdout)


def seed_points(sim, profile, param, modes):
    """The testbed's measurements at their place on the swept axis."""
    value_of = PARAMS[param][3]
    points = []
    profiles = TESTBEDS[profile] if param == "rtt" else (profile,)
    for prof in profiles:
        d = nvme_sim(sim, "--profile", prof, *sum((["--mode", m] for m in modes), []))
        for r in d["runs"]:
            if "seed_ms" in r:
                points.append({"profile": prof, "value": value_of(d), "mode": r["mode"],
                               "ms": r["seed_ms"]})
    return points


def sweep(sim, param, values, profile, modes, extra):
    option, label, unit, value_of = PARAMS[param]
    series = {m: [] for m in modes}
    xs = []
    for v in values:
        d = nvme_sim(sim, "--profile", profile, option, v,
                     *sum((["--mode", m] for m in modes), []), *extra)
        xs.append(value_of(d))
        got = {r["mode"]: r["elapsed_ms"] for r in d["runs"]}
        for m in modes:
            series[m].append(got[m])
    return {"param": param, "label": label, "unit": unit, "profile": profile,
            "extra_args": list(extra), "values_as_given": list(values), "values": xs,
            "series": series, "seed": seed_points(sim, profile, param, modes)}


def write_csv(path, doc):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["param", "value", "mode", "elapsed_ms"])
        for m, ys in doc["series"].items():
            for x, y in zip(doc["values"], ys):
                w.writerow([doc["param"], x, m, f"{y:.3f}"])
    os.replace(path + ".tmp", path)


def write_json(path, doc):
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    paragraphs = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=paragraphs[0], epilog="\n\n".join(paragraphs[-2:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvme-sim",
                    help="the nvme_sim binary (default: the repository's build-main/ or "
                         "build/ beside this script, then PATH's)")
    ap.add_argument("--param", required=True, choices=sorted(PARAMS))
    ap.add_argument("--values", required=True,
                    help="comma-separated values, as nvme_sim takes them (durations "
                         "need a unit)")
    ap.add_argument("--profile", default="tcp-0.2ms", choices=sorted(TESTBEDS))
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated modes (default: all four)")
    ap.add_argument("--out", default="sweep", help="output prefix (default: sweep)")
    ap.add_argument("--chart-format", default="svg", choices=("svg", "png"))
    ap.add_argument("--no-chart", action="store_true", help="CSV and JSON only")
    ap.add_argument("extra", nargs="*", help="further nvme_sim options, after --")
    a = ap.parse_args()

    values = a.values.split(",")
    if any(not v for v in values):
        ap.error(f"empty item in --values '{a.values}'")
    modes = a.modes.split(",")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        ap.error(f"unknown mode '{bad[0] if bad else ''}' in --modes (sync, async, chain, nsid)")
    if a.nvme_sim is None:
        a.nvme_sim = find_nvme_sim()
        if a.nvme_sim is None:
            ap.error(f"no nvme_sim in {' or '.join(os.path.join(ROOT, b) for b in BUILDS)} "
                     "nor on PATH (run scripts/main.sh, or give --nvme-sim)")
    elif not os.access(a.nvme_sim, os.X_OK):
        ap.error(f"no nvme_sim at '{a.nvme_sim}' (run scripts/main.sh, or give --nvme-sim)")
    chart = None
    if not a.no_chart:
        sys.path.insert(0, HERE)
        import chart  # noqa: E402 - matplotlib only when a chart is asked for
        chart.pyplot("sweep.py")  # before the sweep: one line if it is missing

    doc = sweep(a.nvme_sim, a.param, values, a.profile, modes, a.extra)
    write_csv(a.out + ".csv", doc)
    write_json(a.out + ".json", doc)
    written = [a.out + ".csv", a.out + ".json"]
    if chart:
        chart.render(doc, a.out + "." + a.chart_format, "sweep.py")
        written.append(a.out + "." + a.chart_format)
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()
