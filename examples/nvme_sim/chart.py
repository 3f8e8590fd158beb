#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Chart of a sweep (sweep.py's JSON): scan time against the swept
parameter, one line per mode, the testbed's measurements marked.

    chart.py sweep.json sweep.svg

Each line is an SVG group with id "series-MODE", each set of measurement
markers "seed-MODE", so that the file can be checked without a browser.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

COLORS = {"sync": "tab:gray", "async": "tab:red", "chain": "tab:blue", "nsid": "tab:green"}
LABELS = {"sync": "synchronous", "async": "fully async", "chain": "async + chain",
          "nsid": "fully async, named by NSID"}


def render(doc, path):
    plt.rcParams["svg.hashsalt"] = "nvme_sim"  # the same series, the same file
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = doc["values"]
    for mode, ys in doc["series"].items():
        ax.plot(xs, ys, marker="o", markersize=3, color=COLORS.get(mode), gid=f"series-{mode}",
                label=LABELS.get(mode, mode))
    for mode in doc["series"]:
        pts = [p for p in doc["seed"] if p["mode"] == mode]
        if pts:
            ax.plot([p["value"] for p in pts], [p["ms"] for p in pts], linestyle="none",
                    marker="X", markersize=10, markeredgecolor="black",
                    color=COLORS.get(mode), gid=f"seed-{mode}",
                    label=f"measured ({LABELS.get(mode, mode)})")
    positive = all(x > 0 for x in xs)
    if positive and max(xs) / min(xs) >= 50:
        ax.set_xscale("log")
    ys_all = [y for ys in doc["series"].values() for y in ys] + [p["ms"] for p in doc["seed"]]
    if ys_all and min(ys_all) > 0 and max(ys_all) / min(ys_all) >= 50:
        ax.set_yscale("log")
    unit = f" ({doc['unit']})" if doc["unit"] else ""
    ax.set_xlabel(doc["label"] + unit)
    ax.set_ylabel("scan time, model time (ms)")
    ax.set_title(f"nvme_sim: namespace scan against {doc['label']} (profile {doc['profile']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format=os.path.splitext(path)[1][1:], metadata={"Date": None})
    plt.close(fig)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py SWEEP.json CHART.svg|CHART.png")
    with open(sys.argv[1]) as f:
        render(json.load(f), sys.argv[2])


if __name__ == "__main__":
    main()
